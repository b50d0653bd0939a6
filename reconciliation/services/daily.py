"""The daily run (F3): each active merchant channel's statement of a day downloaded through
its plugin, imported and matched — the same path as an uploaded file, so running it again
adds nothing. A channel that cannot give its statement is reported, not retried here: the
next run (or `reconcile_run`) tries again."""

import io
import logging
from dataclasses import asdict, dataclass
from datetime import date, datetime

from channels import gateway, registry
from channels.base import ChannelError, ChannelTimeout, ChannelUnreachable
from channels.choices import MerchantChannelStatus
from channels.models import MerchantChannel
from paycenter.errors import PaycenterError
from reconciliation.services.imports import statement_import
from reconciliation.services.matching import batch_match

logger = logging.getLogger(__name__)
# The channels whose plugins download a statement, and the parser of each.
STATEMENT_FORMATS = {"sandbox": "sandbox", "alipay": "alipay", "wechatpay": "wechatpay"}


@dataclass(frozen=True)
class RunResult:
    merchant_channel_id: int
    channel: str
    batch_id: int | None = None
    state: str = ""
    error: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


def reconcile_run(*, day: date, now: datetime) -> list[RunResult]:
    channels = MerchantChannel.objects.filter(
        status=MerchantChannelStatus.ACTIVE, channel__in=list(STATEMENT_FORMATS)
    ).order_by("id")
    return [_one(mc, day=day, now=now) for mc in channels]


def _one(mc: MerchantChannel, *, day: date, now: datetime) -> RunResult:
    plugin = registry.plugin_for(mc.channel)
    try:
        data = gateway.call(
            mc=mc,
            operation="statement",
            reference=f"{day:%Y-%m-%d}",
            fn=lambda: plugin.download_statement(mc=mc, day=day),
        )
        batch = statement_import(
            merchant_channel_id=mc.pk,
            format=STATEMENT_FORMATS[mc.channel],
            day=day,
            file=io.BytesIO(data),
            now=now,
        )
        batch = batch_match(batch_id=batch.pk, now=now)
    except (ChannelError, ChannelTimeout, ChannelUnreachable, PaycenterError) as exc:
        logger.warning("reconcile_run: %s statement of %s: %s", mc, day, exc)
        return RunResult(merchant_channel_id=mc.pk, channel=mc.channel, error=str(exc) or type(exc).__name__)
    return RunResult(merchant_channel_id=mc.pk, channel=mc.channel, batch_id=batch.pk, state=batch.state)
