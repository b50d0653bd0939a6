"""Platform-funded credits (goodwill, corrections): the only way money enters an account
without a channel confirming it. A finance user proposes one with a reason; up to
PAYCENTER_ADJUSTMENT_SECOND_APPROVAL_ABOVE (in the adjustment's currency) it is posted at
once, above it a second finance user must approve it. Posted as an adjustment: the
platform funding account is debited, the target credited. Every step leaves an audit row.
`ledger_verify` proves that the funding account is debited by nothing else."""

from datetime import datetime

from django.conf import settings
from django.db import transaction

from accounts.choices import AccountKind
from accounts.models import Account
from ledger import locks
from ledger.choices import Direction, TransactionKind, TransactionStatus
from ledger.errors import AccountNotFound, InvalidState
from ledger.models import Transaction
from ledger.services.events import event_emit
from ledger.services.journal import Leg, journal_post
from ledger.services.records import check_usable, funding_account_get_or_open, transaction_insert
from paycenter.audit import audit_record
from paycenter.errors import InvalidRequest, NotFound, PaycenterError
from paycenter.money import parse_minor

PLATFORM_KINDS = {AccountKind.PLATFORM_FUNDING, AccountKind.PLATFORM_REVENUE, AccountKind.COUPON_SUBSIDY}


class SecondApprovalRequired(PaycenterError):
    code = "second_approval_required"
    status = 403
    default_message = "Someone other than the proposer must approve this adjustment."


def second_approval_above(currency: str) -> int:
    """The largest adjustment one finance user may post alone, in minor units."""
    return parse_minor(settings.PAYCENTER_ADJUSTMENT_SECOND_APPROVAL_ABOVE, currency)


@transaction.atomic(durable=True)
def adjustment_propose(
    *, account_id: int, amount_minor: int, currency: str, reason: str, actor: str, now: datetime
) -> Transaction:
    """A pending adjustment; posted at once when it is small enough for one approver."""
    reason = reason.strip()
    if not reason:
        raise InvalidRequest("An adjustment needs a reason.", field="reason")
    if amount_minor <= 0:
        raise InvalidRequest("An adjustment credits a positive amount.", field="amount")
    account = Account.objects.filter(pk=account_id).first()
    if account is None:
        raise AccountNotFound(field="account")
    check_usable(account, currency=currency)
    if account.kind in PLATFORM_KINDS:
        raise InvalidRequest("Platform accounts are not credited by adjustments.", field="account")
    txn = transaction_insert(
        kind=TransactionKind.ADJUSTMENT,
        amount_minor=amount_minor,
        currency=currency,
        merchant_id=account.merchant_id,
        payee_account=account,
        memo=reason[:255],
        metadata={"proposed_by": actor},
        now=now,
    )
    audit_record(
        actor=actor,
        action="adjustment.propose",
        target=txn,
        now=now,
        data={"account_id": account.pk, "amount_minor": amount_minor, "currency": currency, "reason": reason},
    )
    if amount_minor <= second_approval_above(currency):
        _post(txn, approver=actor, now=now)
    return txn


@transaction.atomic(durable=True)
def adjustment_approve(*, transaction_id: int, actor: str, now: datetime) -> Transaction:
    txn = _adjustment_for_update(transaction_id)
    if txn.status != TransactionStatus.PENDING:
        raise InvalidState(f"A {txn.status} adjustment cannot be approved.")
    if actor == txn.metadata.get("proposed_by"):
        raise SecondApprovalRequired()
    _post(txn, approver=actor, now=now)
    return txn


@transaction.atomic(durable=True)
def adjustment_reject(*, transaction_id: int, actor: str, now: datetime, reason: str = "") -> Transaction:
    txn = _adjustment_for_update(transaction_id)
    if txn.status != TransactionStatus.PENDING:
        raise InvalidState(f"A {txn.status} adjustment cannot be rejected.")
    txn.reject()
    txn.finished_at = now
    txn.metadata = {**txn.metadata, "rejected_by": actor, "rejection_reason": reason}
    txn.save()
    audit_record(actor=actor, action="adjustment.reject", target=txn, now=now, data={"reason": reason})
    return txn


def _adjustment_for_update(transaction_id: int) -> Transaction:
    txn = locks.transaction_for_update(transaction_id=transaction_id)
    if txn.kind != TransactionKind.ADJUSTMENT:
        raise NotFound("No such adjustment.")
    return txn


def _post(txn: Transaction, *, approver: str, now: datetime) -> None:
    account = Account.objects.get(pk=txn.payee_account_id)
    journal_post(
        txn=txn,
        reason="adjustment",
        legs=[
            Leg(
                account=funding_account_get_or_open(currency=txn.currency, now=now),
                direction=Direction.DEBIT,
                amount_minor=txn.amount_minor,
            ),
            Leg(account=account, direction=Direction.CREDIT, amount_minor=txn.amount_minor),
        ],
        now=now,
    )
    txn.succeed()
    txn.finished_at = now
    txn.metadata = {**txn.metadata, "approved_by": approver}
    txn.save()
    audit_record(actor=approver, action="adjustment.approve", target=txn, now=now)
    event_emit(txn=txn, event_type="adjustment.succeeded", now=now)
