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
from ledger.choices import TransactionKind, TransactionStatus
from ledger.errors import InvalidState, RefundExceedsPayment
from ledger.models import Transaction
from ledger.services.channel_calls import channel_of, next_query_at
from ledger.services.events import event_emit
from ledger.services.holds import hold_cancel, hold_confirm, hold_freeze
from ledger.services.records import (
    clearing_account_get_or_open,
    replay_if_done,
    replayable,
    transaction_insert,
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
) -> Transaction:
    refund = refund_request(
        app_id=app_id,
        payment_id=payment_id,
        amount_minor=amount_minor,
        reason=reason,
        out_refund_no=out_refund_no,
        idempotency_key=idempotency_key,
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
        now=now,
    )
    merchant = Account.objects.get(pk=payment.payee_account_id)
    hold_freeze(
        key=f"refund:{refund.serial}", account=merchant, amount_minor=amount_minor, txn=refund, now=now
    )
    return refund


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
    hold_confirm(
        hold_id=refund.holds.get().pk,
        credit_account=payer or clearing_account_get_or_open(currency=refund.currency, now=now),
        reason="refund",
        now=now,
    )
    refunded = sum(payment.refunds.filter(status=S.SUCCEEDED).values_list("amount_minor", flat=True))
    if refunded >= payment.paid_minor:
        payment.refund_fully()
    else:
        payment.refund_partly()
    payment.save()
    event_emit(txn=refund, event_type="refund.succeeded", now=now)
    return "applied"


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
    hold_cancel(hold_id=refund.holds.get().pk, now=now)
    Transaction.objects.filter(pk=parent_id).update(refunded_minor=F("refunded_minor") - refund.amount_minor)
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
