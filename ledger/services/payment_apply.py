"""What a channel's answer means for money that comes in — a payment or a recharge — from
its call, a notification or a query (ARCHITECTURE: the payment, step 5). Each answer is
applied with the record locked and its state checked, so only the first of any number of
duplicates moves money; anything that disagrees is flagged for a person, nothing posted."""

import logging
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Coalesce

from accounts.models import Account
from channels.base import ChannelPayment
from channels.choices import ChannelState
from ledger import locks
from ledger.choices import Direction, TransactionStatus
from ledger.errors import InvalidState
from ledger.models import Transaction
from ledger.services.events import event_emit
from ledger.services.holds import hold_cancel, hold_confirm
from ledger.services.journal import Leg, journal_post
from ledger.services.records import clearing_account_get_or_open
from ledger.services.splits import SPLIT_PAYMENT, split_legs

logger = logging.getLogger(__name__)
S = TransactionStatus
AUTHORIZATION_TTL = timedelta(days=7)
PAID = {S.SUCCEEDED, S.PARTIALLY_REFUNDED, S.REFUNDED}


def payment_apply(*, txn_id: int, result: ChannelPayment, now: datetime) -> str:
    """Apply what the channel says. Returns what happened: applied, noted (a pending answer
    recorded, no money moved), duplicate, late_success, amount_mismatch, currency_mismatch,
    unknown_payment, ignored."""
    if result.state == ChannelState.SUCCEEDED:
        return payment_succeed(txn_id=txn_id, result=result, now=now)
    if result.state == ChannelState.AUTHORIZED:
        return payment_authorize(txn_id=txn_id, result=result, now=now)
    if result.state in {ChannelState.FAILED, ChannelState.CLOSED}:
        before = Transaction.objects.values_list("status", flat=True).get(pk=txn_id)
        closed = result.state == ChannelState.CLOSED
        txn = payment_fail(txn_id=txn_id, reason=f"channel says {result.state}", now=now, closed=closed)
        return "applied" if txn.status != before else "duplicate"
    if result.state == ChannelState.PENDING:
        return _note_pending(txn_id=txn_id, result=result)
    return "ignored"


def _note_pending(*, txn_id: int, result: ChannelPayment) -> str:
    """Still open at the channel. What the payer needs (a QR code, a redirect) and the
    channel's number are kept: a later answer without them must not erase them."""
    changes: dict = {"channel_state": ChannelState.PENDING, "next_query_at": None}
    if result.action and result.action.get("type", "none") != "none":
        changes["action"] = result.action
    if result.channel_trade_no:
        changes["channel_trade_no"] = Coalesce(F("channel_trade_no"), Value(result.channel_trade_no))
    noted = Transaction.objects.filter(pk=txn_id, status=S.PENDING).update(**changes)
    return "noted" if noted else "duplicate"


def _disagreement(txn: Transaction, result: ChannelPayment, *, expected_minor: int) -> str | None:
    if result.currency and result.currency != txn.currency:
        return "currency_mismatch"
    if result.paid_minor is not None and result.paid_minor != expected_minor:
        return "amount_mismatch"
    if result.channel_trade_no and txn.channel_trade_no and result.channel_trade_no != txn.channel_trade_no:
        return "unknown_payment"
    return None


def _flag(txn: Transaction, reason: str, detail: str) -> None:
    """Money and record disagree: nothing is posted; a person decides (D4)."""
    Transaction.objects.filter(pk=txn.pk).update(review_reason=f"{reason}: {detail}"[:255])
    logger.error("ALERT %s %s: %s (%s)", txn.kind, txn.serial, reason, detail)


def payment_flag(*, txn_id: int, reason: str, detail: str) -> None:
    """For a higher app that finds the money and its own record disagreeing (an order given up
    before its payment succeeded): flagged for a person, nothing moved."""
    _flag(Transaction.objects.get(pk=txn_id), reason, detail)


@transaction.atomic
def payment_succeed(*, txn_id: int, result: ChannelPayment, now: datetime) -> str:
    txn = locks.transaction_for_update(transaction_id=txn_id)
    if txn.status in PAID:
        return "duplicate"
    if txn.status in {S.CLOSED, S.FAILED}:
        _flag(txn, "late_success", f"the channel reports it paid after it was {txn.status}; refund or review")
        return "late_success"
    expected = txn.captured_minor if txn.status == S.AUTHORIZED and txn.captured_minor else txn.amount_minor
    problem = _disagreement(txn, result, expected_minor=expected)
    if problem:
        _flag(
            txn,
            problem,
            f"channel reports {result.paid_minor} {result.currency}, expected {expected} {txn.currency}",
        )
        return problem
    txn.succeed()
    txn.channel_state = ChannelState.SUCCEEDED
    txn.channel_trade_no = result.channel_trade_no or txn.channel_trade_no
    txn.paid_minor = expected
    txn.finished_at = result.paid_at or now
    txn.next_query_at = None
    txn.save()
    _post_payment(txn, amount_minor=expected, now=now)
    event_emit(txn=txn, event_type=f"{txn.kind}.succeeded", now=now)
    return "applied"


def _post_payment(txn: Transaction, *, amount_minor: int, now: datetime) -> None:
    payee = Account.objects.get(pk=txn.payee_account_id)
    if txn.payer_account_id is not None:
        # Paid from a wallet: the money is the frozen hold, and nothing else.
        hold = txn.holds.get(status="pending")
        hold_confirm(
            hold_id=hold.pk, credit_account=payee, amount_minor=amount_minor, reason=txn.kind, now=now
        )
        return
    # From outside: the channel confirmed the money, which arrives through clearing.
    clearing = clearing_account_get_or_open(currency=txn.currency, now=now)
    debit = Leg(account=clearing, direction=Direction.DEBIT, amount_minor=amount_minor)
    shares = split_legs(txn=txn, now=now)
    if shares:
        journal_post(txn=txn, reason=SPLIT_PAYMENT, legs=[debit, *shares], now=now)
        return
    credit = Leg(account=payee, direction=Direction.CREDIT, amount_minor=amount_minor)
    journal_post(txn=txn, reason=txn.kind, legs=[debit, credit], now=now)


@transaction.atomic
def payment_authorize(*, txn_id: int, result: ChannelPayment, now: datetime) -> str:
    txn = locks.transaction_for_update(transaction_id=txn_id)
    if txn.status == S.AUTHORIZED and txn.channel_state == ChannelState.UNKNOWN:
        # A capture timed out and the channel says it is still only authorized: the capture
        # did not happen, so the claim is given back and queries stop.
        Transaction.objects.filter(pk=txn.pk, status=S.AUTHORIZED).update(
            captured_minor=None, channel_state=ChannelState.AUTHORIZED, next_query_at=None
        )
        return "applied"
    if txn.status != S.PENDING:
        return "duplicate" if txn.status in PAID | {S.AUTHORIZED} else "ignored"
    problem = _disagreement(txn, result, expected_minor=txn.amount_minor)
    if problem:
        _flag(txn, problem, f"authorized {result.paid_minor} {result.currency}")
        return problem
    txn.authorize()
    txn.channel_state = ChannelState.AUTHORIZED
    txn.channel_trade_no = result.channel_trade_no or txn.channel_trade_no
    txn.next_query_at = None
    txn.expires_at = now + AUTHORIZATION_TTL
    txn.save()
    event_emit(txn=txn, event_type=f"{txn.kind}.authorized", now=now)
    return "applied"


@transaction.atomic
def payment_fail(*, txn_id: int, reason: str, now: datetime, closed: bool = False) -> Transaction:
    """pending (or authorized, when closed) → failed/closed; frozen funds go back."""
    txn = locks.transaction_for_update(transaction_id=txn_id)
    if txn.status not in {S.PENDING, S.AUTHORIZED} or (txn.status == S.AUTHORIZED and not closed):
        return txn
    if txn.status == S.AUTHORIZED and txn.captured_minor is not None:
        raise InvalidState("A capture of this authorization is under way.")
    if closed:
        txn.close()
    else:
        txn.fail()
    txn.channel_state = ChannelState.CLOSED if closed else ChannelState.FAILED
    txn.finished_at = now
    txn.next_query_at = None
    txn.metadata = {**txn.metadata, "failure_reason": reason[:200]}
    txn.save()
    for hold in txn.holds.filter(status="pending"):
        hold_cancel(hold_id=hold.pk, now=now)
    event_emit(txn=txn, event_type=f"{txn.kind}.closed" if closed else f"{txn.kind}.failed", now=now)
    return txn
