"""Pre-authorization (C6): `capture: false` holds the funds (`authorized`); capture takes
at most what was authorized, once; void releases it."""

from datetime import datetime

from channels import gateway
from channels.base import ChannelError, ChannelTimeout, ChannelUnreachable
from channels.choices import ChannelState
from ledger.choices import TransactionStatus
from ledger.errors import InvalidState
from ledger.models import Transaction
from ledger.services.channel_calls import channel_of
from ledger.services.payment_apply import payment_apply, payment_fail
from paycenter.errors import Unprocessable

S = TransactionStatus


class CaptureExceedsAuthorization(Unprocessable):
    code = "capture_exceeds_authorization"
    default_message = "A capture takes at most the authorized amount."


def payment_capture(*, txn_id: int, amount_minor: int | None, now: datetime) -> Transaction:
    txn = Transaction.objects.select_related("merchant_channel").get(pk=txn_id)
    if txn.status != S.AUTHORIZED:
        raise InvalidState(f"A {txn.status} payment cannot be captured.")
    amount = txn.amount_minor if amount_minor is None else amount_minor
    if not 0 < amount <= txn.amount_minor:
        raise CaptureExceedsAuthorization(field="amount")
    # The claim: of any number of concurrent captures exactly one gets to call the channel.
    claimed = Transaction.objects.filter(pk=txn.pk, status=S.AUTHORIZED, captured_minor__isnull=True).update(
        captured_minor=amount
    )
    if not claimed:
        raise InvalidState(f"A {txn.status} payment cannot be captured (or a capture is under way).")
    plugin, mc = channel_of(txn)
    try:
        result = gateway.call(
            mc=mc,
            operation="capture",
            reference=txn.serial,
            fn=lambda: plugin.capture(
                mc=mc, channel_trade_no=txn.channel_trade_no, amount_minor=amount, currency=txn.currency
            ),
        )
    except ChannelUnreachable as exc:
        # Nothing reached the channel: give the claim back so the app may capture again.
        Transaction.objects.filter(pk=txn.pk, status=S.AUTHORIZED).update(captured_minor=None)
        raise InvalidState("The channel could not be reached; nothing was captured.") from exc
    except ChannelTimeout:
        # Whether the channel captured is unknown: keep the claim; the query settles it. Only
        # while still authorized: an answer that landed meanwhile is final and stays.
        Transaction.objects.filter(pk=txn.pk, status=S.AUTHORIZED).update(
            channel_state=ChannelState.UNKNOWN, next_query_at=now
        )
        return Transaction.objects.get(pk=txn.pk)
    except ChannelError as exc:
        Transaction.objects.filter(pk=txn.pk, status=S.AUTHORIZED).update(captured_minor=None)
        raise InvalidState(f"The channel refused the capture: {exc.code}") from exc
    payment_apply(txn_id=txn.pk, result=result, now=now)
    return Transaction.objects.get(pk=txn.pk)


def payment_void(*, txn_id: int, now: datetime) -> Transaction:
    txn = Transaction.objects.select_related("merchant_channel").get(pk=txn_id)
    if txn.status != S.AUTHORIZED or txn.captured_minor is not None:
        raise InvalidState(f"A {txn.status} payment cannot be voided.")
    plugin, mc = channel_of(txn)
    try:
        gateway.call(
            mc=mc,
            operation="void",
            reference=txn.serial,
            fn=lambda: plugin.void(mc=mc, channel_trade_no=txn.channel_trade_no),
        )
    except ChannelError as exc:
        raise InvalidState(f"The channel refused the void: {exc.code}") from exc
    except (ChannelTimeout, ChannelUnreachable) as exc:
        raise InvalidState("The channel did not answer; the authorization stands, try again.") from exc
    return payment_fail(txn_id=txn.pk, reason="voided", now=now, closed=True)
