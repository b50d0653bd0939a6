"""Events for apps leave through the outbox (topic "webhook"), written in the same
transaction as the change they report; accounts.webhooks signs, delivers and retries them.
Payload: {"id": event id (stable across retries and resends), "app_pk", "type",
"created_at", "data"}."""

import uuid
from datetime import datetime

from accounts.webhooks import WEBHOOK_TOPIC
from ledger.models import Transaction
from ledger.representations import transaction_data
from paycenter.outbox import outbox_emit


def event_emit(*, txn: Transaction, event_type: str, now: datetime) -> None:
    if txn.app_id is None:
        return  # nobody to tell: the platform made it
    outbox_emit(
        topic=WEBHOOK_TOPIC,
        payload={
            "id": f"evt_{uuid.uuid4().hex}",
            "app_pk": txn.app_id,
            "type": event_type,
            "created_at": now.isoformat(),
            "data": transaction_data(txn),
        },
        now=now,
    )
