"""Asking the channel about money that comes in (D5) and closing it while unpaid."""

from datetime import datetime

from django.db.models import F, Value
from django.db.models.functions import Coalesce

from channels import gateway
from channels.base import ChannelError, ChannelPayment, ChannelTimeout, ChannelUnreachable
from channels.choices import ChannelState
from ledger.choices import TransactionStatus
from ledger.errors import InvalidState
from ledger.models import Transaction
from ledger.services.channel_calls import channel_of, next_query_at
from ledger.services.payment_apply import payment_apply, payment_fail

S = TransactionStatus


def payment_query(*, txn_id: int, now: datetime) -> Transaction:
    """Ask the channel. Unknown stays unknown until it answers; each unanswered query
    pushes the next one further out."""
    txn = Transaction.objects.select_related("merchant_channel").get(pk=txn_id)
    if txn.status not in {S.PENDING, S.AUTHORIZED} or txn.merchant_channel is None:
        return txn
    plugin, mc = channel_of(txn)
    if plugin.internal:
        return txn
    try:
        result = gateway.call(
            mc=mc,
            operation="query",
            reference=txn.serial,
            fn=lambda: plugin.query(mc=mc, serial=txn.serial, channel_trade_no=txn.channel_trade_no),
        )
    except (ChannelTimeout, ChannelUnreachable, ChannelError):
        result = ChannelPayment(state=ChannelState.UNKNOWN)
    if result.state in {ChannelState.UNKNOWN, ChannelState.PENDING}:
        attempts = txn.query_attempts + 1
        changes: dict = {
            "query_attempts": attempts,
            "next_query_at": next_query_at(attempts=attempts, now=now),
        }
        if result.state == ChannelState.PENDING and result.channel_trade_no:
            # Only fills a gap: what another answer stored meanwhile stays.
            changes["channel_trade_no"] = Coalesce(F("channel_trade_no"), Value(result.channel_trade_no))
        Transaction.objects.filter(pk=txn.pk, status=txn.status).update(**changes)
    else:
        payment_apply(txn_id=txn.pk, result=result, now=now)
    return Transaction.objects.get(pk=txn.pk)


def payment_close(*, txn_id: int, now: datetime, reason: str = "closed by the app") -> Transaction:
    """Only while pending: the channel is told first; if it says paid, that wins."""
    txn = Transaction.objects.select_related("merchant_channel").get(pk=txn_id)
    if txn.status != S.PENDING:
        raise InvalidState(f"A {txn.status} {txn.kind} cannot be closed.")
    if txn.channel_state == ChannelState.UNKNOWN:
        raise InvalidState(f"The channel has not answered yet; the {txn.kind} is being queried.")
    plugin, mc = channel_of(txn)
    if not plugin.internal:
        try:
            result = gateway.call(
                mc=mc,
                operation="close",
                reference=txn.serial,
                fn=lambda: plugin.close(mc=mc, serial=txn.serial, channel_trade_no=txn.channel_trade_no),
            )
        except ChannelError as exc:
            if exc.code != "TRADE_ALREADY_PAID":
                raise InvalidState(f"The channel refused to close: {exc.code}") from exc
            payment_query(txn_id=txn.pk, now=now)  # learn and apply what was paid
            raise InvalidState("The payer has already paid; it is not closed.") from exc
        except (ChannelTimeout, ChannelUnreachable) as exc:
            raise InvalidState(f"The channel did not answer; the {txn.kind} stays open.") from exc
        if result.state in {ChannelState.SUCCEEDED, ChannelState.AUTHORIZED}:
            payment_apply(txn_id=txn.pk, result=result, now=now)
            raise InvalidState("The payer has already paid; it is not closed.")
        if result.state == ChannelState.PENDING:
            raise InvalidState("The channel still has it open; it was not closed.")
    return payment_fail(txn_id=txn.pk, reason=reason, now=now, closed=True)
