from datetime import datetime

from django.db import transaction

from ledger.choices import Direction, TransactionKind
from ledger.errors import ChannelUnavailable
from ledger.models import Transaction
from ledger.services.journal import Leg, journal_post
from ledger.services.records import funding_account, merchant_account, replayable, transaction_new
from paycenter.dbretry import retry_on_conflict

INTERNAL_CHANNEL = "internal"


@retry_on_conflict
@replayable
@transaction.atomic(durable=True)
def recharge_create(
    *,
    merchant_id: int,
    account_id: int,
    amount_minor: int,
    currency: str,
    now: datetime,
    channel: str = INTERNAL_CHANNEL,
    method: str = "",
    out_trade_no: str | None = None,
    app_id: int | None = None,
    idempotency_key: str | None = None,
) -> Transaction:
    """Top up an account. The internal channel credits at once from platform funds;
    payment channels arrive with the payments issue and credit when they confirm."""
    if channel != INTERNAL_CHANNEL:
        raise ChannelUnavailable(f"Channel {channel!r} is not available for recharges.", field="channel")
    account = merchant_account(merchant_id=merchant_id, account_id=account_id, currency=currency)
    txn = transaction_new(
        kind=TransactionKind.RECHARGE,
        amount_minor=amount_minor,
        currency=currency,
        merchant_id=merchant_id,
        app_id=app_id,
        idempotency_key=idempotency_key,
        payee_account=account,
        channel=channel,
        out_trade_no=out_trade_no,
        metadata={"method": method} if method else {},
        now=now,
    )
    journal_post(
        txn=txn,
        reason="recharge",
        legs=[
            Leg(
                account=funding_account(currency=currency, now=now),
                direction=Direction.DEBIT,
                amount_minor=amount_minor,
            ),
            Leg(account=account, direction=Direction.CREDIT, amount_minor=amount_minor),
        ],
        now=now,
    )
    txn.succeed()
    txn.finished_at = now
    txn.save()
    return txn
