"""The plugin interface of the channel gateway and the normalized values it speaks.

A plugin turns one platform's protocol into these values and back. It knows nothing of
the ledger: what a result means for money is ledger's business (docs/design.md).
"""

from dataclasses import dataclass, field
from datetime import date, datetime

from channels.choices import ChannelState
from channels.models import MerchantChannel


class ChannelError(Exception):
    """The channel answered and refused (a business error); safe to report, not to retry."""

    def __init__(self, code: str, message: str = "") -> None:
        self.code, self.message = code, message or code
        super().__init__(f"{code}: {message}")


class ChannelUnreachable(Exception):
    """The request never reached the channel (connection refused, DNS): nothing happened
    there, so another channel may be tried."""


class ChannelTimeout(Exception):
    """The request may have reached the channel but no answer came: the outcome is
    unknown until a query tells."""


class VerificationFailed(Exception):
    """A notification whose signature or content does not verify."""


@dataclass(frozen=True)
class PaymentOrder:
    serial: str
    amount_minor: int
    currency: str
    subject: str
    method: str
    capture: bool
    notify_url: str
    expire_seconds: int
    return_url: str = ""
    options: dict = field(default_factory=dict)  # per-channel extras, e.g. metadata.sandbox


@dataclass(frozen=True)
class ChannelPayment:
    state: ChannelState
    channel_trade_no: str | None = None
    paid_minor: int | None = None
    currency: str | None = None
    action: dict = field(default_factory=lambda: {"type": "none"})
    paid_at: datetime | None = None


@dataclass(frozen=True)
class ChannelRefund:
    state: ChannelState
    refund_no: str | None = None
    amount_minor: int | None = None


@dataclass(frozen=True)
class ChannelEvent:
    """A verified notification, normalized."""

    notify_id: str
    event: str  # payment.succeeded, payment.authorized, payment.failed, refund.succeeded
    reference: str  # our serial (the payment's)
    channel_trade_no: str
    state: ChannelState
    paid_minor: int | None
    currency: str
    refund_reference: str | None = None
    refund_amount_minor: int | None = None


@dataclass(frozen=True)
class Reply:
    """What the platform expects back from a notification endpoint."""

    status: int
    body: str
    content_type: str = "text/plain"


ORDINARY, SERVICE_PROVIDER = "ordinary", "service_provider"


@dataclass(frozen=True)
class Parameter:
    """One setting a merchant channel needs, as the plugin declares it: the admin's form and
    `channel_activate --params` are built from these. A `secret` one (a private key, an API
    key) is stored encrypted in `MerchantChannel.secrets` and never shown back; the others
    in `params`."""

    name: str  # the platform's own name for it (app_id, mchid, apiv3_key, …)
    label: str
    kind: str = "text"  # text | url | pem_private | pem_public | secret | choice
    required: bool = True
    choices: tuple[str, ...] = ()
    modes: frozenset[str] = frozenset({ORDINARY, SERVICE_PROVIDER})  # where it applies
    help: str = ""

    @property
    def secret(self) -> bool:
        return self.kind in {"pem_private", "secret"}


class ChannelPlugin:
    """One platform. Subclasses implement what their platform supports; the rest raise."""

    name: str = ""
    methods: frozenset[str] = frozenset()
    internal: bool = False  # True for the balance channel: no third party involved
    parameters: tuple[Parameter, ...] = ()  # what a merchant channel of it is set up with

    def activate(self, *, mc: MerchantChannel) -> tuple[dict, dict]:
        """Set up a merchant with the platform; returns (params, secrets) to store. `mc.params`
        and `mc.secrets` hold what the operator gave (declared by `parameters`)."""
        return dict(mc.params), {}

    def pay(self, *, mc: MerchantChannel, order: PaymentOrder) -> ChannelPayment:
        raise NotImplementedError

    def query(self, *, mc: MerchantChannel, serial: str, channel_trade_no: str | None) -> ChannelPayment:
        raise NotImplementedError

    def close(self, *, mc: MerchantChannel, serial: str, channel_trade_no: str | None) -> ChannelPayment:
        raise NotImplementedError

    def capture(
        self, *, mc: MerchantChannel, channel_trade_no: str, amount_minor: int, currency: str
    ) -> ChannelPayment:
        raise NotImplementedError

    def void(self, *, mc: MerchantChannel, channel_trade_no: str) -> ChannelPayment:
        raise NotImplementedError

    def refund(
        self,
        *,
        mc: MerchantChannel,
        channel_trade_no: str,
        refund_serial: str,
        amount_minor: int,
        currency: str,
        options: dict,
    ) -> ChannelRefund:
        raise NotImplementedError

    def refund_query(
        self, *, mc: MerchantChannel, channel_trade_no: str, refund_serial: str
    ) -> ChannelRefund:
        raise NotImplementedError

    def parse_notification(self, *, mc: MerchantChannel, headers: dict, body: bytes) -> ChannelEvent:
        raise NotImplementedError

    def reply(self, *, ok: bool) -> Reply:
        return Reply(status=200 if ok else 400, body="success" if ok else "fail")

    def download_statement(self, *, mc: MerchantChannel, day: date) -> bytes:
        raise NotImplementedError
