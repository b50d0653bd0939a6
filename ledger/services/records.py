"""Creating transaction records and reading accounts the way every use case needs.

`transaction_build` makes an unsaved record; `transaction_insert` saves one as a use
case's first write. Account helpers named `…_get_or_open` open the account on first use.
"""

import functools
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TypeVar

from django.db import IntegrityError, transaction
from django.db.models import Case, Q, Value, When

from accounts.choices import AccountKind, AccountStatus
from accounts.models import Account
from accounts.services import account_get_or_open, platform_account_get_or_open
from ledger.choices import TransactionStatus
from ledger.errors import (
    AccountNotActive,
    AccountNotFound,
    CurrencyMismatch,
    DuplicateOutTradeNo,
    RetryTooSoon,
)
from ledger.models import Transaction
from ledger.serials import serial_new
from paycenter.errors import IdempotencyKeyReused

SERIAL_ATTEMPTS = 3
RETRY_AFTER_FAILURE = timedelta(seconds=15)
T = TypeVar("T")


class AlreadyDone(Exception):
    """The app's Idempotency-Key is already on a record: this request ran before."""

    def __init__(self, txn: Transaction) -> None:
        self.txn = txn


def replayable(use_case: Callable[..., Transaction]) -> Callable[..., Transaction]:
    """Outside the use case's transaction: a request that already ran returns its record
    instead of running twice (transaction_insert checked it asked for the same thing)."""

    @functools.wraps(use_case)
    def wrapper(**kwargs: object) -> Transaction:
        try:
            return use_case(**kwargs)
        except AlreadyDone as done:
            return done.txn

    return wrapper


def replay_if_done(*, app_id: int, key: str, kind: str, amount_minor: int, out_trade_no: str | None) -> None:
    """AlreadyDone when this key made a record for the same request; IdempotencyKeyReused
    when it made one for another (kind, amount or the app's own number differ)."""
    done = Transaction.objects.filter(app_id=app_id, idempotency_key=key).first()
    if done is None:
        return
    if (done.kind, done.amount_minor, done.out_trade_no) != (kind, amount_minor, out_trade_no):
        raise IdempotencyKeyReused()
    raise AlreadyDone(done)


def transaction_build(
    *,
    kind: str,
    amount_minor: int,
    currency: str,
    merchant_id: int | None,
    now: datetime,
    app_id: int | None = None,
    idempotency_key: str | None = None,
    **fields: object,
) -> Transaction:
    """A new record with a fresh serial, not saved yet. The key only counts for an app."""
    return Transaction(
        serial=serial_new(kind=kind, now=now),
        kind=kind,
        amount_minor=amount_minor,
        currency=currency,
        merchant_id=merchant_id,
        app_id=app_id,
        idempotency_key=idempotency_key if app_id is not None else None,
        created_at=now,
        **fields,
    )


def insert_first(build: Callable[[], Transaction], write: Callable[[Transaction], T]) -> T:
    """`write` a record made by `build` as a use case's first write. A refused insert is
    explained by `insert_refused`: a replay or a duplicate is raised, a serial drawn twice
    is drawn again.

    A replay is found by the unique (app, Idempotency-Key) refusing the insert rather than
    by a look-up first: replays are rare, and the insert is needed anyway."""
    for _ in range(SERIAL_ATTEMPTS):
        record = build()
        try:
            return write(record)
        except IntegrityError as error:
            insert_refused(record, error)
    raise RuntimeError(f"{SERIAL_ATTEMPTS} serials drawn in a row were taken")


def transaction_insert(**fields: object) -> Transaction:
    """The record of a use case (`transaction_build`'s arguments), saved inside the
    caller's transaction; its first write, so a replay stops before anything else."""
    return insert_first(lambda: transaction_build(**fields), _save_in_savepoint)


def _save_in_savepoint(record: Transaction) -> Transaction:
    with transaction.atomic():  # a refused insert must not break the caller's transaction
        record.save(force_insert=True)
    return record


def insert_refused(record: Transaction, error: IntegrityError) -> None:
    """Why a unique constraint refused this new record, once its insert is rolled back:
    AlreadyDone (the request ran before), DuplicateOutTradeNo, or — returning — a serial
    drawn twice, to be drawn again. Re-raises what it cannot explain."""
    if record.idempotency_key is not None:
        replay_if_done(
            app_id=record.app_id,
            key=record.idempotency_key,
            kind=record.kind,
            amount_minor=record.amount_minor,
            out_trade_no=record.out_trade_no,
        )
    if record.out_trade_no:
        taken = Transaction.objects.filter(
            app_id=record.app_id, kind=record.kind, out_trade_no=record.out_trade_no
        ).exclude(status="failed")
        if taken.exists():
            raise DuplicateOutTradeNo(field="out_trade_no")
    if Transaction.objects.filter(serial=record.serial).exists():
        return
    raise error


def merchant_account(*, merchant_id: int, account_id: int, currency: str | None = None) -> Account:
    """One of the merchant's own accounts, open, in the expected currency."""
    account = Account.objects.filter(pk=account_id, merchant_id=merchant_id).first()
    if account is None:
        raise AccountNotFound(field="account_id")
    check_usable(account, currency=currency)
    return account


def check_usable(account: Account, *, currency: str | None) -> None:
    if account.status == AccountStatus.CLOSED:
        raise AccountNotActive()
    if currency is not None and account.currency != currency:
        raise CurrencyMismatch(field="currency")


def clearing_account_get_or_open(*, currency: str, now: datetime) -> Account:
    """Where money leaves for, or arrives from, the outside world (banks, channels)."""
    return platform_account_get_or_open(kind=AccountKind.CHANNEL_CLEARING, currency=currency, now=now)


def funding_account_get_or_open(*, currency: str, now: datetime) -> Account:
    """The platform's own funds: the other side of approved adjustments (goodwill,
    corrections). Only an approved adjustment, a coupon subsidy or a settlement debits it."""
    return platform_account_get_or_open(kind=AccountKind.PLATFORM_FUNDING, currency=currency, now=now)


def settlement_account_get_or_open(*, merchant_id: int, currency: str, now: datetime) -> Account:
    """The merchant's settlement account in this currency (a hot account: buffered)."""
    return account_get_or_open(
        kind=AccountKind.MERCHANT_SETTLEMENT,
        currency=currency,
        merchant_id=merchant_id,
        buffered=True,
        now=now,
    )


def attempt_existing(
    *, app_id: int, kind: str, out_trade_no: str | None, idempotency_key: str | None, now: datetime
) -> Transaction | None:
    """The record this request already made (a replay), or why it may not be made
    (another live attempt at the app's number, or a failure under 15 s ago); one query.

    The key's row comes first, then the newest attempts: those are the ones that decide (the
    unique constraints still stop anything a pathological history pushes past the limit)."""
    if not out_trade_no and not idempotency_key:
        return None
    if out_trade_no and idempotency_key:
        mine = Q(kind=kind, out_trade_no=out_trade_no) | Q(idempotency_key=idempotency_key)
    elif out_trade_no:
        mine = Q(kind=kind, out_trade_no=out_trade_no)
    else:
        mine = Q(idempotency_key=idempotency_key)
    key_first = (
        Case(When(idempotency_key=idempotency_key, then=0), default=1) if idempotency_key else Value(1)
    )
    rows = list(Transaction.objects.filter(mine, app_id=app_id).order_by(key_first, "-id")[:20])
    for row in rows:
        if idempotency_key and row.idempotency_key == idempotency_key:
            if row.kind != kind or row.out_trade_no != out_trade_no:
                raise IdempotencyKeyReused()
            return row  # the same request again after its response was lost
    orders = [row for row in rows if out_trade_no and row.kind == kind and row.out_trade_no == out_trade_no]
    if any(row.status != TransactionStatus.FAILED for row in orders):
        raise DuplicateOutTradeNo(field="out_trade_no")
    last_failure = max((row.finished_at for row in orders if row.finished_at), default=None)
    if last_failure and last_failure > now - RETRY_AFTER_FAILURE:
        wait = (last_failure + RETRY_AFTER_FAILURE - now).total_seconds()
        raise RetryTooSoon(field="out_trade_no", retry_after=wait)
    return None
