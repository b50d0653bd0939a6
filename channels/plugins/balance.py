"""Paying from a Paycenter wallet: no third party. A payment captured at once is debited by
the ledger in one local transaction without calling this plugin; a pre-authorization
freezes the payer's funds first and this 'call' authorizes at once."""

from channels.base import ChannelPayment, ChannelPlugin, ChannelRefund
from channels.choices import ChannelState, Method
from channels.models import MerchantChannel


class BalanceChannel(ChannelPlugin):
    name = "balance"
    methods = frozenset({Method.BALANCE})
    internal = True
    parameters = ()  # nothing to set up: the wallet is ours

    def pay(self, *, mc: MerchantChannel, order: object) -> ChannelPayment:
        return ChannelPayment(state=ChannelState.SUCCEEDED if order.capture else ChannelState.AUTHORIZED)

    def query(self, *, mc: MerchantChannel, serial: str, channel_trade_no: str | None) -> ChannelPayment:
        return ChannelPayment(state=ChannelState.UNKNOWN)  # the ledger's own record is the truth

    def close(self, *, mc: MerchantChannel, serial: str, channel_trade_no: str | None) -> ChannelPayment:
        return ChannelPayment(state=ChannelState.CLOSED)

    def capture(
        self, *, mc: MerchantChannel, channel_trade_no: str, amount_minor: int, currency: str
    ) -> ChannelPayment:
        return ChannelPayment(state=ChannelState.SUCCEEDED, paid_minor=amount_minor, currency=currency)

    def void(self, *, mc: MerchantChannel, channel_trade_no: str) -> ChannelPayment:
        return ChannelPayment(state=ChannelState.CLOSED)

    def refund(self, *, mc: MerchantChannel, amount_minor: int, **kwargs: object) -> ChannelRefund:
        return ChannelRefund(state=ChannelState.SUCCEEDED, amount_minor=amount_minor)
