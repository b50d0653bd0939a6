"""Creating transaction records and reading accounts the way every use case needs."""

from datetime import datetime

from django.db import IntegrityError, transaction

from accounts.choices import AccountKind, AccountStatus
from accounts.models import Account, MerchantApp
from accounts.services import platform_account
from ledger.errors import AccountNotActive, AccountNotFound, CurrencyMismatch, DuplicateOutTradeNo
from ledger.models import Transaction
from ledger.serials import serial_new


def transaction_new(
    *,
    kind: str,
    amount_minor: int,
    currency: str,
    merchant_id: int | None,
    now: datetime,
    app: MerchantApp | None = None,
    **fields: object,
) -> Transaction:
    try:
        with transaction.atomic():
            return Transaction.objects.create(
                serial=serial_new(kind=kind, now=now),
                kind=kind,
                amount_minor=amount_minor,
                currency=currency,
                merchant_id=merchant_id,
                app=app,
                created_at=now,
                **fields,
            )
    except IntegrityError:
        if (
            fields.get("out_trade_no")
            and Transaction.objects.filter(app=app, out_trade_no=fields["out_trade_no"]).exists()
        ):
            raise DuplicateOutTradeNo(field="out_trade_no") from None
        raise


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
