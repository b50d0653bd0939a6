"""Pre-payment (B3): an order from the app's items, in one database transaction — products
active, stock reserved, priced with the buyer's coupons, coupons locked, the order and its
sub-orders, lines and reservations written. Anything refused rolls all of it back."""

import secrets
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import transaction

from accounts.models import Customer
from accounts.services import customer_get_or_create
from coupons.services import coupon_offers, coupons_lock
from orders.choices import SplitBy
from orders.models import Order, OrderLine, StockReservation, SubOrder
from orders.services.cart import Item, PricedCart, cart_lines, cart_priced, stock_choose, stock_reserve
from paycenter.errors import Unprocessable


class NothingToPay(Unprocessable):
    code = "order_payable_zero"
    default_message = "Coupons may not cover a whole order: at least one minor unit is paid."


ORDER_SERIAL_PREFIX = "ORD"


def order_timeout() -> timedelta:
    return timedelta(seconds=settings.ORDER_PAYMENT_TIMEOUT_SECONDS)


def order_serial_new(*, now: datetime) -> str:
    """ORD + UTC time to the microsecond + 6 random digits: time-ordered and readable, like the
    ledger's serials; sub-orders append -1, -2, …"""
    return f"{ORDER_SERIAL_PREFIX}{now.astimezone(UTC):%Y%m%d%H%M%S%f}{secrets.randbelow(10**6):06d}"


def order_preview(
    *,
    merchant_id: int,
    buyer_external_id: str | None,
    items: Sequence[Item],
    coupon_ids: Sequence[str],
    split_by: str = SplitBy.MERCHANT,
    now: datetime,
) -> PricedCart:
    """The price of the items with these coupons, reserving and locking nothing."""
    offers = []
    if coupon_ids:
        customer = Customer.objects.filter(merchant_id=merchant_id, external_id=buyer_external_id).first()
        offers = coupon_offers(
            merchant_id=merchant_id,
            customer_id=customer.pk if customer else None,
            coupon_ids=coupon_ids,
            now=now,
        )
    lines = cart_lines(merchant_id=merchant_id, items=items)
    stock_choose(lines)
    return cart_priced(merchant_id=merchant_id, lines=lines, offers=offers, split_by=split_by)


def order_create(
    *,
    merchant_id: int,
    app_id: int,
    buyer_external_id: str,
    items: Sequence[Item],
    coupon_ids: Sequence[str] = (),
    split_by: str = SplitBy.MERCHANT,
    address: dict | None = None,
    now: datetime,
) -> Order:
    customer, _ = customer_get_or_create(merchant_id=merchant_id, external_id=buyer_external_id, now=now)
    return _order_write(
        merchant_id=merchant_id,
        app_id=app_id,
        customer_id=customer.pk,
        items=items,
        coupon_ids=list(dict.fromkeys(coupon_ids)),
        split_by=split_by,
        address=address or {},
        now=now,
    )


@transaction.atomic(durable=True)
def _order_write(
    *,
    merchant_id: int,
    app_id: int,
    customer_id: int,
    items: Sequence[Item],
    coupon_ids: list[str],
    split_by: str,
    address: dict,
    now: datetime,
) -> Order:
    serial = order_serial_new(now=now)
    # Stock first, then coupons: every order takes its locks in the same order.
    lines = cart_lines(merchant_id=merchant_id, items=items)
    stock_reserve(lines)
    offers = []
    if coupon_ids:
        offers = coupons_lock(
            merchant_id=merchant_id, customer_id=customer_id, coupon_ids=coupon_ids, order_ref=serial, now=now
        )
    cart = cart_priced(merchant_id=merchant_id, lines=lines, offers=offers, split_by=split_by)
    if cart.breakdown.payable_minor <= 0:
        raise NothingToPay(field="coupon_ids")
    order = Order.objects.create(
        serial=serial,
        merchant_id=merchant_id,
        app_id=app_id,
        customer_id=customer_id,
        currency=cart.currency,
        split_by=split_by,
        amount_minor=cart.breakdown.total_minor,
        discount_minor=cart.breakdown.discount_minor,
        payable_minor=cart.breakdown.payable_minor,
        coupon_ids=coupon_ids,
        address=address,
        expires_at=now + order_timeout(),
        created_at=now,
    )
    reservations = []
    for number, group in enumerate(cart.groups, start=1):
        sub_order = SubOrder.objects.create(
            order=order,
            serial=f"{serial}-{number}",
            seller_id=group.seller_id,
            warehouse_id=group.warehouse_id,
            category=group.category,
            amount_minor=group.amount_minor,
            discount_minor=group.discount_minor,
            platform_discount_minor=group.platform_discount_minor,
            payable_minor=group.payable_minor,
            commission_minor=group.commission_minor,
        )
        rows = OrderLine.objects.bulk_create(
            OrderLine(
                sub_order=sub_order,
                product_id=line.sku.product_id,
                sku=line.sku,
                quantity=line.quantity,
                unit_price_minor=line.unit_price_minor,
                amount_minor=line.amount_minor,
                discount_minor=line.discount_minor,
                platform_discount_minor=line.platform_discount_minor,
                payable_minor=line.amount_minor - line.discount_minor,
            )
            for line in group.lines
        )
        reservations += [
            StockReservation(
                order=order,
                line=row,
                stock=line.stock,
                quantity=line.quantity,
                expires_at=order.expires_at,
                created_at=now,
            )
            for row, line in zip(rows, group.lines, strict=True)
        ]
    StockReservation.objects.bulk_create(reservations)
    return order
