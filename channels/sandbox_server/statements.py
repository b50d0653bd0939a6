"""The daily settlement file a merchant reconciles against: CSV, one row per money movement."""

import csv
import io
from datetime import date, timedelta

from .core import Sandbox
from .money import fee, fmt

COLUMNS = [
    "trade_no",
    "out_trade_no",
    "type",
    "amount",
    "fee",
    "currency",
    "status",
    "settled_at",
    "out_refund_no",
]

# Only money that moved: a captured payment, a capture of an authorization, a refund paid out.
# Authorizations, failures and closes move nothing, so a real platform's bill leaves them out.
_ROWS = """
SELECT trade_no, out_trade_no, 'payment' AS type, paid_amount AS amount, currency,
       paid_at AS settled_at, '' AS out_refund_no, 1 AS charged
  FROM payments WHERE merchant_id = :merchant AND capture = 1 AND paid_amount IS NOT NULL
   AND paid_at >= :start AND paid_at < :end
UNION ALL
SELECT trade_no, out_trade_no, 'capture', captured_amount, currency, captured_at, '', 1
  FROM payments WHERE merchant_id = :merchant AND capture = 0 AND captured_at IS NOT NULL
   AND captured_at >= :start AND captured_at < :end
UNION ALL
SELECT r.trade_no, p.out_trade_no, 'refund', r.amount, p.currency, r.created_at, r.out_refund_no, 0
  FROM refunds r JOIN payments p ON p.trade_no = r.trade_no
 WHERE r.merchant_id = :merchant AND r.status = 'succeeded' AND r.created_at >= :start AND r.created_at < :end
ORDER BY settled_at, trade_no, type, out_refund_no
"""


def statement_csv(sandbox: Sandbox, *, merchant_id: str, day: date) -> str:
    # settled_at values are ISO strings in UTC, so a string range is a UTC-day range.
    bounds = {"merchant": merchant_id, "start": day.isoformat(), "end": (day + timedelta(days=1)).isoformat()}
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in sandbox.store.all(_ROWS, bounds):
        currency = row["currency"]
        writer.writerow(
            [
                row["trade_no"],
                row["out_trade_no"],
                row["type"],
                fmt(row["amount"], currency),
                fee(row["amount"], currency) if row["charged"] else fmt(0, currency),
                currency,
                "succeeded",
                row["settled_at"],
                row["out_refund_no"],
            ]
        )
    return out.getvalue()
