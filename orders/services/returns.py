"""Goods back from the buyer: a refunded line's units go back on the shelf they came from.

A line may take back at most the units refunded on it; the count is moved by one conditional
UPDATE (`returned + quantity <= refunded`), so of two people marking the last unit returned at
once exactly one succeeds, and the stock row is credited in the same transaction."""

from datetime import datetime

from django.db import transaction
from django.db.models import F

from orders.choices import ReservationStatus
from orders.errors import OrderState, ReturnExceedsRefunded
from orders.models import OrderLine, Stock, StockReservation
from paycenter.audit import audit_record
from paycenter.errors import InvalidRequest, NotFound


@transaction.atomic(durable=True)
def order_line_returned(*, line_id: int, quantity: int, actor: str = "system", now: datetime) -> OrderLine:
    if not isinstance(quantity, int) or quantity < 1:
        raise InvalidRequest("Return at least one unit.", field="quantity")
    line = OrderLine.objects.filter(pk=line_id).first()
    if line is None:
        raise NotFound("No such order line.", field="line")
    reservation = StockReservation.objects.filter(line_id=line.pk).first()
    if reservation is None or reservation.status != ReservationStatus.DEDUCTED:
        # Unpaid stock was never taken off the shelf: releasing it already gave it back.
        raise OrderState("Only units that left stock when the order was paid can come back.")
    # Row locks in the global order: the line (under its sub-order), then the stock row.
    taken = OrderLine.objects.filter(
        pk=line.pk, returned_quantity__lte=F("refunded_quantity") - quantity
    ).update(returned_quantity=F("returned_quantity") + quantity)
    if not taken:
        line.refresh_from_db()
        raise ReturnExceedsRefunded(
            f"{line.refunded_quantity - line.returned_quantity} unit(s) of this line can come back.",
            field="quantity",
        )
    Stock.objects.filter(pk=reservation.stock_id).update(on_hand=F("on_hand") + quantity)
    line.refresh_from_db()
    audit_record(
        actor=actor,
        action="order_line.returned",
        target=line,
        now=now,
        data={"quantity": quantity, "stock": reservation.stock_id},
    )
    return line
