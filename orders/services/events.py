"""Order events leave through the outbox's events topic beside the ledger's, in the same
transaction as the change they report; the app webhook subscriber delivers them."""

import uuid
from datetime import datetime

from orders.models import Order
from orders.representations import order_data, order_for_output
from paycenter.outbox import EVENTS_TOPIC, outbox_emit


def order_event_emit(*, order: Order, event_type: str, now: datetime, extra: dict | None = None) -> None:
    data = order_data(order_for_output(order.pk))
    payload = {
        "id": f"evt_{uuid.uuid4().hex}",
        "app_pk": order.app_id,
        "merchant_id": order.merchant_id,
        "type": event_type,
        "created_at": now.isoformat(),
        "data": {**data, **(extra or {})},
    }
    outbox_emit(topic=EVENTS_TOPIC, payload=payload, now=now)
