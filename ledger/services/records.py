"""Creating transaction records and reading accounts the way every use case needs."""

import functools
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

from django.db import IntegrityError, transaction

from accounts.choices import AccountKind, AccountStatus
from accounts.models import Account
from accounts.services import platform_account
from ledger.errors import AccountNotActive, AccountNotFound, CurrencyMismatch, DuplicateOutTradeNo
from ledger.models import Transaction
from ledger.serials import serial_new
from paycenter.errors import IdempotencyKeyReused

SERIAL_ATTEMPTS = 3
T = TypeVar("T")


class AlreadyDone(Exception):
    """The app's Idempotency-Key is already on a record: this request ran before."""

    def __init__(self, txn: Transaction) -> None:
        self.txn = txn


def replayable(use_case: Callable[..., Transaction]) -> Callable[..., Transaction]:
    """Outside the use case's transaction: a request that already ran returns its record
    instead of running twice (transaction_new checked it asked for the same thing)."""

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


def transaction_record(
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


def transaction_new(**fields: object) -> Transaction:
    """The record of a use case (`transaction_record`'s arguments), saved inside the
    caller's transaction; its first write, so a replay stops before anything else."""
    return insert_first(lambda: transaction_record(**fields), _save_in_savepoint)


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


def clearing_account(*, currency: str, now: datetime) -> Account:
    """Where money leaves for, or arrives from, the outside world (banks, channels)."""
    return platform_account(kind=AccountKind.CHANNEL_CLEARING, currency=currency, now=now)


def funding_account(*, currency: str, now: datetime) -> Account:
    """The platform's own funds: the other side of internal recharges and adjustments."""
    return platform_account(kind=AccountKind.PLATFORM_FUNDING, currency=currency, now=now)
