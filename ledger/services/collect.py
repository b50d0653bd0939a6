"""Money in through a channel, shared by payments and recharges: the channel call outside
any transaction, failover while nothing happened, `unknown` on a timeout, and the answer
applied by `payment_apply` (ARCHITECTURE: the payment, steps 3 and 4)."""

from dataclasses import dataclass, field
from datetime import datetime

from channels import gateway
from channels.base import ChannelError, ChannelPayment, ChannelTimeout, ChannelUnreachable, PaymentOrder
from channels.choices import ChannelState
from channels.services import Route
from ledger.choices import TransactionStatus
from ledger.models import Transaction
from ledger.services.channel_calls import channel_options, next_query_at, notify_url
from ledger.services.payment_apply import payment_apply, payment_fail
from ledger.services.splits import Split

__all__ = ["PaymentRequest", "Split", "channel_collect", "default_method"]


@dataclass(frozen=True)
class PaymentRequest:
    """What an app asks for when money comes in: a payment, or a recharge (no payer)."""

    out_trade_no: str | None
    amount_minor: int
    currency: str
    subject: str
    channel: str | None = None
    method: str | None = None
    payer_account_id: int | None = None
    capture: bool = True
    expire_seconds: int = 900
    metadata: dict = field(default_factory=dict)
    splits: tuple[Split, ...] = ()  # between merchants (an order's sub-orders): ledger.services.splits


def default_method(methods: frozenset[str]) -> str:
    """No method asked for: the most widely usable one the channel has."""
    for method in ("page", "wap", "native", "balance"):
        if method in methods:
            return method
    return sorted(methods)[0]


def channel_collect(
    *, txn: Transaction, routes: list[Route], request: PaymentRequest, now: datetime
) -> Transaction:
    """Ask the channels in turn until one takes the order; its answer is applied."""
    for attempt, candidate in enumerate(routes):
        if attempt:
            txn = _switch_channel(txn, candidate)
        try:
            result = _call_pay(txn, candidate, request)
        except ChannelUnreachable:
            if request.channel is None and attempt + 1 < len(routes):
                continue  # nothing happened there: fail over to the next channel (D6)
            return payment_fail(txn_id=txn.pk, reason="channel unreachable", now=now)
        except ChannelTimeout:
            return _mark_unknown(txn, now=now)
        except ChannelError as exc:
            return payment_fail(txn_id=txn.pk, reason=f"channel refused: {exc.code}", now=now)
        payment_apply(txn_id=txn.pk, result=result, now=now)
        return Transaction.objects.get(pk=txn.pk)
    raise AssertionError("unreachable: routes is never empty")


def _switch_channel(txn: Transaction, candidate: Route) -> Transaction:
    Transaction.objects.filter(pk=txn.pk, status=TransactionStatus.PENDING).update(
        channel=candidate.mc.channel, merchant_channel=candidate.mc
    )
    return Transaction.objects.get(pk=txn.pk)


def _call_pay(txn: Transaction, candidate: Route, request: PaymentRequest) -> ChannelPayment:
    order = PaymentOrder(
        serial=txn.serial,
        amount_minor=txn.amount_minor,
        currency=txn.currency,
        subject=request.subject,
        method=txn.method,
        capture=request.capture,
        notify_url=notify_url(candidate.mc.pk, candidate.mc.channel),
        expire_seconds=request.expire_seconds,
        options=channel_options(request.metadata, candidate.mc.channel),
    )
    return gateway.call(
        mc=candidate.mc,
        operation="pay",
        reference=txn.serial,
        fn=lambda: candidate.plugin.pay(mc=candidate.mc, order=order),
    )


def _mark_unknown(txn: Transaction, *, now: datetime) -> Transaction:
    """No answer: the channel may have taken the money. Ask it later; never pay again."""
    Transaction.objects.filter(pk=txn.pk, status=TransactionStatus.PENDING).update(
        channel_state=ChannelState.UNKNOWN, next_query_at=next_query_at(attempts=0, now=now)
    )
    return Transaction.objects.get(pk=txn.pk)
