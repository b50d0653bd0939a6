"""How transactions look to apps: the API's responses and the webhooks' `data`."""

from ledger.choices import TransactionKind
from ledger.models import Transaction
from paycenter.money import format_minor


def _time(value: object) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def transaction_data(txn: Transaction) -> dict:
    data = {
        "id": txn.serial,
        "kind": txn.kind,
        "status": txn.status,
        "amount": format_minor(txn.amount_minor, txn.currency),
        "currency": txn.currency,
        "created_at": _time(txn.created_at),
        "finished_at": _time(txn.finished_at),
    }
    if txn.kind == TransactionKind.WITHDRAWAL:
        data.update(account_id=txn.payer_account_id, destination=txn.destination)
    elif txn.kind == TransactionKind.TRANSFER:
        data.update(from_account_id=txn.payer_account_id, to_account_id=txn.payee_account_id, memo=txn.memo)
    elif txn.kind == TransactionKind.RECHARGE:
        data.update(
            account_id=txn.payee_account_id,
            out_trade_no=txn.out_trade_no,
            channel_trade_no=txn.channel_trade_no,
            channel=txn.channel,
            method=txn.metadata.get("method"),
            action={"type": "none"},
            paid_at=_time(txn.finished_at),
        )
    return data
