"""What a merchant does to an existing payment: query, close, capture, void."""

import sqlite3
from decimal import Decimal

from .core import Sandbox, iso
from .errors import SandboxError
from .money import fmt, parse_amount
from .payments import payment_view


def find_payment(conn, merchant_id: str, *, trade_no: str | None = None, out_trade_no: str | None = None):
    # Scoped by merchant so one merchant's keys never reveal another's trades.
    if trade_no is not None:
        sql, key = "SELECT * FROM payments WHERE merchant_id = ? AND trade_no = ?", trade_no
    else:
        sql, key = "SELECT * FROM payments WHERE merchant_id = ? AND out_trade_no = ?", out_trade_no
    row = conn.execute(sql, (merchant_id, key)).fetchone()
    if row is None:
        raise SandboxError(404, "TRADE_NOT_FOUND", "no such trade for this merchant")
    return row


def _reload(conn: sqlite3.Connection, trade_no: str) -> dict:
    return payment_view(conn.execute("SELECT * FROM payments WHERE trade_no = ?", (trade_no,)).fetchone())


def query_payment(
    sandbox: Sandbox, *, merchant_id: str, trade_no: str | None = None, out_trade_no: str | None = None
) -> dict:
    with sandbox.store.transaction() as conn:
        return payment_view(find_payment(conn, merchant_id, trade_no=trade_no, out_trade_no=out_trade_no))


def close_payment(sandbox: Sandbox, *, merchant_id: str, trade_no: str, now: float) -> dict:
    with sandbox.store.transaction() as conn:
        row = find_payment(conn, merchant_id, trade_no=trade_no)
        status = row["status"]
        if status in {"authorized", "succeeded"}:
            raise SandboxError(409, "TRADE_ALREADY_PAID", f"the trade is {status}")
        if status == "failed":
            raise SandboxError(409, "TRADE_FAILED", "the trade failed and is final")
        if status == "pending":
            # Cancelling settle_at too: a closed trade must never be paid by a delayed behaviour.
            conn.execute(
                "UPDATE payments SET status = 'closed', closed_at = ?, settle_at = NULL WHERE trade_no = ?",
                (iso(now), trade_no),
            )
        return _reload(conn, trade_no)


def capture_payment(sandbox: Sandbox, *, merchant_id: str, trade_no: str, data: dict, now: float) -> dict:
    with sandbox.store.transaction() as conn:
        row = find_payment(conn, merchant_id, trade_no=trade_no)
        if row["status"] != "authorized":
            raise SandboxError(409, "NOT_AUTHORIZED", f"the trade is {row['status']}, not authorized")
        currency = row["currency"]
        authorized = Decimal(row["paid_amount"])
        amount = authorized if data.get("amount") is None else parse_amount(data["amount"], currency)
        if amount > authorized:
            raise SandboxError(409, "CAPTURE_EXCEEDS_AUTHORIZATION", f"at most {fmt(authorized, currency)}")
        conn.execute(
            "UPDATE payments SET status = 'succeeded', captured_amount = ?, captured_at = ?"
            " WHERE trade_no = ?",
            (fmt(amount, currency), iso(now), trade_no),
        )
        return _reload(conn, trade_no)


def void_payment(sandbox: Sandbox, *, merchant_id: str, trade_no: str, now: float) -> dict:
    with sandbox.store.transaction() as conn:
        row = find_payment(conn, merchant_id, trade_no=trade_no)
        voided = row["status"] == "closed" and row["paid_amount"] is not None
        if voided:
            return payment_view(row)
        if row["status"] != "authorized":
            raise SandboxError(409, "NOT_AUTHORIZED", f"the trade is {row['status']}, not authorized")
        conn.execute(
            "UPDATE payments SET status = 'closed', closed_at = ? WHERE trade_no = ?", (iso(now), trade_no)
        )
        return _reload(conn, trade_no)
