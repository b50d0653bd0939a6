"""Reservations turned into deductions (paid) or released (given up): each exactly once, by a
conditional update of the reservation, and the stock row moved with it. Rows are touched in
(SKU, stock) order, the order reservations take them in, so nothing deadlocks."""

from datetime import datetime

from django.db.models import F

from orders.choices import ReservationStatus
from orders.models import Order, Stock, StockReservation

R = ReservationStatus


def _resolve(order: Order, *, to: str, now: datetime) -> int:
    moved = 0
    reservations = order.reservations.filter(status=R.RESERVED).select_related("stock")
    for reservation in sorted(reservations, key=lambda r: (r.stock.sku_id, r.stock_id)):
        if not StockReservation.objects.filter(pk=reservation.pk, status=R.RESERVED).update(
            status=to, resolved_at=now
        ):
            continue
        stock = Stock.objects.filter(pk=reservation.stock_id)
        if to == R.DEDUCTED:
            stock.update(
                on_hand=F("on_hand") - reservation.quantity, reserved=F("reserved") - reservation.quantity
            )
        else:
            stock.update(reserved=F("reserved") - reservation.quantity)
        moved += 1
    return moved


def reservations_deduct(*, order: Order, now: datetime) -> int:
    return _resolve(order, to=R.DEDUCTED, now=now)


def reservations_release(*, order: Order, now: datetime) -> int:
    return _resolve(order, to=R.RELEASED, now=now)
