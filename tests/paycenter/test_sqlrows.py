"""paycenter.sqlrows writes a model instance exactly as save() would: every column, every
value to the microsecond, JSON as JSON, NULLs as NULL."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from ledger.models import Transaction
from paycenter.models import IdempotencyRecord, OutboxMessage
from paycenter.sqlrows import execute_prepared, insert_step

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql", reason="data-modifying CTEs")

NOW = datetime(2026, 12, 3, 21, 0, 0, 123456, tzinfo=UTC)


def written(obj):
    step = insert_step(type(obj), name="row0", source="(SELECT 1) AS one")
    [row_id] = execute_prepared(f"WITH {step.sql} SELECT id FROM row0", {"row0": step.param(obj)})
    return type(obj).objects.get(pk=row_id)


def columns(obj, *, leave_out=()):
    return {
        f.attname: getattr(obj, f.attname)
        for f in obj._meta.concrete_fields
        if not f.primary_key and f.attname not in leave_out
    }


@pytest.mark.django_db
def test_a_transaction_is_the_row_save_writes(onboarded):
    merchant, app, _ = onboarded
    fields = {
        "kind": "payment",
        "status": "succeeded",
        "merchant_id": merchant.pk,
        "app_id": app.pk,
        "amount_minor": 9_007_199_254_740_993,  # past a double's exact integers
        "currency": "CNY",
        "paid_minor": 12_30,
        "memo": 'Tea "oolong" \\ 茶',
        "metadata": {"nested": {"list": [1, 2.5, None, True]}, "text": "ü"},
        "action": {},
        "expires_at": NOW + timedelta(minutes=15),
        "created_at": NOW,
        "finished_at": NOW,
    }
    saved = Transaction(serial="T-saved", idempotency_key="k-saved", out_trade_no="o-1", **fields)
    saved.save(force_insert=True)
    by_statement = written(
        Transaction(serial="T-written", idempotency_key="k-written", out_trade_no="o-2", **fields)
    )
    saved.refresh_from_db()
    leave_out = ("serial", "idempotency_key", "out_trade_no")
    assert columns(by_statement, leave_out=leave_out) == columns(saved, leave_out=leave_out)
    assert by_statement.created_at == NOW  # microseconds kept


@pytest.mark.django_db
def test_kernel_rows_too():
    record = IdempotencyRecord(
        app_id="app_1", key="k", fingerprint="f" * 64, status="completed", response_status=201,
        response_body='{"id":"T1"}', created_at=NOW, completed_at=NOW,
    )  # fmt: skip
    assert columns(written(record)) == columns(record)
    message = OutboxMessage(
        topic="events", subscriber="webhook", payload={"a": [1]}, next_attempt_at=NOW, created_at=NOW
    )
    assert columns(written(message)) == columns(message)
