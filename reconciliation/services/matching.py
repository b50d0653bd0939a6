# ruff: noqa: S608  (the SQL is built from our own table names and choices; values are parameters)
"""Matching (F2): a batch's lines against the merchant channel's payments and refunds —
by the channel's serial, then our serial, then the app's order number (only when exactly
one transaction has it) — and every difference recorded as a Discrepancy of one class.

All of it is set-based SQL over the batch, so a day of a million lines is a handful of
statements. Matching writes lines' `transaction`, discrepancies and the batch's summary,
and nothing else: no journal entry, no transaction is changed (finance decides). Running
it again finds the same differences (unique per batch, class and line or transaction);
open ones that no longer hold are dropped, decided ones are kept."""

from datetime import UTC, date, datetime, time, timedelta, tzinfo

from django.conf import settings
from django.db import connection, transaction

from channels.plugins.wechatpay.bill import BEIJING
from ledger.choices import TransactionKind, TransactionStatus
from ledger.models import Transaction
from paycenter.errors import NotFound
from reconciliation.choices import BatchState, DiscrepancyClass, DiscrepancyState, StatementFormat
from reconciliation.errors import BatchClosed
from reconciliation.models import Discrepancy, ReconBatch, StatementLine

L = StatementLine._meta.db_table
T = Transaction._meta.db_table
D = Discrepancy._meta.db_table
C = DiscrepancyClass
S = TransactionStatus
# The day a statement covers, in the channel's own time zone.
DAY_ZONE: dict[str, tzinfo] = {
    StatementFormat.SANDBOX: UTC,
    StatementFormat.GENERIC: UTC,
    StatementFormat.WECHATPAY: BEIJING,
    StatementFormat.ALIPAY: BEIJING,
}
# What "the money moved" is on our side, per kind.
MOVED = f"""(
    (t.kind = '{TransactionKind.PAYMENT}'
     AND t.status IN ('{S.SUCCEEDED}', '{S.PARTIALLY_REFUNDED}', '{S.REFUNDED}'))
    OR (t.kind = '{TransactionKind.REFUND}' AND t.status = '{S.SUCCEEDED}'))"""
# What moved, on our side: a payment's captured or paid amount, else what was asked.
OUR_AMOUNT = f"""CASE WHEN t.kind = '{TransactionKind.PAYMENT}'
    THEN COALESCE(t.captured_minor, t.paid_minor, t.amount_minor) ELSE t.amount_minor END"""
EXPECTED_FEE = "((l.amount_minor * %(bps)s + 5000) / 10000)"  # contracted rate, half up

_UNMATCHED = f"""
    l.batch_id = %(batch)s AND l.transaction_id IS NULL
    AND t.merchant_channel_id = %(mc)s AND t.kind = l.line_type
    AND NOT EXISTS (SELECT 1 FROM {L} m WHERE m.transaction_id = t.id)"""
PASSES = [
    # 1. The channel's serial (a refund's channel serial is the channel's refund number).
    f"""UPDATE {L} l SET transaction_id = t.id FROM {T} t
        WHERE {_UNMATCHED} AND t.channel = %(channel)s AND t.channel_trade_no = l.channel_serial""",
    # 2. Our serial, as the channel echoes it.
    f"""UPDATE {L} l SET transaction_id = t.id FROM {T} t
        WHERE {_UNMATCHED} AND l.serial <> '' AND t.serial = l.serial""",
    # 3. The app's order number, when exactly one of ours carries it.
    f"""UPDATE {L} l SET transaction_id = c.id FROM (
            SELECT l.id AS line_id, MIN(t.id) AS id FROM {L} l JOIN {T} t ON t.out_trade_no = l.out_trade_no
            WHERE {_UNMATCHED} AND l.out_trade_no <> '' AND t.status <> '{S.FAILED}'
            GROUP BY l.id HAVING COUNT(*) = 1
        ) c WHERE l.id = c.line_id AND l.transaction_id IS NULL""",
]

# One row per difference: (kind, line, transaction, both sides' values).
FOUND = f"""
CREATE TEMP TABLE recon_found ON COMMIT DROP AS
SELECT * FROM (
    SELECT CASE
            WHEN l.currency <> t.currency THEN '{C.CURRENCY_MISMATCH}'
            WHEN (l.status = 'succeeded') <> {MOVED} THEN '{C.STATUS_MISMATCH}'
            WHEN l.amount_minor <> {OUR_AMOUNT} THEN '{C.AMOUNT_MISMATCH}'
            WHEN l.status = 'succeeded' AND l.line_type = 'payment'
                 AND ABS(l.fee_minor - {EXPECTED_FEE}) > %(tolerance)s THEN '{C.FEE_MISMATCH}'
            WHEN l.status = 'succeeded' AND l.line_type = 'refund' AND l.fee_minor <> 0
                 AND ABS(-l.fee_minor - {EXPECTED_FEE}) > %(tolerance)s THEN '{C.FEE_MISMATCH}'
           END AS kind,
           l.id AS line_id, t.id AS transaction_id,
           l.channel_serial, t.serial, COALESCE(t.out_trade_no, '') AS out_trade_no,
           l.amount_minor AS channel_amount_minor, {OUR_AMOUNT} AS our_amount_minor,
           l.currency AS channel_currency, t.currency AS our_currency,
           l.status AS channel_status, t.status AS our_status,
           l.fee_minor AS channel_fee_minor,
           CASE WHEN l.line_type = 'payment' THEN {EXPECTED_FEE} ELSE -{EXPECTED_FEE} END
               AS expected_fee_minor
    FROM {L} l JOIN {T} t ON t.id = l.transaction_id WHERE l.batch_id = %(batch)s
    UNION ALL
    SELECT '{C.MISSING_OURS}', l.id, NULL, l.channel_serial, l.serial, l.out_trade_no,
           l.amount_minor, NULL, l.currency, '', l.status, '', l.fee_minor, NULL
    FROM {L} l WHERE l.batch_id = %(batch)s AND l.transaction_id IS NULL
    UNION ALL
    SELECT '{C.MISSING_CHANNEL}', NULL, t.id, COALESCE(t.channel_trade_no, ''), t.serial,
           COALESCE(t.out_trade_no, ''), NULL, {OUR_AMOUNT}, '', t.currency, '', t.status, NULL, NULL
    FROM {T} t
    WHERE t.merchant_channel_id = %(mc)s AND {MOVED}
      AND t.finished_at >= %(start)s AND t.finished_at < %(end)s
      AND NOT EXISTS (SELECT 1 FROM {L} m WHERE m.transaction_id = t.id)
) found WHERE kind IS NOT NULL
"""
DROP_STALE = f"""
DELETE FROM {D} d WHERE d.batch_id = %(batch)s AND d.state = '{DiscrepancyState.OPEN}' AND NOT EXISTS (
    SELECT 1 FROM recon_found f WHERE f.kind = d.kind
       AND f.line_id IS NOT DISTINCT FROM d.line_id
       AND (d.line_id IS NOT NULL OR f.transaction_id = d.transaction_id))
"""
_COLUMNS = """kind, line_id, transaction_id, channel_serial, serial, out_trade_no,
    channel_amount_minor, our_amount_minor, channel_currency, our_currency,
    channel_status, our_status, channel_fee_minor, expected_fee_minor"""
RECORD = f"""
INSERT INTO {D} (batch_id, state, created_at, {_COLUMNS})
SELECT %(batch)s, '{DiscrepancyState.OPEN}', %(now)s, {_COLUMNS} FROM recon_found
ON CONFLICT DO NOTHING
"""
CLASS_SUMS = """
SELECT kind, COALESCE(channel_currency, our_currency), COUNT(*),
       SUM(COALESCE(channel_amount_minor, our_amount_minor))
FROM (SELECT kind, NULLIF(channel_currency, '') AS channel_currency, our_currency,
             channel_amount_minor, our_amount_minor FROM recon_found) f
GROUP BY 1, 2
"""
LINE_SUMS = f"""
SELECT l.line_type, l.currency, COUNT(*), SUM(l.amount_minor), SUM(l.fee_minor),
       COUNT(*) FILTER (WHERE l.transaction_id IS NOT NULL AND NOT EXISTS (
           SELECT 1 FROM recon_found f WHERE f.line_id = l.id)),
       COALESCE(SUM(l.amount_minor) FILTER (WHERE l.transaction_id IS NOT NULL AND NOT EXISTS (
           SELECT 1 FROM recon_found f WHERE f.line_id = l.id)), 0)
FROM {L} l WHERE l.batch_id = %(batch)s GROUP BY 1, 2
"""
OUR_SUMS = f"""
SELECT t.kind, t.currency, COUNT(*), SUM({OUR_AMOUNT}) FROM {T} t
WHERE t.merchant_channel_id = %(mc)s AND {MOVED} AND t.finished_at >= %(start)s AND t.finished_at < %(end)s
GROUP BY 1, 2
"""


def day_bounds(*, day: date, format: str) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(0), tzinfo=DAY_ZONE.get(format, UTC))
    return start, start + timedelta(days=1)


def _start(batch_id: int) -> ReconBatch:
    """The batch moved to `matching` (committed, so it shows); a match that died half way
    left it there and may start again."""
    with transaction.atomic():
        batch = ReconBatch.objects.select_for_update().filter(pk=batch_id).first()
        if batch is None:
            raise NotFound("No such reconciliation batch.")
        if batch.state == BatchState.CLOSED:
            raise BatchClosed()
        ReconBatch.objects.filter(pk=batch_id).update(state=BatchState.MATCHING)
    return batch


def _add(totals: dict, currency: str, amount: int) -> None:
    totals[currency] = totals.get(currency, 0) + int(amount)


def _summary(cursor, params: dict, statement_totals: dict) -> dict:
    classes: dict = {c.value: {"count": 0, "amount_minor": {}} for c in C}
    cursor.execute(CLASS_SUMS, params)
    for kind, currency, count, amount in cursor.fetchall():
        classes[kind]["count"] += count
        _add(classes[kind]["amount_minor"], currency, amount or 0)
    lines: dict = {"count": 0, "payment_minor": {}, "refund_minor": {}, "fee_minor": {}}
    matched: dict = {"count": 0, "amount_minor": {}}
    cursor.execute(LINE_SUMS, params)
    for line_type, currency, count, amount, fee, matched_count, matched_amount in cursor.fetchall():
        lines["count"] += count
        _add(lines[f"{line_type}_minor"], currency, amount)
        _add(lines["fee_minor"], currency, fee)
        matched["count"] += matched_count
        _add(matched["amount_minor"], currency, matched_amount)
    ours: dict = {"count": 0, "payment_minor": {}, "refund_minor": {}}
    cursor.execute(OUR_SUMS, params)
    for kind, currency, count, amount in cursor.fetchall():
        ours["count"] += count
        _add(ours[f"{kind}_minor"], currency, amount)
    discrepancies = sum(c["count"] for c in classes.values())
    return {
        "lines": lines,
        "matched": matched,
        "classes": classes,
        "discrepancies": discrepancies,
        "ours": ours,
        "statement": statement_totals,
    }


def batch_match(*, batch_id: int, now: datetime) -> ReconBatch:
    """Match the batch's lines and record what differs; the batch ends `balanced` or
    `with_discrepancies`, with its summary."""
    batch = _start(batch_id)
    mc = batch.merchant_channel
    start, end = day_bounds(day=batch.statement_date, format=batch.format)
    params = {
        "batch": batch.pk,
        "mc": mc.pk,
        "channel": mc.channel,
        "bps": mc.fee_rate_bps,
        "tolerance": settings.RECON_FEE_TOLERANCE_MINOR,
        "start": start,
        "end": end,
        "now": now,
    }
    with transaction.atomic(durable=True), connection.cursor() as cursor:
        ReconBatch.objects.select_for_update().filter(pk=batch.pk).first()
        for sql in PASSES:
            cursor.execute(sql, params)
        cursor.execute("DROP TABLE IF EXISTS recon_found")  # a test's outer transaction keeps it
        cursor.execute(FOUND, params)
        cursor.execute(DROP_STALE, params)
        cursor.execute(RECORD, params)
        summary = _summary(cursor, params, batch.statement_totals)
        # Open ones count; a difference finance already decided does not hold the day up.
        open_count = Discrepancy.objects.filter(batch=batch, state=DiscrepancyState.OPEN).count()
        ReconBatch.objects.filter(pk=batch.pk, state=BatchState.MATCHING).update(
            state=BatchState.WITH_DISCREPANCIES if open_count else BatchState.BALANCED,
            summary=summary,
            matched_at=now,
        )
    batch.refresh_from_db()
    return batch
