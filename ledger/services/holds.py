"""Frozen funds as two-phase (TCC): freeze → confirm (all or part) or cancel/expire.

Every step is idempotent by hold: a retried freeze finds its hold by key, a retried
confirm or cancel finds it resolved the same way and returns it. A hold resolves once:
the transition is a conditional UPDATE (ConcurrentTransitionMixin) under a row lock.
"""

from collections.abc import Sequence
from datetime import datetime

from django.db import IntegrityError, transaction

from accounts.models import Account
from ledger import balances, locks
from ledger.choices import Direction, HoldStatus
from ledger.errors import HoldAlreadyResolved, HoldKeyReused
from ledger.models import Hold, Transaction
from ledger.services.journal import Leg, journal_post
from paycenter.errors import Unprocessable


def hold_freeze(
    *,
    key: str,
    account: Account,
    amount_minor: int,
    txn: Transaction,
    now: datetime,
    expires_at: datetime | None = None,
) -> Hold:
    """available → frozen. The same key again returns the first hold."""
    existing = Hold.objects.filter(key=key).first()
    if existing is not None:
        return _same_hold(existing, account=account, amount_minor=amount_minor)
    try:
        with transaction.atomic():
            hold = Hold.objects.create(
                key=key,
                account=account,
                transaction=txn,
                amount_minor=amount_minor,
                currency=account.currency,
                expires_at=expires_at,
                created_at=now,
            )
            if account.buffered:
                balances.apply_pending(account_id=account.pk)
            balances.freeze(account_id=account.pk, amount=amount_minor)
    except IntegrityError:
        existing = Hold.objects.filter(key=key).first()
        if existing is None:
            raise
        return _same_hold(existing, account=account, amount_minor=amount_minor)
    return hold


def _same_hold(hold: Hold, *, account: Account, amount_minor: int) -> Hold:
    if hold.account_id != account.pk or hold.amount_minor != amount_minor:
        raise HoldKeyReused()
    return hold


@transaction.atomic
def hold_confirm(
    *,
    hold_id: int,
    credit_account: Account,
    reason: str,
    now: datetime,
    amount_minor: int | None = None,
    also: Sequence[Leg] = (),
    credit_minor: int | None = None,
) -> Hold:
    """Consume `amount_minor` (all when None) into `credit_account`; the rest is unfrozen.
    `also`: more legs of the same entry (a split refund's commission and subsidy), when
    `credit_account` is credited `credit_minor` rather than the amount consumed."""
    hold = locks.hold_for_update(hold_id=hold_id)
    amount = hold.amount_minor if amount_minor is None else amount_minor
    if hold.status == HoldStatus.CONFIRMED and hold.confirmed_minor == amount:
        return hold
    if hold.status != HoldStatus.PENDING:
        raise HoldAlreadyResolved()
    if not 0 < amount <= hold.amount_minor:
        raise Unprocessable("A hold confirms more than zero and at most its amount.", code="invalid_amount")
    hold.confirm()
    hold.confirmed_minor, hold.resolved_at = amount, now
    hold.save()
    journal_post(
        txn=hold.transaction,
        reason=reason,
        legs=[
            Leg(account=hold.account, direction=Direction.DEBIT, amount_minor=amount, hold=hold),
            Leg(
                account=credit_account,
                direction=Direction.CREDIT,
                amount_minor=amount if credit_minor is None else credit_minor,
            ),
            *also,
        ],
        now=now,
    )
    if amount < hold.amount_minor:
        balances.unfreeze(account_id=hold.account_id, amount=hold.amount_minor - amount)
    return hold


@transaction.atomic
def hold_cancel(*, hold_id: int, now: datetime, expired: bool = False) -> Hold:
    """frozen → available. Cancelling a cancelled or expired hold is a no-op."""
    hold = locks.hold_for_update(hold_id=hold_id)
    if hold.status in {HoldStatus.CANCELLED, HoldStatus.EXPIRED}:
        return hold
    if hold.status != HoldStatus.PENDING:
        raise HoldAlreadyResolved()
    if expired:
        hold.expire()
    else:
        hold.cancel()
    hold.resolved_at = now
    hold.save()
    balances.unfreeze(account_id=hold.account_id, amount=hold.amount_minor)
    return hold


def holds_expire(*, now: datetime, limit: int = 500) -> int:
    """Release pending holds past their expiry, each in its own transaction."""
    due = list(
        Hold.objects.filter(status=HoldStatus.PENDING, expires_at__lte=now)
        .order_by("expires_at")
        .values_list("pk", flat=True)[:limit]
    )
    released = 0
    for hold_id in due:
        try:
            hold = hold_cancel(hold_id=hold_id, now=now, expired=True)
        except HoldAlreadyResolved:
            continue  # confirmed between our read and our lock
        released += hold.status == HoldStatus.EXPIRED and hold.resolved_at == now
    return released
