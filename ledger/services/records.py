"""Creating transaction records and reading accounts the way every use case needs."""

import functools
from collections.abc import Callable
from datetime import datetime

from django.db import IntegrityError, transaction

from accounts.choices import AccountKind, AccountStatus
from accounts.models import Account, MerchantApp
from accounts.services import platform_account
from ledger.errors import AccountNotActive, AccountNotFound, CurrencyMismatch, DuplicateOutTradeNo
from ledger.models import Transaction
from ledger.serials import serial_new
from paycenter.errors import IdempotencyKeyReused

SERIAL_ATTEMPTS = 3


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


def replay_if_done(*, app: MerchantApp, key: str, kind: str, amount_minor: int) -> None:
    done = Transaction.objects.filter(app=app, idempotency_key=key).first()
    if done is None:
        return
    if done.kind != kind or done.amount_minor != amount_minor:
        raise IdempotencyKeyReused()
    raise AlreadyDone(done)


def transaction_new(
    *,
    kind: str,
    amount_minor: int,
    currency: str,
    merchant_id: int | None,
    now: datetime,
    app: MerchantApp | None = None,
    idempotency_key: str | None = None,
    **fields: object,
) -> Transaction:
    """The record of a use case; its first write, so a replay stops before anything else."""
    if app is None:
        idempotency_key = None
    if idempotency_key is not None:
        replay_if_done(app=app, key=idempotency_key, kind=kind, amount_minor=amount_minor)
    for attempt in range(SERIAL_ATTEMPTS):
        serial = serial_new(kind=kind, now=now)
        try:
            with transaction.atomic():
                return Transaction.objects.create(
                    serial=serial,
                    kind=kind,
                    amount_minor=amount_minor,
                    currency=currency,
                    merchant_id=merchant_id,
                    app=app,
                    idempotency_key=idempotency_key,
                    created_at=now,
                    **fields,
                )
        except IntegrityError:
            if idempotency_key is not None:
                replay_if_done(app=app, key=idempotency_key, kind=kind, amount_minor=amount_minor)
            out_trade_no = fields.get("out_trade_no")
            taken = Transaction.objects.filter(app=app, kind=kind, out_trade_no=out_trade_no).exclude(
                status="failed"
            )
            if out_trade_no and taken.exists():
                raise DuplicateOutTradeNo(field="out_trade_no") from None
            if attempt + 1 == SERIAL_ATTEMPTS or not Transaction.objects.filter(serial=serial).exists():
                raise
    raise AssertionError("unreachable")


def merchant_account(*, merchant_id: int, account_id: int, currency: str | None = None) -> Account:
    """One of the merchant's own accounts, open, in the expected currency."""
    account = Account.objects.filter(pk=account_id, merchant_id=merchant_id).first()
    if account is None:
        raise AccountNotFound(field="account_id")
    if account.status == AccountStatus.CLOSED:
        raise AccountNotActive()
    if currency is not None and account.currency != currency:
        raise CurrencyMismatch(field="currency")
    return account


def clearing_account(*, currency: str, now: datetime) -> Account:
    """Where money leaves for, or arrives from, the outside world (banks, channels)."""
    return platform_account(kind=AccountKind.CHANNEL_CLEARING, currency=currency, now=now)


def funding_account(*, currency: str, now: datetime) -> Account:
    """The platform's own funds: the other side of internal recharges and adjustments."""
    return platform_account(kind=AccountKind.PLATFORM_FUNDING, currency=currency, now=now)
