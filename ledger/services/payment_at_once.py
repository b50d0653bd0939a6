"""A balance payment captured at once, written by one SQL statement (docs/payments.md, "The
hot path"; PostgreSQL only).

`at_once_build` makes the record, unsaved and already succeeded, so that the caller can
describe it before it exists; `at_once_commit` writes everything the general path
(`payment_create` → `_pay_from_balance`) writes for it, in one statement that is its own
transaction: the payer's conditional debit, the record, the journal entry with its two
postings (the merchant's credit buffered), the event's outbox rows, and the caller's own
rows that stand or fall with the payment (`also`: the stored API response). The constraints
and the journal's balance trigger hold it exactly as they hold the general path.

It writes nothing, and says so, unless every guard holds: an active balance channel for the
amount, the merchant's settlement account, a payer that is a usable account of this merchant
in this currency with the funds, no live attempt at the app's number and no failure of it
under 15 s ago. A unique constraint refusing a row (the key or the number taken by a
concurrent request) raises IntegrityError, equally with nothing written. Either way the
caller takes the general path, which tells which guard failed (or, things having changed
meanwhile, pays).
"""

import functools
from datetime import datetime, timedelta

from django.db import connection, models, transaction

from accounts.choices import AccountKind, AccountStatus
from accounts.models import Account
from channels.choices import ChannelState, MerchantChannelStatus, Method
from channels.models import MerchantChannel
from ledger.choices import Direction, TransactionKind, TransactionStatus
from ledger.models import JournalEntry, Posting, Transaction
from ledger.services.collect import PaymentRequest
from ledger.services.events import event_payload
from ledger.services.journal import schedule_apply
from ledger.services.records import RETRY_AFTER_FAILURE, transaction_build
from paycenter.models import OutboxMessage
from paycenter.outbox import EVENTS_TOPIC, outbox_enqueue, outbox_rows
from paycenter.sqlrows import InsertStep, execute_prepared, insert_step

_ACCOUNT = Account._meta.db_table
_CHANNEL = MerchantChannel._meta.db_table
_TRANSACTION = Transaction._meta.db_table

_GUARDS = f"""channel AS (SELECT id FROM {_CHANNEL}
 WHERE merchant_id=%(merchant)s::int8 AND channel='balance' AND status=%(channel_active)s::text
 AND min_amount_minor<=%(amount)s::int8 AND (max_amount_minor IS NULL OR max_amount_minor>=%(amount)s::int8)
 ORDER BY priority,id LIMIT 1),
payee AS (SELECT id FROM {_ACCOUNT} WHERE merchant_id=%(merchant)s::int8 AND kind=%(settlement)s::text
 AND currency=%(currency)s::text AND customer_id IS NULL AND buffered ORDER BY id LIMIT 1),
payer AS (UPDATE {_ACCOUNT} SET total_minor=total_minor-%(amount)s::int8,
 available_minor=available_minor-%(amount)s::int8, seq=seq+1
 WHERE id=%(payer)s::int8 AND merchant_id=%(merchant)s::int8 AND currency=%(currency)s::text
 AND kind<>%(settlement)s::text AND status=%(account_active)s::text AND NOT buffered
 AND (allow_overdraft OR available_minor>=%(amount)s::int8)
 AND EXISTS (SELECT 1 FROM channel) AND EXISTS (SELECT 1 FROM payee)
 AND NOT EXISTS (SELECT 1 FROM {_TRANSACTION} WHERE app_id=%(app)s::int8 AND kind=%(kind)s::text
  AND out_trade_no=%(out_trade_no)s::text
  AND (status<>%(failed)s::text OR finished_at>%(retry_since)s::timestamptz))
 RETURNING id,seq,total_minor)"""  # noqa: S608 (table names are ours)


def _guard_params(txn: Transaction, *, payer_account_id: int) -> dict:
    return {
        "merchant": txn.merchant_id,
        "app": txn.app_id,
        "amount": txn.amount_minor,
        "currency": txn.currency,
        "payer": payer_account_id,
        "kind": txn.kind,
        "out_trade_no": txn.out_trade_no,
        "failed": TransactionStatus.FAILED.value,
        "retry_since": txn.created_at - RETRY_AFTER_FAILURE,
        "channel_active": MerchantChannelStatus.ACTIVE.value,
        "account_active": AccountStatus.ACTIVE.value,
        "settlement": AccountKind.MERCHANT_SETTLEMENT.value,
    }


_PAYEE = {"payer_account_id": "payer.id", "payee_account_id": "payee.id", "merchant_channel_id": "channel.id"}
# The payer's debit is applied at once (its position comes from the UPDATE); the merchant's
# hot account is credited through its buffer.
_APPLIED = {"seq": "payer.seq", "balance_after_minor": "payer.total_minor"}
_STEPS = {
    "txn": (Transaction, "payer,payee,channel", _PAYEE),
    "entry": (JournalEntry, "txn", {"transaction_id": "txn.id"}),
    "debit": (Posting, "entry,payer", {"entry_id": "entry.id", "account_id": "payer.id", **_APPLIED}),
    "credit": (Posting, "entry,payee", {"entry_id": "entry.id", "account_id": "payee.id"}),
}


def _step(name: str, model: type[models.Model] | None = None) -> InsertStep:
    if model is not None:  # a row of the event or of the caller
        return insert_step(model, name=name, source="txn")
    model, source, computed = _STEPS[name]
    return insert_step(model, name=name, source=source, computed=tuple(computed.items()))


@functools.cache
def _statement(extra: tuple[type[models.Model], ...], messages: int) -> str:
    """The statement for a payment with these extra rows, the first `messages` of them
    outbox rows whose ids it returns."""
    steps = [_GUARDS, *(_step(name).sql for name in _STEPS)]
    steps += [_step(f"row{n}", model).sql for n, model in enumerate(extra)]
    ids = [f"SELECT id FROM row{n}" for n in range(messages)] or ["SELECT NULL::int8 WHERE FALSE"]  # noqa: S608
    returned = f"txn.id,payer.id,payee.id,channel.id,ARRAY({' UNION ALL '.join(ids)})"
    return f"WITH {','.join(steps)} SELECT {returned} FROM txn,payer,payee,channel"  # noqa: S608


def at_once_build(
    *, app_id: int, merchant_id: int, request: PaymentRequest, idempotency_key: str | None, now: datetime
) -> Transaction:
    return transaction_build(
        kind=TransactionKind.PAYMENT,
        amount_minor=request.amount_minor,
        currency=request.currency,
        merchant_id=merchant_id,
        app_id=app_id,
        idempotency_key=idempotency_key,
        out_trade_no=request.out_trade_no,
        memo=request.subject,
        channel="balance",
        method=Method.BALANCE,
        status=TransactionStatus.SUCCEEDED,
        channel_state=ChannelState.SUCCEEDED,
        paid_minor=request.amount_minor,
        finished_at=now,
        expires_at=now + timedelta(seconds=request.expire_seconds),
        metadata=request.metadata,
        now=now,
    )


def at_once_commit(
    *,
    txn: Transaction,
    payer_account_id: int,
    also: tuple[models.Model, ...] = (),
    event_data: dict | None = None,
) -> bool:
    """True when the payment is written (committed, or part of the caller's transaction);
    `txn` then has its id and accounts. `event_data`: the record's representation, when the
    caller has made it already."""
    now = txn.created_at
    entry = JournalEntry(reason="payment", created_at=now)
    legs = [
        Posting(direction=direction, amount_minor=txn.amount_minor, currency=txn.currency, created_at=now)
        for direction in (Direction.DEBIT, Direction.CREDIT)
    ]
    legs[1].applied = False
    payload = event_payload(txn=txn, event_type="payment.succeeded", now=now, data=event_data)
    extra = [*outbox_rows(topic=EVENTS_TOPIC, payload=payload, now=now), *also]
    messages = sum(isinstance(row, OutboxMessage) for row in extra)
    params = _guard_params(txn, payer_account_id=payer_account_id)
    for name, row in zip(_STEPS, [txn, entry, *legs], strict=True):
        params[name] = _step(name).param(row)
    for number, row in enumerate(extra):
        params[f"row{number}"] = _step(f"row{number}", type(row)).param(row)
    row = _execute(_statement(tuple(type(row) for row in extra), messages), params)
    if row is None:
        return False
    txn.pk, txn.payer_account_id, txn.payee_account_id, txn.merchant_channel_id, message_ids = row
    _after_commit(lambda: _follow_up(payee_id=txn.payee_account_id, message_ids=message_ids))
    return True


def _execute(sql: str, params: dict) -> tuple | None:
    if connection.in_atomic_block:
        # Inside a caller's transaction a savepoint keeps a refused row from aborting it.
        with transaction.atomic():
            return execute_prepared(sql, params)
    # In autocommit the one statement is its own transaction: no BEGIN, no COMMIT.
    return execute_prepared(sql, params)


def _after_commit(run: object) -> None:
    if connection.in_atomic_block:
        transaction.on_commit(run)
    else:
        run()


def _follow_up(*, payee_id: int, message_ids: list[int]) -> None:
    schedule_apply(account_id=payee_id)
    if message_ids:
        outbox_enqueue(message_ids)
