"""Post-payment (B4) and giving up (cancel, close on timeout), each exactly once: the order row
is locked and its state checked, so the first of any number of duplicate events has the
effect and the rest find it done. Fulfilment steps for operations."""

import logging
from datetime import datetime

from django.db import transaction

from coupons.services import coupons_consume, coupons_issue_on_event, coupons_release
from ledger.choices import TransactionStatus
from ledger.errors import InvalidState
from ledger.models import Transaction
from ledger.services.payment_apply import payment_flag
from ledger.services.payment_query import payment_close
from orders.choices import UNPAID, OrderStatus
from orders.errors import OrderState
from orders.models import Order, SubOrder
from orders.services.events import order_event_emit
from orders.services.stock import reservations_deduct, reservations_release
from paycenter.audit import audit_record

logger = logging.getLogger(__name__)
OS = OrderStatus
FIRST_PAID_EVENT = "order.first_paid"


def order_paid(*, app_id: int, order_serial: str, payment_id: int, now: datetime) -> str:
    """The order's payment succeeded (its money already split in the journal by the ledger):
    order and sub-orders paid, reserved stock deducted, coupons used. Returns what happened:
    applied, duplicate, late_success (the order was given up first: flagged for a person)."""
    outcome, order = _order_paid(app_id=app_id, order_serial=order_serial, payment_id=payment_id, now=now)
    if (
        outcome == "applied"
        and not Order.objects.filter(customer_id=order.customer_id, paid_at__isnull=False)
        .exclude(pk=order.pk)
        .exists()
    ):
        coupons_issue_on_event(
            merchant_id=order.merchant_id,
            customer_id=order.customer_id,
            event=FIRST_PAID_EVENT,
            event_key=order.serial,
            now=now,
        )
    return outcome


@transaction.atomic(durable=True)
def _order_paid(
    *, app_id: int, order_serial: str, payment_id: int, now: datetime
) -> tuple[str, Order | None]:
    order = Order.objects.select_for_update().filter(app_id=app_id, serial=order_serial).first()
    if order is None:  # the app's own number merely looks like an order's
        return "not_an_order", None
    if order.status not in UNPAID:
        if order.payment_id == payment_id and order.paid_at is not None:
            return "duplicate", order
        payment_flag(
            txn_id=payment_id,
            reason="late_success",
            detail=f"paid after order {order.serial} was {order.status}; refund or review",
        )
        return "late_success", order
    order.pay()
    order.payment_id, order.paid_at = payment_id, now
    order.save()
    for sub in SubOrder.objects.select_for_update().filter(order=order).order_by("id"):
        sub.pay()
        sub.save()
    reservations_deduct(order=order, now=now)
    coupons_consume(order_ref=order.serial, now=now)
    order_event_emit(order=order, event_type="order.paid", now=now)
    return "applied", order


def order_cancel(*, order_id: int, now: datetime) -> Order:
    """The app gives up an unpaid order; a payment under way is closed first (if the payer
    has paid already, that wins and the order is not cancelled)."""
    _close_payment(order_id=order_id, now=now)
    order = _give_up(order_id=order_id, target=OS.CANCELLED, now=now)
    if order.status != OS.CANCELLED:
        raise OrderState(f"A {order.status} order cannot be cancelled.")
    return order


def orders_close_expired(*, now: datetime, limit: int = 200) -> int:
    """Unpaid orders past their time close, each on its own; one whose payment the channel
    cannot close yet waits for the next round."""
    due = Order.objects.filter(status__in=UNPAID, expires_at__lte=now).order_by("expires_at")
    closed = 0
    for order_id in list(due.values_list("pk", flat=True)[:limit]):
        try:
            _close_payment(order_id=order_id, now=now)
        except OrderState as exc:
            logger.warning("order %s not closed yet: %s", order_id, exc)
            continue
        closed += _give_up(order_id=order_id, target=OS.CLOSED, now=now).status == OS.CLOSED
    return closed


def _close_payment(*, order_id: int, now: datetime) -> None:
    payment_id = Order.objects.values_list("payment_id", flat=True).get(pk=order_id)
    if payment_id is None:
        return
    if Transaction.objects.filter(pk=payment_id, status=TransactionStatus.PENDING).exists():
        try:
            payment_close(txn_id=payment_id, now=now, reason="the order was given up")
        except InvalidState as exc:
            raise OrderState(str(exc)) from exc


@transaction.atomic(durable=True)
def _give_up(*, order_id: int, target: str, now: datetime) -> Order:
    order = Order.objects.select_for_update().get(pk=order_id)
    if order.status not in UNPAID:
        return order
    if (
        order.payment_id
        and Transaction.objects.filter(
            pk=order.payment_id, status__in=[TransactionStatus.PENDING, TransactionStatus.SUCCEEDED]
        ).exists()
    ):
        return order  # paid, or being paid, meanwhile: the payment's event decides
    for item in [order, *SubOrder.objects.select_for_update().filter(order=order).order_by("id")]:
        give_up = item.cancel if target == OS.CANCELLED else item.close
        give_up()
        if isinstance(item, Order):
            item.finished_at = now
        item.save()
    reservations_release(order=order, now=now)
    coupons_release(order_ref=order.serial, now=now)
    order_event_emit(
        order=order, event_type="order.cancelled" if target == OS.CANCELLED else "order.closed", now=now
    )
    return order


@transaction.atomic(durable=True)
def sub_order_fulfil(*, sub_order_id: int, actor: str, now: datetime) -> SubOrder:
    """The goods left the warehouse; the order follows once all its paid sub-orders have."""
    # The lock order of every order service: the order, then its sub-orders.
    order_id = SubOrder.objects.values_list("order_id", flat=True).get(pk=sub_order_id)
    order = Order.objects.select_for_update().get(pk=order_id)
    sub = SubOrder.objects.select_for_update().get(pk=sub_order_id)
    if sub.status != OS.PAID:
        raise OrderState(f"A {sub.status} sub-order cannot be marked fulfilled.")
    sub.fulfil()
    sub.save()
    waiting = SubOrder.objects.filter(order=order, status=OS.PAID).exists()
    if order.status == OS.PAID and not waiting:
        order.fulfil()
        order.save()
    audit_record(actor=actor, action="sub_order.fulfil", target=sub, now=now)
    return sub
