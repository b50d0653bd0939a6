"""Payments: create, settle (now, later or at checkout), query, close, capture, void."""

import json
import sqlite3
from decimal import Decimal

from .core import Sandbox, iso, new_id
from .errors import SandboxError
from .money import check_currency, fee, fmt, parse_amount
from .validate import integer, text, url

METHODS = {"page", "wap", "app", "native", "jsapi", "mini_program"}
SDK_METHODS = {"app", "jsapi", "mini_program"}
OUTCOMES = {"succeed", "fail", "timeout", "never_notify"}
DEFAULT_TIMEOUT_MS = 15000
EVENTS = {"succeeded": "payment.succeeded", "authorized": "payment.authorized", "failed": "payment.failed"}


def parse_behaviour(raw: object, currency: str) -> dict | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise SandboxError(400, "INVALID_PARAMETER", "behaviour must be an object")
    outcome = raw.get("outcome")
    if outcome is not None and outcome not in OUTCOMES:
        raise SandboxError(400, "INVALID_PARAMETER", f"behaviour.outcome must be one of {sorted(OUTCOMES)}")
    behaviour = {
        "outcome": outcome,
        "notify_times": integer(raw, "notify_times", default=1, low=0, high=50),
        "delay_ms": integer(raw, "delay_ms", default=0, low=0, high=86_400_000),
        "timeout_ms": integer(raw, "timeout_ms", default=DEFAULT_TIMEOUT_MS, low=0, high=600_000),
    }
    if raw.get("paid_amount") is not None:
        paid = parse_amount(raw["paid_amount"], currency, field="behaviour.paid_amount")
        behaviour["paid_amount"] = fmt(paid, currency)
    return behaviour


def behaviour_of(row: sqlite3.Row) -> dict:
    return json.loads(row["behaviour"]) if row["behaviour"] else {}


def create_view(sandbox: Sandbox, row: sqlite3.Row) -> dict:
    trade_no = row["trade_no"]
    view = {
        "trade_no": trade_no,
        "out_trade_no": row["out_trade_no"],
        "status": row["status"],
        "checkout_url": f"{sandbox.public_url}/checkout/{trade_no}",
    }
    if row["method"] == "native":
        view["qr_code"] = f"sandbox://pay/{trade_no}"
    if row["method"] in SDK_METHODS:
        # What an app SDK would be handed; signed so a client can check it came from us.
        params = f"trade_no={trade_no}&amount={row['amount']}&currency={row['currency']}"
        view["sdk_params"] = {
            "trade_no": trade_no,
            "order_string": params,
            "sign": sandbox.signed_headers(params.encode())["X-Sandbox-Signature"],
        }
    return view


def payment_view(row: sqlite3.Row) -> dict:
    currency = row["currency"]
    captured = Decimal(row["captured_amount"])
    return {
        "trade_no": row["trade_no"],
        "out_trade_no": row["out_trade_no"],
        "status": row["status"],
        "amount": row["amount"],
        "paid_amount": row["paid_amount"],
        "captured_amount": fmt(captured, currency),
        "refunded_amount": fmt(row["refunded_amount"], currency),
        "currency": currency,
        "paid_at": row["paid_at"],
        "fee": fee(captured, currency),
    }


def notification_payload(row: sqlite3.Row, event: str) -> dict:
    reported = row["paid_amount"] or behaviour_of(row).get("paid_amount") or row["amount"]
    return {
        "event": event,
        "trade_no": row["trade_no"],
        "out_trade_no": row["out_trade_no"],
        "status": row["status"],
        "amount": reported,
        "currency": row["currency"],
        "paid_at": row["paid_at"],
    }


def create_payment(sandbox: Sandbox, *, merchant_id: str, data: dict, now: float) -> tuple[dict, float]:
    """Returns the response body and how long to hold it (the `timeout` behaviour)."""
    out_trade_no = text(data, "out_trade_no", required=True, max_length=64)
    currency = check_currency(data.get("currency"))
    amount = fmt(parse_amount(data.get("amount"), currency), currency)
    subject = text(data, "subject", max_length=256) or ""
    method = data.get("method", "page")
    if method not in METHODS:
        raise SandboxError(400, "INVALID_PARAMETER", f"method must be one of {sorted(METHODS)}")
    capture = data.get("capture", True)
    if not isinstance(capture, bool):
        raise SandboxError(400, "INVALID_PARAMETER", "capture must be true or false")
    notify_url, return_url = url(data, "notify_url"), url(data, "return_url")
    expire_seconds = integer(data, "expire_seconds", default=900, low=1, high=30 * 86400)
    behaviour = parse_behaviour(data.get("behaviour"), currency)
    outcome = behaviour["outcome"] if behaviour else None
    auto = outcome in {"succeed", "fail", "never_notify"}

    with sandbox.store.transaction() as conn:
        row = conn.execute(
            "SELECT * FROM payments WHERE merchant_id = ? AND out_trade_no = ?", (merchant_id, out_trade_no)
        ).fetchone()
        if row is not None:
            if row["amount"] != amount or row["currency"] != currency:
                raise SandboxError(409, "DUPLICATE_OUT_TRADE_NO", "out_trade_no exists with another amount")
            return create_view(sandbox, row), 0.0
        trade_no = new_id("SBX")
        conn.execute(
            "INSERT INTO payments (trade_no, merchant_id, out_trade_no, amount, currency, subject, method,"
            " capture, notify_url, return_url, behaviour, status, expire_at, settle_at, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?)",
            (
                trade_no,
                merchant_id,
                out_trade_no,
                amount,
                currency,
                subject,
                method,
                int(capture),
                notify_url,
                return_url,
                json.dumps(behaviour) if behaviour else None,
                now + expire_seconds,
                now + behaviour["delay_ms"] / 1000 if auto else None,
                iso(now),
            ),
        )
        if outcome == "timeout":
            settle(sandbox, conn, trade_no=trade_no, paid=True, notify_times=0, now=now)
        row = conn.execute("SELECT * FROM payments WHERE trade_no = ?", (trade_no,)).fetchone()
    if auto:
        sandbox.wakeup.set()
    hold = behaviour["timeout_ms"] / 1000 if outcome == "timeout" else 0.0
    return create_view(sandbox, row), hold


def settle(
    sandbox: Sandbox, conn: sqlite3.Connection, *, trade_no: str, paid: bool, notify_times: int, now: float
) -> bool:
    """Pays or fails a pending payment and queues its notification; False if it was not pending."""
    row = conn.execute("SELECT * FROM payments WHERE trade_no = ?", (trade_no,)).fetchone()
    conn.execute("UPDATE payments SET settle_at = NULL WHERE trade_no = ?", (trade_no,))
    if row is None or row["status"] != "pending":
        return False
    if paid:
        paid_amount = behaviour_of(row).get("paid_amount") or row["amount"]
        conn.execute(
            "UPDATE payments SET status = ?, paid_amount = ?, captured_amount = ?, paid_at = ?,"
            " captured_at = ? WHERE trade_no = ?",
            (
                "succeeded" if row["capture"] else "authorized",
                paid_amount,
                paid_amount if row["capture"] else "0",
                iso(now),
                iso(now) if row["capture"] else None,
                trade_no,
            ),
        )
    else:
        conn.execute(
            "UPDATE payments SET status = 'failed', closed_at = ? WHERE trade_no = ?", (iso(now), trade_no)
        )
    row = conn.execute("SELECT * FROM payments WHERE trade_no = ?", (trade_no,)).fetchone()
    payload = notification_payload(row, EVENTS[row["status"]])
    sandbox.enqueue_notification(conn, url=row["notify_url"], payload=payload, times=notify_times, now=now)
    return True


def settle_due(sandbox: Sandbox, *, now: float) -> None:
    """Settles payments whose `delay_ms` has passed, as their behaviour says."""
    due = sandbox.store.all(
        "SELECT trade_no FROM payments WHERE settle_at IS NOT NULL AND settle_at <= ?", (now,)
    )
    for (trade_no,) in due:
        with sandbox.store.transaction() as conn:
            row = conn.execute("SELECT behaviour FROM payments WHERE trade_no = ?", (trade_no,)).fetchone()
            behaviour = json.loads(row["behaviour"] or "{}")
            outcome = behaviour.get("outcome")
            times = 0 if outcome == "never_notify" else behaviour.get("notify_times", 1)
            settle(sandbox, conn, trade_no=trade_no, paid=outcome != "fail", notify_times=times, now=now)


def expire_due(sandbox: Sandbox, *, now: float) -> None:
    """Closes unpaid payments past expire_seconds, as a real platform does; no notification."""
    with sandbox.store.transaction() as conn:
        conn.execute(
            "UPDATE payments SET status = 'closed', closed_at = ?"
            " WHERE status = 'pending' AND settle_at IS NULL AND expire_at <= ?",
            (iso(now), now),
        )


def next_settlement(sandbox: Sandbox) -> float | None:
    row = sandbox.store.one("SELECT MIN(settle_at) FROM payments WHERE settle_at IS NOT NULL")
    return row[0] if row else None


def settle_at_checkout(sandbox: Sandbox, *, trade_no: str, paid: bool, now: float) -> sqlite3.Row | None:
    """The payer pressed Pay or Decline; a payment no longer pending is left as it is."""
    with sandbox.store.transaction() as conn:
        row = conn.execute("SELECT * FROM payments WHERE trade_no = ?", (trade_no,)).fetchone()
        if row is None:
            return None
        behaviour = behaviour_of(row)
        silent = behaviour.get("outcome") in {"never_notify", "timeout"}
        times = 0 if silent else behaviour.get("notify_times", 1)
        settle(sandbox, conn, trade_no=trade_no, paid=paid, notify_times=times, now=now)
        return conn.execute("SELECT * FROM payments WHERE trade_no = ?", (trade_no,)).fetchone()
