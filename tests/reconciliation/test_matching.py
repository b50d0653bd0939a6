"""Matching: each class of difference, the fallbacks, and nothing changed in the ledger."""

import io
from datetime import timedelta

import pytest
from django.utils import timezone

from ledger.models import Transaction
from reconciliation.errors import StatementInvalid
from reconciliation.models import Discrepancy, ReconBatch, StatementLine
from reconciliation.services import batch_match, statement_import
from tests.reconciliation.builders import bulk_payments, generic_csv, generic_row, yuan
from tests.reconciliation.conftest import DAY, DAY_START, ledger_fingerprint

pytestmark = pytest.mark.django_db


def _import_and_match(mc, data: bytes, *, format: str = "generic") -> ReconBatch:
    batch = statement_import(
        merchant_channel_id=mc.pk, format=format, day=DAY, file=io.BytesIO(data), now=timezone.now()
    )
    return batch_match(batch_id=batch.pk, now=timezone.now())


def _classes(batch: ReconBatch) -> dict:
    return {kind: v["count"] for kind, v in batch.summary["classes"].items() if v["count"]}


def test_every_class_with_both_sides_and_nothing_in_the_ledger_changed(mc, merchant):
    # Given nine payments and a refund of ours, and a channel that reports them with differences
    txns = bulk_payments(mc=mc, merchant=merchant, count=9, day_start=DAY_START + timedelta(hours=1))
    fine, amount, status, currency, fee, by_serial, by_order, missing_channel, failed = txns
    Transaction.objects.filter(pk=status.pk).update(status="pending")
    Transaction.objects.filter(pk=failed.pk).update(status="failed")
    refund = Transaction.objects.create(
        serial="RFDT1", kind="refund", status="succeeded", merchant=merchant, channel="sandbox",
        channel_trade_no="CHR1", amount_minor=300, currency="CNY", merchant_channel=mc, refund_of=fine,
        created_at=DAY_START + timedelta(hours=3), finished_at=DAY_START + timedelta(hours=3),
    )  # fmt: skip
    rows = [
        generic_row(fine),
        generic_row(amount, amount=yuan(amount.amount_minor + 1)),
        generic_row(status),
        generic_row(currency, currency="USD"),
        generic_row(fee, fee="9.99"),
        generic_row(by_serial, channel_trade_no="OTHER-1"),  # falls back to our serial
        generic_row(by_order, channel_trade_no="OTHER-2", trade_no=""),  # then to the app's number
        generic_row(failed, status="failed"),  # both sides agree: nothing moved
        generic_row(refund, fee="-0.02"),  # a refund returning part of the fee
        {**generic_row(fine), "channel_trade_no": "UNKNOWN-1", "trade_no": "PAYX", "out_trade_no": ""},
    ]
    before = ledger_fingerprint()

    # When the statement is imported and matched
    batch = _import_and_match(mc, generic_csv(rows))

    # Then each difference is one discrepancy of its class, with both sides' values
    assert batch.state == "with_discrepancies"
    assert _classes(batch) == {
        "amount_mismatch": 1,
        "status_mismatch": 1,
        "currency_mismatch": 1,
        "fee_mismatch": 1,
        "missing_ours": 1,
        "missing_channel": 1,
    }
    found = {d.kind: d for d in Discrepancy.objects.filter(batch=batch)}
    assert (found["amount_mismatch"].channel_amount_minor, found["amount_mismatch"].our_amount_minor) == (
        amount.amount_minor + 1,
        amount.amount_minor,
    )
    assert (found["status_mismatch"].channel_status, found["status_mismatch"].our_status) == (
        "succeeded",
        "pending",
    )
    assert (found["currency_mismatch"].channel_currency, found["currency_mismatch"].our_currency) == (
        "USD",
        "CNY",
    )
    assert (found["fee_mismatch"].channel_fee_minor, found["fee_mismatch"].expected_fee_minor) == (999, 6)
    assert found["missing_ours"].channel_serial == "UNKNOWN-1" and found["missing_ours"].transaction is None
    assert (
        found["missing_channel"].transaction_id == missing_channel.pk
        and found["missing_channel"].line is None
    )
    matched = dict(StatementLine.objects.filter(batch=batch).values_list("channel_serial", "transaction_id"))
    assert matched["OTHER-1"] == by_serial.pk and matched["OTHER-2"] == by_order.pk
    assert matched["CHR1"] == refund.pk
    # fine, by serial, by order number, the refund, and the failed one both sides agree on
    assert batch.summary["matched"]["count"] == 5
    # ... and matching changed nothing in the ledger
    assert ledger_fingerprint() == before

    # When it is matched again, nothing is added
    ids = set(Discrepancy.objects.values_list("id", flat=True))
    again = batch_match(batch_id=batch.pk, now=timezone.now())
    assert set(Discrepancy.objects.values_list("id", flat=True)) == ids
    assert _classes(again) == _classes(batch)


def test_a_balanced_day(mc, merchant):
    txns = bulk_payments(mc=mc, merchant=merchant, count=3, day_start=DAY_START)
    batch = _import_and_match(mc, generic_csv([generic_row(t) for t in txns]))
    assert batch.state == "balanced"
    assert _classes(batch) == {}
    assert batch.summary["lines"]["payment_minor"] == {"CNY": sum(t.amount_minor for t in txns)}
    assert batch.summary["ours"]["count"] == 3


def test_a_difference_that_no_longer_holds_is_dropped_when_matched_again(mc, merchant):
    # Given a day where one of ours was missing at the channel
    first, late = bulk_payments(mc=mc, merchant=merchant, count=2, day_start=DAY_START)
    batch = _import_and_match(mc, generic_csv([generic_row(first)]))
    assert _classes(batch) == {"missing_channel": 1}
    # When the channel's line turns up (re-sent in the same file) and the day is matched again
    batch = _import_and_match(mc, generic_csv([generic_row(first), generic_row(late)]))
    # Then the day balances
    assert batch.state == "balanced" and not Discrepancy.objects.filter(batch=batch).exists()


def test_unreadable_rows_refuse_the_file_unless_skipped(mc, merchant):
    (txn,) = bulk_payments(mc=mc, merchant=merchant, count=1, day_start=DAY_START)
    data = generic_csv([generic_row(txn), {**generic_row(txn), "channel_trade_no": "X", "amount": "1.2.3"}])
    with pytest.raises(StatementInvalid) as refused:
        statement_import(
            merchant_channel_id=mc.pk, format="generic", day=DAY, file=io.BytesIO(data), now=timezone.now()
        )
    assert [(e.row_number, e.column) for e in refused.value.errors] == [(3, "amount")]
    assert not StatementLine.objects.exists() and not ReconBatch.objects.exists()
    batch = statement_import(
        merchant_channel_id=mc.pk, format="generic", day=DAY, file=io.BytesIO(data), now=timezone.now(),
        skip_invalid_rows=True,
    )  # fmt: skip
    assert StatementLine.objects.filter(batch=batch).count() == 1
    assert batch.import_errors == [
        {"row": 3, "column": "amount", "message": "'1.2.3' is not a decimal amount."}
    ]


def _of_channel(mc, channel: str):
    mc.channel = channel
    mc.save(update_fields=["channel"])
    return mc


def _payment_and_refund(mc, merchant, at):
    payment = Transaction.objects.create(
        serial="PAYW1", kind="payment", status="partially_refunded", merchant=merchant, channel=mc.channel,
        channel_trade_no="4200001", amount_minor=10000, paid_minor=10000, refunded_minor=2500, currency="CNY",
        merchant_channel=mc, created_at=at, finished_at=at,
    )  # fmt: skip
    refund = Transaction.objects.create(
        serial="RFDW1", kind="refund", status="succeeded", merchant=merchant, channel=mc.channel,
        channel_trade_no="5030001", amount_minor=2500, currency="CNY", merchant_channel=mc, refund_of=payment,
        created_at=at, finished_at=at + timedelta(hours=1),
    )  # fmt: skip
    return payment, refund


def test_a_wechat_pay_bill_balances_in_beijing_time(mc, merchant):
    from tests.reconciliation.builders import wechat_bill

    _of_channel(mc, "wechatpay")
    # 00:30 Beijing on the 1st is still the 30th in UTC: the bill's day is Beijing's
    _payment_and_refund(mc, merchant, DAY_START - timedelta(hours=7, minutes=30))
    data = wechat_bill(
        [{"at": "2026-12-01 00:30:00", "transaction_id": "4200001", "out_trade_no": "PAYW1", "fen": 10000}],
        [{"at": "2026-12-01 01:30:00", "transaction_id": "4200001", "out_trade_no": "PAYW1",
          "refund_id": "5030001", "out_refund_no": "RFDW1", "fen": 2500}],
    )  # fmt: skip
    batch = _import_and_match(mc, data, format="wechatpay")
    assert batch.state == "balanced", batch.summary
    assert batch.summary["statement"]["fee_minor"] == 60 - 15
    assert batch.summary["lines"]["fee_minor"] == {"CNY": 45}


def test_an_alipay_zip_bill_matches_refunds_by_request_number(mc, merchant):
    from tests.reconciliation.builders import alipay_detail, alipay_zip

    _of_channel(mc, "alipay")
    _, refund = _payment_and_refund(mc, merchant, DAY_START - timedelta(hours=7))
    Transaction.objects.filter(pk=refund.pk).update(
        channel_trade_no="RFDW1"
    )  # Alipay's refund number is ours
    detail = alipay_detail(
        [{"trade_no": "4200001", "out_trade_no": "PAYW1", "fen": 10000, "at": "2026-12-01 01:00:00"}],
        [{"trade_no": "4200001", "out_trade_no": "PAYW1", "fen": 2500, "request_no": "RFDW1",
          "at": "2026-12-01 02:00:00"}],
    )  # fmt: skip
    batch = _import_and_match(mc, alipay_zip(detail), format="alipay")
    assert batch.state == "balanced", batch.summary
    assert batch.summary["statement"] == {
        "payments_count": 1, "payments_minor": 10000, "refunds_count": 1, "refunds_minor": 2500,
    }  # fmt: skip
