"""Recharges (A4): money into an account through a payment channel. The same lifecycle as
a payment — pending, the channel's page, the signed notification, the active query when it
is lost, `unknown` on a timeout — and the account is credited from channel clearing exactly
once, when the channel confirms the money arrived. No app-facing path credits an account
otherwise: platform-funded credits are finance's adjustments (ledger.services.adjustments).
"""

from datetime import datetime, timedelta

from django.db import transaction

from channels.errors import ChannelUnavailable
from channels.services import Route, route
from ledger.choices import TransactionKind
from ledger.models import Transaction
from ledger.services.collect import PaymentRequest, channel_collect, default_method
from ledger.services.records import AlreadyDone, attempt_existing, merchant_account, transaction_insert


def recharge_create(
    *,
    app_id: int,
    merchant_id: int,
    account_id: int,
    request: PaymentRequest,
    now: datetime,
    idempotency_key: str | None = None,
) -> Transaction:
    existing = attempt_existing(
        app_id=app_id,
        kind=TransactionKind.RECHARGE,
        out_trade_no=request.out_trade_no,
        idempotency_key=idempotency_key,
        now=now,
    )
    if existing is not None:
        return existing
    routes = [
        r
        for r in route(
            merchant_id=merchant_id,
            channel=request.channel,
            method=request.method,
            amount_minor=request.amount_minor,
            now=now,
        )
        if not r.plugin.internal
    ]
    if not routes:
        # A wallet cannot top itself up from a wallet: the money must come from outside.
        raise ChannelUnavailable(f"Channel {request.channel!r} cannot recharge.", field="channel")
    try:
        txn = _prerecharge(
            app_id=app_id,
            merchant_id=merchant_id,
            account_id=account_id,
            request=request,
            first=routes[0],
            key=idempotency_key,
            now=now,
        )
    except AlreadyDone as done:  # a concurrent twin with the same key committed first
        return done.txn
    return channel_collect(txn=txn, routes=routes, request=request, now=now)


@transaction.atomic(durable=True)
def _prerecharge(
    *,
    app_id: int,
    merchant_id: int,
    account_id: int,
    request: PaymentRequest,
    first: Route,
    key: str | None,
    now: datetime,
) -> Transaction:
    account = merchant_account(merchant_id=merchant_id, account_id=account_id, currency=request.currency)
    return transaction_insert(
        kind=TransactionKind.RECHARGE,
        amount_minor=request.amount_minor,
        currency=request.currency,
        merchant_id=merchant_id,
        app_id=app_id,
        idempotency_key=key,
        out_trade_no=request.out_trade_no,
        payee_account=account,
        memo=request.subject,
        channel=first.mc.channel,
        merchant_channel=first.mc,
        method=request.method or default_method(first.plugin.methods),
        expires_at=now + timedelta(seconds=request.expire_seconds),
        metadata=request.metadata,
        now=now,
    )
