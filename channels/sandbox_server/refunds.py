"""Refunds: synchronous, idempotent per out_refund_no, never above what was captured."""

import sqlite3
from decimal import Decimal

from .actions import find_payment
from .core import Sandbox, iso, new_id
from .errors import SandboxError
from .money import fmt, parse_amount
from .payments import DEFAULT_TIMEOUT_MS, notification_payload
from .validate import integer, text

OUTCOMES = {"succeed", "fail", "timeout"}


def refund_view(row: sqlite3.Row) -> dict:
    return {
        "refund_no": row["refund_no"],
        "out_refund_no": row["out_refund_no"],
        "trade_no": row["trade_no"],
        "amount": row["amount"],
        "status": row["status"],
    }


def create_refund(sandbox: Sandbox, *, merchant_id: str, data: dict, now: float) -> tuple[dict, float]:
    """Returns the response body and how long to hold it (the `timeout` behaviour)."""
    out_refund_no = text(data, "out_refund_no", required=True, max_length=64)
    trade_no, out_trade_no = text(data, "trade_no", max_length=64), text(data, "out_trade_no", max_length=64)
    if trade_no is None and out_trade_no is None:
        raise SandboxError(400, "INVALID_PARAMETER", "trade_no is required")
    behaviour = data.get("behaviour") or {}
    if not isinstance(behaviour, dict) or behaviour.get("outcome", "succeed") not in OUTCOMES:
        raise SandboxError(400, "INVALID_PARAMETER", f"behaviour.outcome must be one of {sorted(OUTCOMES)}")
    outcome = behaviour.get("outcome", "succeed")
    timeout_ms = integer(behaviour, "timeout_ms", default=DEFAULT_TIMEOUT_MS, low=0, high=600_000)

    with sandbox.store.transaction() as conn:
        payment = find_payment(conn, merchant_id, trade_no=trade_no, out_trade_no=out_trade_no)
        trade_no = payment["trade_no"]
        existing = conn.execute(
            "SELECT * FROM refunds WHERE merchant_id = ? AND trade_no = ? AND out_refund_no = ?",
            (merchant_id, trade_no, out_refund_no),
        ).fetchone()
        if existing is not None:
            return refund_view(existing), 0.0
        currency = payment["currency"]
        amount = parse_amount(data.get("amount"), currency)
        if payment["status"] != "succeeded":
            raise SandboxError(409, "TRADE_NOT_PAID", f"the trade is {payment['status']}, nothing to refund")
        refunded = Decimal(payment["refunded_amount"])
        refundable = Decimal(payment["captured_amount"]) - refunded
        if amount > refundable:
            raise SandboxError(
                409, "REFUND_EXCEEDS_PAYMENT", f"at most {fmt(refundable, currency)} is refundable"
            )
        status = "failed" if outcome == "fail" else "succeeded"
        refund_no = new_id("SBR")
        conn.execute(
            "INSERT INTO refunds (refund_no, merchant_id, trade_no, out_refund_no, amount, status,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (refund_no, merchant_id, trade_no, out_refund_no, fmt(amount, currency), status, iso(now)),
        )
        if status == "succeeded":
            conn.execute(
                "UPDATE payments SET refunded_amount = ? WHERE trade_no = ?",
                (fmt(refunded + amount, currency), trade_no),
            )
        row = conn.execute("SELECT * FROM refunds WHERE refund_no = ?", (refund_no,)).fetchone()
        # A timed-out refund stays silent like a timed-out payment: only a query finds it.
        if outcome == "succeed":
            payload = {
                **notification_payload(payment, "refund.succeeded"),
                "out_refund_no": out_refund_no,
                "refund_no": refund_no,
                "refund_amount": row["amount"],
            }
            sandbox.enqueue_notification(conn, url=payment["notify_url"], payload=payload, times=1, now=now)
    return refund_view(row), timeout_ms / 1000 if outcome == "timeout" else 0.0


def get_refund(sandbox: Sandbox, *, merchant_id: str, out_refund_no: str, trade_no: str | None) -> dict:
    sql = "SELECT * FROM refunds WHERE merchant_id = ? AND out_refund_no = ?"
    params: tuple = (merchant_id, out_refund_no)
    if trade_no:
        sql, params = sql + " AND trade_no = ?", (*params, trade_no)
    row = sandbox.store.one(sql + " ORDER BY created_at LIMIT 1", params)
    if row is None:
        raise SandboxError(404, "REFUND_NOT_FOUND", "no such refund for this merchant")
    return refund_view(row)
