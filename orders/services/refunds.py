"""Refunds by sub-order (and line): at most what that sub-order paid; a line's refund is its
payable share of the units refunded, its coupon share kept back in proportion. The ledger
refunds the order's payment against the sub-order's split, which reverses the seller's share,
commission and coupon subsidy in the same proportions and keeps the payment's own cap.

1. `_reserve` (one transaction): the amount reserved on the order, the sub-order and its
   lines by conditional updates, and the refund's own row, pending;
2. the ledger refund (its own transactions and the channel call), numbered by that row;
3. its outcome, from the call or from the refund's event (`order_refund_settle`), once.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import F

from ledger.services.refunds import refund_create
from orders.choices import REFUNDABLE, OrderStatus, RefundStatus
from orders.errors import OrderNotRefundable, OrderRefundExceedsPaid, SubOrderNotFound
from orders.models import Order, OrderLine, OrderRefund, SubOrder
from orders.services.events import order_event_emit
from paycenter.errors import InvalidRequest, PaycenterError
from paycenter.money import format_minor

OS = OrderStatus


@dataclass(frozen=True)
class RefundLine:
    sku: str
    quantity: int


def _part(whole: int, units: int, of: int) -> int:
    """A line's payable for `units` of its `of` units, rounded so that the parts of a line
    refunded in several goes add up to exactly its payable."""
    return whole * units // of


def order_refund_create(
    *,
    order_id: int,
    sub_order_serial: str,
    reason: str = "",
    lines: Sequence[RefundLine] | None = None,
    amount_minor: int | None = None,
    now: datetime,
) -> OrderRefund:
    order_refund = _reserve(
        order_id=order_id,
        sub_order_serial=sub_order_serial,
        reason=reason,
        lines=lines,
        amount_minor=amount_minor,
        now=now,
    )
    order = Order.objects.get(pk=order_id)
    try:
        refund = refund_create(
            app_id=order.app_id,
            payment_id=order.payment_id,
            amount_minor=order_refund.amount_minor,
            reason=reason,
            out_refund_no=order_refund.serial,
            detail_reference=order_refund.sub_order.serial,
            now=now,
        )
    except PaycenterError:
        order_refund_settle(serial=order_refund.serial, succeeded=False, refund_id=None, now=now)
        raise
    if refund.status in {"succeeded", "failed"}:
        order_refund_settle(
            serial=order_refund.serial, succeeded=refund.status == "succeeded", refund_id=refund.pk, now=now
        )
    else:
        OrderRefund.objects.filter(pk=order_refund.pk, refund__isnull=True).update(refund=refund)
    return OrderRefund.objects.get(pk=order_refund.pk)


@transaction.atomic(durable=True)
def _reserve(
    *,
    order_id: int,
    sub_order_serial: str,
    reason: str,
    lines: Sequence[RefundLine] | None,
    amount_minor: int | None,
    now: datetime,
) -> OrderRefund:
    order = Order.objects.select_for_update().get(pk=order_id)
    sub = SubOrder.objects.select_for_update().filter(order=order, serial=sub_order_serial).first()
    if sub is None:
        raise SubOrderNotFound(field="sub_order_id")
    if order.payment_id is None or order.status not in REFUNDABLE or sub.status not in REFUNDABLE:
        raise OrderNotRefundable(f"A {sub.status} sub-order cannot be refunded.")
    parts = _line_parts(sub, lines) if lines else []
    if parts:
        amount = sum(part for _, _, part in parts)
        if amount_minor is not None and amount_minor != amount:
            raise InvalidRequest("amount must be what the lines come to, or be left out.", field="amount")
    else:
        amount = sub.payable_minor - sub.refunded_minor if amount_minor is None else amount_minor
    if amount <= 0:
        raise OrderRefundExceedsPaid("Nothing is left to refund on this sub-order.", field="amount")
    taken = SubOrder.objects.filter(pk=sub.pk, refunded_minor__lte=F("payable_minor") - amount).update(
        refunded_minor=F("refunded_minor") + amount
    )
    if not taken:
        raise OrderRefundExceedsPaid("The refund is more than the sub-order has left.", field="amount")
    Order.objects.filter(pk=order.pk).update(refunded_minor=F("refunded_minor") + amount)
    for line, quantity, part in parts:
        OrderLine.objects.filter(pk=line.pk).update(
            refunded_quantity=F("refunded_quantity") + quantity, refunded_minor=F("refunded_minor") + part
        )
    for item in (order, sub):
        item.refresh_from_db()
        if item.status != OS.REFUNDING:
            item.start_refund()
            item.save()
    return OrderRefund.objects.create(
        serial=f"{sub.serial}-R{sub.refunds.count() + 1}",
        order=order,
        sub_order=sub,
        amount_minor=amount,
        lines=[
            {"line": line.pk, "quantity": quantity, "amount_minor": part} for line, quantity, part in parts
        ],
        reason=reason[:255],
        created_at=now,
    )


def _line_parts(sub: SubOrder, lines: Sequence[RefundLine]) -> list[tuple[OrderLine, int, int]]:
    by_sku = {line.sku.code: line for line in sub.lines.select_related("sku")}
    parts = []
    for wanted in lines:
        line = by_sku.get(wanted.sku)
        if line is None:
            raise InvalidRequest(f"{wanted.sku} is not a line of this sub-order.", field="lines")
        done = line.refunded_quantity
        if not 0 < wanted.quantity <= line.quantity - done:
            raise OrderRefundExceedsPaid(
                f"At most {line.quantity - done} of {wanted.sku} can go back.", field="lines"
            )
        part = _part(line.payable_minor, done + wanted.quantity, line.quantity) - _part(
            line.payable_minor, done, line.quantity
        )
        parts.append((line, wanted.quantity, part))
    return parts


@transaction.atomic(durable=True)
def order_refund_settle(*, serial: str, succeeded: bool, refund_id: int | None, now: datetime) -> str:
    """A refund by sub-order is done (its ledger refund succeeded or failed). A failed one
    gives its reservation back. Once no refund of a sub-order (or order) is under way, its
    state says what was refunded. Returns applied or duplicate."""
    order_refund = OrderRefund.objects.filter(serial=serial).first()
    if order_refund is None:  # the app's own refund number merely looks like one of ours
        return "not_an_order"
    order = Order.objects.select_for_update().get(pk=order_refund.order_id)
    order_refund = OrderRefund.objects.select_for_update().get(pk=order_refund.pk)
    if order_refund.status != RefundStatus.PENDING:
        return "duplicate"
    order_refund.status = RefundStatus.SUCCEEDED if succeeded else RefundStatus.FAILED
    order_refund.refund_id = order_refund.refund_id or refund_id
    order_refund.finished_at = now
    order_refund.save()
    sub = SubOrder.objects.select_for_update().get(pk=order_refund.sub_order_id)
    if not succeeded:
        amount = order_refund.amount_minor
        SubOrder.objects.filter(pk=sub.pk).update(refunded_minor=F("refunded_minor") - amount)
        Order.objects.filter(pk=order.pk).update(refunded_minor=F("refunded_minor") - amount)
        for part in order_refund.lines:
            OrderLine.objects.filter(pk=part["line"]).update(
                refunded_quantity=F("refunded_quantity") - part["quantity"],
                refunded_minor=F("refunded_minor") - part["amount_minor"],
            )
    for item, pending in (
        (sub, OrderRefund.objects.filter(sub_order=sub, status=RefundStatus.PENDING)),
        (order, OrderRefund.objects.filter(order=order, status=RefundStatus.PENDING)),
    ):
        item.refresh_from_db()
        if item.status == OS.REFUNDING and not pending.exists():
            item.settle_refunds(outcome=_refund_outcome(item))
            item.save()
    if succeeded:
        order_event_emit(
            order=order,
            event_type="order.refunded",
            now=now,
            extra={
                "refund": {
                    "id": order_refund.serial,
                    "sub_order_id": sub.serial,
                    "amount": format_minor(order_refund.amount_minor, order.currency),
                }
            },
        )
    return "applied"


def _refund_outcome(item: Order | SubOrder) -> str:
    if item.refunded_minor == 0:
        return OS.PAID  # every refund failed: back to paid (fulfilment is tracked per sub-order)
    return OS.REFUNDED if item.refunded_minor >= item.payable_minor else OS.PARTIALLY_REFUNDED
