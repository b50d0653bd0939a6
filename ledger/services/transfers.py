from datetime import datetime

from django.db import transaction

from ledger.choices import Direction, TransactionKind
from ledger.errors import SameAccount
from ledger.models import Transaction
from ledger.services.journal import Leg, journal_post
from ledger.services.records import merchant_account, replayable, transaction_insert
from paycenter.dbretry import retry_on_conflict


@retry_on_conflict
@replayable
@transaction.atomic(durable=True)
def transfer_create(
    *,
    merchant_id: int,
    from_account_id: int,
    to_account_id: int,
    amount_minor: int,
    currency: str,
    now: datetime,
    memo: str = "",
    app_id: int | None = None,
    idempotency_key: str | None = None,
) -> Transaction:
    """Move money between two of the merchant's accounts at once, all or nothing."""
    if from_account_id == to_account_id:
        raise SameAccount(field="to_account_id")
    source = merchant_account(merchant_id=merchant_id, account_id=from_account_id, currency=currency)
    target = merchant_account(merchant_id=merchant_id, account_id=to_account_id, currency=currency)
    txn = transaction_insert(
        kind=TransactionKind.TRANSFER,
        amount_minor=amount_minor,
        currency=currency,
        merchant_id=merchant_id,
        app_id=app_id,
        idempotency_key=idempotency_key,
        payer_account=source,
        payee_account=target,
        memo=memo,
        now=now,
    )
    journal_post(
        txn=txn,
        reason="transfer",
        legs=[
            Leg(account=source, direction=Direction.DEBIT, amount_minor=amount_minor),
            Leg(account=target, direction=Direction.CREDIT, amount_minor=amount_minor),
        ],
        now=now,
    )
    txn.succeed()
    txn.finished_at = now
    txn.save()
    return txn
