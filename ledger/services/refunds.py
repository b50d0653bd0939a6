"""Refunds (C5): against the payment center's serial, partial and repeated; the sum of
refunds that are not failed never exceeds what was paid, under any concurrency.

1. `refund_request` (one transaction): reserve the amount on the payment with a
   conditional UPDATE (`refunded + amount <= paid`), create the refund record, freeze the
   amount on the merchant's account;
2. the channel call, outside the transaction;
3. `refund_succeed` confirms the hold into the payer (wallet or channel clearing);
   `refund_fail` cancels it and gives the reservation back.
"""

import logging
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F

from accounts.models import Account
from channels import gateway
from channels.base import ChannelError, ChannelRefund, ChannelTimeout, ChannelUnreachable
from channels.choices import ChannelState
from ledger import locks
from ledger.choices import Direction, TransactionKind, TransactionStatus
from ledger.errors import InvalidState, RefundExceedsPayment, RefundNeedsSplit
from ledger.models import Transaction
from ledger.services.channel_calls import channel_of, next_query_at
from ledger.services.events import event_emit
from ledger.services.holds import hold_cancel, hold_confirm, hold_freeze
from ledger.services.journal import Leg, journal_post
from ledger.services.records import (
    clearing_account_get_or_open,
    replay_if_done,
    replayable,
    settlement_account_get_or_open,
    transaction_insert,
)
from ledger.services.splits import (
    SPLIT_REFUND,
    RefundParts,
    split_refund_legs,
    split_release,
    split_reserve,
)
from paycenter.dbretry import retry_on_conflict

logger = logging.getLogger(__name__)
S = TransactionStatus
# A refund still pending after this long without an answer from its call is queried.
ORPHAN_QUERY_AFTER = timedelta(minutes=2)
REFUNDABLE = {S.SUCCEEDED, S.PARTIALLY_REFUNDED}


def refund_create(
    *,
    app_id: int | None,
    payment_id: int,
    amount_minor: int,
    now: datetime,
    reason: str = "",
    out_refund_no: str | None = None,
    options: dict | None = None,
    idempotency_key: str | None = None,
    detail_reference: str | None = None,
) -> Transaction:
    """`detail_reference`: which split of a split payment (an order's sub-order) it refunds."""
    refund = refund_request(
        app_id=app_id,
        payment_id=payment_id,
        amount_minor=amount_minor,
        reason=reason,
        out_refund_no=out_refund_no,
        idempotency_key=idempotency_key,
        detail_reference=detail_reference,
        now=now,
    )
    if refund.status != S.PENDING or refund.channel_state:
        return refund  # a replay of a refund already under way or done
    return refund_execute(refund_id=refund.pk, options=options or {}, now=now)


@retry_on_conflict
@replayable
@transaction.atomic(durable=True)
def refund_request(
    *,
    app_id: int | None,
    payment_id: int,
    amount_minor: int,
    now: datetime,
    reason: str = "",
    out_refund_no: str | None = None,
    idempotency_key: str | None = None,
    detail_reference: str | None = None,
) -> Transaction:
    if app_id is not None and idempotency_key is not None:
        replay_if_done(
            app_id=app_id,
            key=idempotency_key,
            kind=TransactionKind.REFUND,
            amount_minor=amount_minor,
            out_trade_no=out_refund_no,
        )
    payment = locks.transaction_for_update(transaction_id=payment_id)
    if payment.kind != TransactionKind.PAYMENT or payment.status not in REFUNDABLE:
        raise InvalidState(f"A {payment.status} payment cannot be refunded.")
    reserved = Transaction.objects.filter(
        pk=payment.pk, refunded_minor__lte=F("paid_minor") - amount_minor
    ).update(refunded_minor=F("refunded_minor") + amount_minor)
    if not reserved:
        raise RefundExceedsPayment(field="amount")
    parts = _split_reserve(payment=payment, reference=detail_reference, amount_minor=amount_minor)
    refund = transaction_insert(
        kind=TransactionKind.REFUND,
        amount_minor=amount_minor,
        currency=payment.currency,
        merchant_id=payment.merchant_id,
        app_id=app_id,
        idempotency_key=idempotency_key,
        out_trade_no=out_refund_no,
        refund_of=payment,
        channel=payment.channel,
        merchant_channel=payment.merchant_channel,
        payer_account_id=payment.payee_account_id,
        payee_account_id=payment.payer_account_id,
        memo=reason[:255],
        next_query_at=now + ORPHAN_QUERY_AFTER,  # cleared by any answer; covers a lost call
        metadata={"split": parts.as_metadata()} if parts else {},
        now=now,
    )
    if parts is None:
        merchant = Account.objects.get(pk=payment.payee_account_id)
        frozen = amount_minor
    else:  # the split's merchant gives its share back; the platform its commission, at the end
        merchant = settlement_account_get_or_open(
            merchant_id=parts.merchant_id, currency=payment.currency, now=now
        )
        frozen = parts.merchant_minor
    if frozen:
        hold_freeze(key=f"refund:{refund.serial}", account=merchant, amount_minor=frozen, txn=refund, now=now)
    return refund


def _split_reserve(*, payment: Transaction, reference: str | None, amount_minor: int) -> RefundParts | None:
    if not payment.details.exists():
        return None
    if reference is None:
        raise RefundNeedsSplit(field="detail_reference")
    parts = split_reserve(payment=payment, reference=reference, amount_minor=amount_minor)
    if parts is None:
        raise RefundExceedsPayment("Refunds would exceed what was paid towards this split.", field="amount")
    return parts


def refund_execute(*, refund_id: int, options: dict, now: datetime) -> Transaction:
    refund = Transaction.objects.select_related("merchant_channel", "refund_of").get(pk=refund_id)
    payment = refund.refund_of
    plugin, mc = channel_of(refund)
    try:
        result = gateway.call(
            mc=mc,
            operation="refund",
            reference=refund.serial,
            fn=lambda: plugin.refund(
                mc=mc,
                channel_trade_no=payment.channel_trade_no or "",
                refund_serial=refund.serial,
                amount_minor=refund.amount_minor,
                currency=refund.currency,
                options=options,
            ),
        )
    except (ChannelTimeout, ChannelUnreachable):
        # The channel may have refunded: never send it again blindly; query it (D5).
        Transaction.objects.filter(pk=refund.pk, status=S.PENDING).update(
            channel_state=ChannelState.UNKNOWN, next_query_at=next_query_at(attempts=0, now=now)
        )
        return Transaction.objects.get(pk=refund.pk)
    except ChannelError as exc:
        return refund_fail(refund_id=refund.pk, reason=f"channel refused: {exc.code}", now=now)
    refund_apply(refund_id=refund.pk, result=result, now=now)
    return Transaction.objects.get(pk=refund.pk)


def refund_apply(*, refund_id: int, result: ChannelRefund, now: datetime) -> str:
    if result.state == ChannelState.SUCCEEDED:
        return refund_succeed(refund_id=refund_id, channel_refund_no=result.refund_no, now=now)
    if result.state in {ChannelState.FAILED, ChannelState.CLOSED}:
        before = Transaction.objects.values_list("status", flat=True).get(pk=refund_id)
        refund = refund_fail(refund_id=refund_id, reason="channel says failed", now=now)
        return "applied" if refund.status != before else "duplicate"
    # Still under way at the channel: noted, nothing moved; the query asks again.
    noted = Transaction.objects.filter(pk=refund_id, status=S.PENDING).update(
        channel_state=ChannelState.PENDING, next_query_at=next_query_at(attempts=0, now=now)
    )
    return "noted" if noted else "duplicate"


@transaction.atomic
def refund_succeed(*, refund_id: int, channel_refund_no: str | None, now: datetime) -> str:
    # Lock order: payment before refund (the refund's parent first).
    parent_id = Transaction.objects.values_list("refund_of_id", flat=True).get(pk=refund_id)
    payment = locks.transaction_for_update(transaction_id=parent_id)
    refund = locks.transaction_for_update(transaction_id=refund_id)
    if refund.status == S.FAILED:
        # We gave the money back to the merchant; the channel says it went to the payer.
        Transaction.objects.filter(pk=refund.pk).update(
            review_reason="late_success: the channel refunded after we marked it failed; review"
        )
        logger.error("ALERT refund %s succeeded at the channel after it was marked failed", refund.serial)
        return "late_success"
    if refund.status != S.PENDING:
        return "duplicate"
    refund.succeed()
    refund.channel_state = ChannelState.SUCCEEDED
    refund.channel_trade_no = channel_refund_no or None
    refund.finished_at, refund.next_query_at = now, None
    refund.save()
    payer = Account.objects.filter(pk=payment.payer_account_id).first()
    payer = payer or clearing_account_get_or_open(currency=refund.currency, now=now)
    split = refund.metadata.get("split")
    if split:
        _split_refund_post(refund=refund, parts=RefundParts(**split), payer=payer, now=now)
    else:
        hold_confirm(hold_id=refund.holds.get().pk, credit_account=payer, reason="refund", now=now)
    refunded = sum(payment.refunds.filter(status=S.SUCCEEDED).values_list("amount_minor", flat=True))
    if refunded >= payment.paid_minor:
        payment.refund_fully()
    else:
        payment.refund_partly()
    payment.save()
    event_emit(txn=refund, event_type="refund.succeeded", now=now)
    return "applied"


def _split_refund_post(*, refund: Transaction, parts: RefundParts, payer: Account, now: datetime) -> None:
    """One entry: the merchant's frozen share, the platform's commission back, the coupon
    subsidy returned to the platform, the refund to the payer."""
    hold = refund.holds.first()
    also = split_refund_legs(parts=parts, currency=refund.currency, now=now)
    if hold is not None:
        hold_confirm(
            hold_id=hold.pk,
            credit_account=payer,
            credit_minor=refund.amount_minor,
            also=also,
            reason=SPLIT_REFUND,
            now=now,
        )
        return
    journal_post(
        txn=refund,
        reason=SPLIT_REFUND,
        legs=[*also, Leg(account=payer, direction=Direction.CREDIT, amount_minor=refund.amount_minor)],
        now=now,
    )


@transaction.atomic
def refund_fail(*, refund_id: int, reason: str, now: datetime) -> Transaction:
    parent_id = Transaction.objects.values_list("refund_of_id", flat=True).get(pk=refund_id)
    locks.transaction_for_update(transaction_id=parent_id)
    refund = locks.transaction_for_update(transaction_id=refund_id)
    if refund.status != S.PENDING:
        return refund
    refund.fail()
    refund.channel_state = ChannelState.FAILED
    refund.finished_at, refund.next_query_at = now, None
    refund.metadata = {**refund.metadata, "failure_reason": reason[:200]}
    refund.save()
    for hold in refund.holds.all():
        hold_cancel(hold_id=hold.pk, now=now)
    Transaction.objects.filter(pk=parent_id).update(refunded_minor=F("refunded_minor") - refund.amount_minor)
    split = refund.metadata.get("split")
    if split:
        split_release(payment_id=parent_id, reference=split["reference"], amount_minor=refund.amount_minor)
    event_emit(txn=refund, event_type="refund.failed", now=now)
    return refund


def refund_query(*, refund_id: int, now: datetime) -> Transaction:
    refund = Transaction.objects.select_related("merchant_channel", "refund_of").get(pk=refund_id)
    if refund.status != S.PENDING:
        return refund
    plugin, mc = channel_of(refund)
    try:
        result = gateway.call(
            mc=mc,
            operation="refund_query",
            reference=refund.serial,
            fn=lambda: plugin.refund_query(
                mc=mc, channel_trade_no=refund.refund_of.channel_trade_no or "", refund_serial=refund.serial
            ),
        )
    except (ChannelTimeout, ChannelUnreachable, ChannelError):
        result = ChannelRefund(state=ChannelState.UNKNOWN)
    if result.state in {ChannelState.SUCCEEDED, ChannelState.FAILED}:
        refund_apply(refund_id=refund.pk, result=result, now=now)
    else:
        attempts = refund.query_attempts + 1
        Transaction.objects.filter(pk=refund.pk, status=S.PENDING).update(
            query_attempts=attempts, next_query_at=next_query_at(attempts=attempts, now=now)
        )
    return Transaction.objects.get(pk=refund.pk)
