"""What orders do when the ledger's events arrive (the outbox's events topic): a payment of an
order succeeded, a refund by sub-order finished. Delivery is at least once; every handler is
idempotent (orders.services lock the order and check its state). `wants` runs for every
event of every transaction, so it only looks at the payload."""

from django.utils import timezone

from ledger.models import Transaction
from orders.services.checkout import ORDER_SERIAL_PREFIX
from orders.services.lifecycle import order_paid
from orders.services.refunds import order_refund_settle
from paycenter import outbox
from paycenter.models import OutboxMessage

REFUND_OUTCOMES = {"refund.succeeded": True, "refund.failed": False}


def _of_an_order(payload: dict) -> bool:
    data = payload.get("data") or {}
    if payload.get("type") == "payment.succeeded":
        return str(data.get("out_trade_no") or "").startswith(ORDER_SERIAL_PREFIX)
    if payload.get("type") in REFUND_OUTCOMES:
        return str(data.get("out_refund_no") or "").startswith(ORDER_SERIAL_PREFIX)
    return False


@outbox.register(outbox.EVENTS_TOPIC, name="orders.payment_events", wants=_of_an_order)
def payment_events_handler(*, payload: dict, message: OutboxMessage) -> None:
    data, now = payload["data"], timezone.now()
    txn = Transaction.objects.only("pk", "app_id").get(serial=data["id"])
    if payload["type"] == "payment.succeeded":
        order_paid(app_id=txn.app_id, order_serial=data["out_trade_no"], payment_id=txn.pk, now=now)
    else:
        order_refund_settle(
            serial=data["out_refund_no"],
            succeeded=REFUND_OUTCOMES[payload["type"]],
            refund_id=txn.pk,
            now=now,
        )
