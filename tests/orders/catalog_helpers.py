"""An order as checkout and payment leave it, written directly: the catalog tests (returns,
admin) need paid and refunded lines without going through a channel."""

from datetime import timedelta

from django.db.models import F
from django.utils import timezone

from accounts.services import customer_get_or_create
from orders.models import Order, OrderLine, Stock, StockReservation, SubOrder


def order_written(
    *, app, stock: Stock, quantity: int, unit_price: int, status: str = "paid", refunded_quantity: int = 0
) -> Order:
    """One line from `stock`: reserved while unpaid, deducted once paid."""
    now = timezone.now()
    customer, _ = customer_get_or_create(merchant_id=app.merchant_id, external_id="buyer-w", now=now)
    amount = quantity * unit_price
    refunded = amount * refunded_quantity // quantity
    serial = f"O{Order.objects.count() + 1:06d}"
    money = {"amount_minor": amount, "payable_minor": amount, "refunded_minor": refunded}
    order = Order.objects.create(
        serial=serial,
        merchant_id=app.merchant_id,
        app=app,
        customer=customer,
        currency="CNY",
        status=status,
        expires_at=now + timedelta(minutes=30),
        created_at=now,
        paid_at=now if status != "created" else None,
        **money,
    )
    sub = SubOrder.objects.create(
        order=order, serial=f"{serial}-1", seller_id=stock.sku.product.seller_id, status=status, **money
    )
    line = OrderLine.objects.create(
        sub_order=sub,
        product_id=stock.sku.product_id,
        sku=stock.sku,
        quantity=quantity,
        unit_price_minor=unit_price,
        refunded_quantity=refunded_quantity,
        **money,
    )
    paid = status != "created"
    StockReservation.objects.create(
        order=order,
        line=line,
        stock=stock,
        quantity=quantity,
        status="deducted" if paid else "reserved",
        expires_at=order.expires_at,
        created_at=now,
        resolved_at=now if paid else None,
    )
    if paid:
        Stock.objects.filter(pk=stock.pk).update(on_hand=F("on_hand") - quantity)
    else:
        Stock.objects.filter(pk=stock.pk).update(reserved=F("reserved") + quantity)
    return order
