"""Creating a payment (ARCHITECTURE: the payment, steps 1 to 3):

1. checks: a replay returns the payment already made; another live attempt at the app's
   number, or one that failed under 15 s ago, is refused; routing picks the channels;
2. pre-payment in one transaction: the record `pending`, the payer's funds frozen when a
   balance pre-authorization holds them;
3. the channel call, outside any transaction (`channel_collect`).

A balance payment captured at once has no channel to wait for: `_pay_from_balance` does all
three in one local transaction (docs/payments.md).
"""

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q

from accounts.choices import AccountKind
from accounts.models import Account
from channels.choices import ChannelState, Method
from channels.models import MerchantChannel
from channels.services import Route, route
from ledger.choices import Direction, TransactionKind, TransactionStatus
from ledger.errors import AccountNotFound, SameAccount
from ledger.models import Transaction
from ledger.services.collect import PaymentRequest, channel_collect, default_method
from ledger.services.events import event_emit
from ledger.services.holds import hold_freeze
from ledger.services.journal import Leg, journal_post
from ledger.services.records import (
    AlreadyDone,
    attempt_existing,
    check_usable,
    insert_first,
    settlement_account_get_or_open,
    transaction_build,
    transaction_insert,
)
from ledger.services.splits import SPLIT_PAYMENT, details_write, split_legs, splits_check
from paycenter.errors import InvalidRequest

S = TransactionStatus


def payment_create(
    *,
    app_id: int,
    merchant_id: int,
    request: PaymentRequest,
    now: datetime,
    idempotency_key: str | None = None,
) -> Transaction:
    existing = attempt_existing(
        app_id=app_id,
        kind=TransactionKind.PAYMENT,
        out_trade_no=request.out_trade_no,
        idempotency_key=idempotency_key,
        now=now,
    )
    if existing is not None:
        return existing
    splits_check(request.splits, amount_minor=request.amount_minor, capture=request.capture)
    routes = route(
        merchant_id=merchant_id,
        channel=request.channel,
        method=request.method,
        amount_minor=request.amount_minor,
        now=now,
    )
    if routes[0].plugin.internal and request.capture:
        return _pay_from_balance(
            app_id=app_id,
            merchant_id=merchant_id,
            request=request,
            mc=routes[0].mc,
            key=idempotency_key,
            now=now,
        )
    try:
        txn = _prepay(
            app_id=app_id,
            merchant_id=merchant_id,
            request=request,
            first=routes[0],
            key=idempotency_key,
            now=now,
        )
    except AlreadyDone as done:  # a concurrent twin with the same key committed first
        return done.txn
    return channel_collect(txn=txn, routes=routes, request=request, now=now)


def _pay_from_balance(
    *,
    app_id: int,
    merchant_id: int,
    request: PaymentRequest,
    mc: MerchantChannel,
    key: str | None,
    now: datetime,
) -> Transaction:
    """The wallet is the channel, so there is nothing to wait for: try and confirm collapse
    into one local transaction. The payer's conditional debit is the freeze and its
    confirmation at once, and the record is written already succeeded (docs/payments.md).
    A pre-authorization (capture: false) still holds the funds."""
    fields = _payment_fields(app_id=app_id, merchant_id=merchant_id, request=request, mc=mc, key=key, now=now)
    try:
        return insert_first(
            lambda: transaction_build(
                **fields,
                method=Method.BALANCE,
                status=S.SUCCEEDED,
                channel_state=ChannelState.SUCCEEDED,
                paid_minor=request.amount_minor,
                finished_at=now,
            ),
            lambda record: _pay_from_balance_commit(
                record, payer_account_id=request.payer_account_id, splits=request.splits, now=now
            ),
        )
    except AlreadyDone as done:  # a concurrent twin with the same key committed first
        return done.txn


def _payment_fields(
    *,
    app_id: int,
    merchant_id: int,
    request: PaymentRequest,
    mc: MerchantChannel,
    key: str | None,
    now: datetime,
) -> dict:
    """What every new payment record says, whichever way it is paid."""
    return {
        "kind": TransactionKind.PAYMENT,
        "amount_minor": request.amount_minor,
        "currency": request.currency,
        "merchant_id": merchant_id,
        "app_id": app_id,
        "idempotency_key": key,
        "out_trade_no": request.out_trade_no,
        "memo": request.subject,
        "channel": mc.channel,
        "merchant_channel": mc,
        "expires_at": now + timedelta(seconds=request.expire_seconds),
        "metadata": request.metadata,
        "now": now,
    }


@transaction.atomic(durable=True)
def _pay_from_balance_commit(
    record: Transaction, *, payer_account_id: int | None, splits: tuple, now: datetime
) -> Transaction:
    payer, payee = _balance_accounts(
        merchant_id=record.merchant_id, payer_account_id=payer_account_id, currency=record.currency, now=now
    )
    record.payer_account, record.payee_account = payer, payee
    record.save(force_insert=True)
    amount = record.amount_minor
    debit = Leg(account=payer, direction=Direction.DEBIT, amount_minor=amount)
    if splits:
        details = details_write(txn=record, splits=splits)
        shares = split_legs(txn=record, details=details, now=now)
        journal_post(txn=record, reason=SPLIT_PAYMENT, legs=[debit, *shares], now=now)
    else:
        credit = Leg(account=payee, direction=Direction.CREDIT, amount_minor=amount)
        journal_post(txn=record, reason="payment", legs=[debit, credit], now=now)
    event_emit(txn=record, event_type="payment.succeeded", now=now)
    return record


def _balance_accounts(
    *, merchant_id: int, payer_account_id: int | None, currency: str, now: datetime
) -> tuple[Account, Account]:
    """The payer's wallet and the merchant's settlement account, read together."""
    if payer_account_id is None:
        raise InvalidRequest("Balance payments need payer_account_id.", field="payer_account_id")
    settlement = Q(kind=AccountKind.MERCHANT_SETTLEMENT, currency=currency, customer__isnull=True)
    rows = {
        a.pk: a for a in Account.objects.filter(Q(pk=payer_account_id) | settlement, merchant_id=merchant_id)
    }
    payer = rows.pop(payer_account_id, None)
    if payer is None:
        raise AccountNotFound(field="payer_account_id")
    check_usable(payer, currency=currency)
    if payer.kind == AccountKind.MERCHANT_SETTLEMENT:  # of this currency: the payee itself
        raise SameAccount(
            "The merchant's settlement account cannot pay the merchant.", field="payer_account_id"
        )
    payee = next(iter(rows.values()), None) or settlement_account_get_or_open(
        merchant_id=merchant_id, currency=currency, now=now
    )
    return payer, payee


@transaction.atomic(durable=True)
def _prepay(
    *,
    app_id: int,
    merchant_id: int,
    request: PaymentRequest,
    first: Route,
    key: str | None,
    now: datetime,
) -> Transaction:
    if first.plugin.internal:
        payer, payee = _balance_accounts(
            merchant_id=merchant_id,
            payer_account_id=request.payer_account_id,
            currency=request.currency,
            now=now,
        )
    else:
        payee = settlement_account_get_or_open(merchant_id=merchant_id, currency=request.currency, now=now)
        payer = None
    txn = transaction_insert(
        **_payment_fields(
            app_id=app_id, merchant_id=merchant_id, request=request, mc=first.mc, key=key, now=now
        ),
        method=request.method or default_method(first.plugin.methods),
        payer_account=payer,
        payee_account=payee,
    )
    details_write(txn=txn, splits=request.splits)
    if payer is not None:
        # An unpaid payment's hold lapses with it; an authorization's lives until it is
        # captured or voided (the expiry sweep voids it after AUTHORIZATION_TTL).
        hold_freeze(
            key=f"payment:{txn.serial}",
            account=payer,
            amount_minor=request.amount_minor,
            txn=txn,
            expires_at=txn.expires_at if request.capture else None,
            now=now,
        )
    return txn
