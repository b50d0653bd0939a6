"""How transactions look to apps: the API's responses and the webhooks' `data`."""

from ledger.choices import TransactionKind, TransactionStatus
from ledger.models import Transaction
from paycenter.money import format_minor

PAID = {TransactionStatus.SUCCEEDED, TransactionStatus.PARTIALLY_REFUNDED, TransactionStatus.REFUNDED}


def api_time(value: object) -> str | None:
    """A time as the API writes it: ISO 8601 in UTC with a Z."""
    return value.isoformat().replace("+00:00", "Z") if value else None


def _collected(txn: Transaction) -> dict:
    """What money coming in through a channel (a payment, a recharge) shows of that channel."""
    return {
        "out_trade_no": txn.out_trade_no,
        "channel_trade_no": txn.channel_trade_no,
        "channel": txn.channel,
        "method": txn.method,
        "channel_state": txn.channel_state or None,
        "action": txn.action or {"type": "none"},
        "metadata": {k: v for k, v in txn.metadata.items() if k != "failure_reason"},
        "failure_reason": txn.metadata.get("failure_reason"),
        "expires_at": api_time(txn.expires_at),
        "paid_at": api_time(txn.finished_at) if txn.status in PAID else None,
    }


# The API's payment status: a payment still waiting on its channel is pending inside too.
def payment_data(txn: Transaction) -> dict:
    return {
        "id": txn.serial,
        "status": txn.status,
        "amount": format_minor(txn.amount_minor, txn.currency),
        "currency": txn.currency,
        "refunded_amount": format_minor(txn.refunded_minor, txn.currency),
        "captured_amount": None
        if txn.captured_minor is None
        else format_minor(txn.captured_minor, txn.currency),
        "subject": txn.memo,
        "created_at": api_time(txn.created_at),
        **_collected(txn),
    }


def refund_data(txn: Transaction) -> dict:
    return {
        "id": txn.serial,
        "payment_id": txn.refund_of.serial,
        "out_refund_no": txn.out_trade_no,
        "amount": format_minor(txn.amount_minor, txn.currency),
        "currency": txn.currency,
        "status": txn.status,
        "reason": txn.memo,
        "channel_refund_no": txn.channel_trade_no,
        "created_at": api_time(txn.created_at),
        "finished_at": api_time(txn.finished_at),
    }


def transaction_data(txn: Transaction) -> dict:
    if txn.kind == TransactionKind.PAYMENT:
        return payment_data(txn)
    if txn.kind == TransactionKind.REFUND:
        return refund_data(txn)
    data = {
        "id": txn.serial,
        "kind": txn.kind,
        "status": txn.status,
        "amount": format_minor(txn.amount_minor, txn.currency),
        "currency": txn.currency,
        "created_at": api_time(txn.created_at),
        "finished_at": api_time(txn.finished_at),
    }
    if txn.kind == TransactionKind.WITHDRAWAL:
        data.update(account_id=txn.payer_account_id, destination=txn.destination)
    elif txn.kind == TransactionKind.TRANSFER:
        data.update(from_account_id=txn.payer_account_id, to_account_id=txn.payee_account_id, memo=txn.memo)
    elif txn.kind == TransactionKind.RECHARGE:
        data.update(account_id=txn.payee_account_id, **_collected(txn))
    elif txn.kind == TransactionKind.ADJUSTMENT:
        data.update(account_id=txn.payee_account_id, reason=txn.memo)
    return data
