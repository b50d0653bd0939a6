"""Business events of transactions leave through the outbox's events topic, written in the
same transaction as the change they report: every transaction's, with or without an app.
Subscribers: the app webhook (accounts.webhooks, for events with an app), and whatever
higher app subscribes (orders, reconciliation). Payload: {"id": event id (stable across
retries and resends), "app_pk" (or None), "merchant_id", "type", "created_at", "data"}."""

import uuid
from datetime import datetime

from ledger.models import Transaction
from ledger.representations import transaction_data
from paycenter.outbox import EVENTS_TOPIC, outbox_emit


def event_payload(*, txn: Transaction, event_type: str, now: datetime, data: dict | None = None) -> dict:
    """`data` when the caller has the transaction's representation at hand already."""
    return {
        "id": f"evt_{uuid.uuid4().hex}",
        "app_pk": txn.app_id,
        "merchant_id": txn.merchant_id,
        "type": event_type,
        "created_at": now.isoformat(),
        "data": transaction_data(txn) if data is None else data,
    }


def event_emit(*, txn: Transaction, event_type: str, now: datetime) -> None:
    outbox_emit(topic=EVENTS_TOPIC, payload=event_payload(txn=txn, event_type=event_type, now=now), now=now)
