"""Withdrawal: freeze at request → finance approves → paid out (hold confirmed into the
clearing account), or rejects → unfrozen (hold cancelled). Webhooks on the final states."""

from datetime import datetime

from django.db import transaction
from django_fsm import can_proceed

from ledger import locks
from ledger.choices import TransactionKind
from ledger.errors import InvalidState
from ledger.models import Transaction
from ledger.services.events import event_emit
from ledger.services.holds import hold_cancel, hold_confirm, hold_freeze
from ledger.services.records import (
    clearing_account_get_or_open,
    merchant_account,
    replayable,
    transaction_insert,
)
from paycenter.audit import audit_record
from paycenter.dbretry import retry_on_conflict
from paycenter.errors import NotFound


@retry_on_conflict
@replayable
@transaction.atomic(durable=True)
def withdrawal_request(
    *,
    merchant_id: int,
    account_id: int,
    amount_minor: int,
    currency: str,
    destination: dict,
    now: datetime,
    app_id: int | None = None,
    idempotency_key: str | None = None,
) -> Transaction:
    """Freeze the amount now; nothing is written when the funds are not there."""
    account = merchant_account(merchant_id=merchant_id, account_id=account_id, currency=currency)
    txn = transaction_insert(
        kind=TransactionKind.WITHDRAWAL,
        amount_minor=amount_minor,
        currency=currency,
        merchant_id=merchant_id,
        app_id=app_id,
        idempotency_key=idempotency_key,
        payer_account=account,
        destination=destination,
        now=now,
    )
    hold_freeze(key=f"withdrawal:{txn.serial}", account=account, amount_minor=amount_minor, txn=txn, now=now)
    return txn


def _withdrawal_for_update(transaction_id: int) -> Transaction:
    txn = locks.transaction_for_update(transaction_id=transaction_id)
    if txn.kind != TransactionKind.WITHDRAWAL:
        raise NotFound("No such withdrawal.")
    return txn


def _transition(txn: Transaction, name: str) -> None:
    step = getattr(txn, name)
    if not can_proceed(step):
        raise InvalidState(f"A {txn.status} withdrawal cannot {name.replace('_', ' ')}.")
    step()


@transaction.atomic(durable=True)
def withdrawal_approve(*, transaction_id: int, actor: str, now: datetime) -> Transaction:
    txn = _withdrawal_for_update(transaction_id)
    _transition(txn, "approve")
    txn.save()
    audit_record(actor=actor, action="withdrawal.approve", target=txn, now=now)
    return txn


@transaction.atomic(durable=True)
def withdrawal_pay_out(*, transaction_id: int, actor: str, now: datetime) -> Transaction:
    txn = _withdrawal_for_update(transaction_id)
    _transition(txn, "pay_out")
    hold = txn.holds.get()
    hold_confirm(
        hold_id=hold.pk,
        credit_account=clearing_account_get_or_open(currency=txn.currency, now=now),
        reason="withdrawal",
        now=now,
    )
    txn.finished_at = now
    txn.save()
    audit_record(actor=actor, action="withdrawal.pay_out", target=txn, now=now)
    event_emit(txn=txn, event_type="withdrawal.paid_out", now=now)
    return txn


@transaction.atomic(durable=True)
def withdrawal_reject(*, transaction_id: int, actor: str, now: datetime, reason: str = "") -> Transaction:
    txn = _withdrawal_for_update(transaction_id)
    _transition(txn, "reject")
    hold_cancel(hold_id=txn.holds.get().pk, now=now)
    txn.finished_at = now
    if reason:
        txn.metadata = {**txn.metadata, "rejection_reason": reason}
    txn.save()
    audit_record(actor=actor, action="withdrawal.reject", target=txn, now=now, data={"reason": reason})
    event_emit(txn=txn, event_type="withdrawal.rejected", now=now)
    return txn
