"""Paying an order: one payment of the order's payable, through any channel, split per
sub-order (ledger.services.collect.Split: the seller, what the payer pays towards it, the
platform's coupon subsidy and commission). The order's own number is the payment's
out_trade_no, so the ledger's unique order number keeps one live payment per order."""

from dataclasses import replace
from datetime import datetime, timedelta

from django.db.models import Case, CharField, F, Value, When

from ledger.models import Transaction
from ledger.services.collect import PaymentRequest, Split
from ledger.services.payment_create import payment_create
from orders.choices import UNPAID, OrderStatus
from orders.errors import OrderNotPayable
from orders.models import Order, SubOrder

# A payment must be able to finish before the order closes under it.
CLOSING_MARGIN = timedelta(seconds=60)


def order_splits(order: Order) -> tuple[Split, ...]:
    return tuple(
        Split(
            merchant_id=sub.seller_id,
            amount_minor=sub.payable_minor,
            subsidy_minor=sub.platform_discount_minor,
            commission_minor=sub.commission_minor,
            reference=sub.serial,
        )
        for sub in SubOrder.objects.filter(order=order).order_by("id")
        # A sub-order its seller's coupon paid for entirely moves no money.
        if sub.payable_minor + sub.platform_discount_minor > 0
    )


def order_pay(
    *,
    order_id: int,
    app_id: int,
    request: PaymentRequest,
    now: datetime,
    idempotency_key: str | None = None,
) -> Transaction:
    """`request` is the app's payment body; the amount, currency, order number and splits
    come from the order."""
    order = Order.objects.get(pk=order_id)
    if order.status not in UNPAID:
        raise OrderNotPayable(f"A {order.status} order cannot be paid.")
    if now + CLOSING_MARGIN >= order.expires_at:
        raise OrderNotPayable("The order closes too soon to be paid; place it again.")
    seconds_left = int((order.expires_at - now - CLOSING_MARGIN).total_seconds())
    txn = payment_create(
        app_id=app_id,
        merchant_id=order.merchant_id,
        request=replace(
            request,
            out_trade_no=order.serial,
            amount_minor=order.payable_minor,
            currency=order.currency,
            capture=True,
            expire_seconds=min(request.expire_seconds, seconds_left),
            splits=order_splits(order),
        ),
        idempotency_key=idempotency_key,
        now=now,
    )
    # The latest attempt; the payment's own events move the order on (orders.subscribers).
    awaiting = Case(
        When(status=OrderStatus.CREATED, then=Value(OrderStatus.AWAITING_PAYMENT)),
        default=F("status"),
        output_field=CharField(),
    )
    if Order.objects.filter(pk=order.pk).exclude(payment=txn).update(payment=txn, status=awaiting):
        SubOrder.objects.filter(order_id=order.pk, status=OrderStatus.CREATED).update(
            status=OrderStatus.AWAITING_PAYMENT
        )
    return txn
