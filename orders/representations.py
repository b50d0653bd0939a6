"""How orders look to apps: the API's responses and the `data` of order webhooks."""

from ledger.representations import api_time
from orders.models import Order
from paycenter.money import format_minor


def order_data(order: Order) -> dict:
    money = lambda units: format_minor(units, order.currency)  # noqa: E731
    return {
        "id": order.serial,
        "status": order.status,
        "buyer_external_id": order.customer.external_id,
        "currency": order.currency,
        "split_by": order.split_by,
        "total": money(order.amount_minor),
        "discount": money(order.discount_minor),
        "payable": money(order.payable_minor),
        "refunded_amount": money(order.refunded_minor),
        "coupon_ids": order.coupon_ids,
        "payment_id": order.payment.serial if order.payment_id else None,
        "sub_orders": [
            {
                "id": sub.serial,
                "merchant_id": sub.seller_id,
                "warehouse": sub.warehouse.code if sub.warehouse_id else None,
                "category": sub.category or None,
                "status": sub.status,
                "amount": money(sub.amount_minor),
                "discount": money(sub.discount_minor),
                "payable": money(sub.payable_minor),
                "refunded_amount": money(sub.refunded_minor),
                "lines": [
                    {
                        "sku": line.sku.code,
                        "product_id": line.product_id,
                        "quantity": line.quantity,
                        "unit_price": money(line.unit_price_minor),
                        "amount": money(line.amount_minor),
                        "discount": money(line.discount_minor),
                        "payable": money(line.payable_minor),
                        "refunded_quantity": line.refunded_quantity,
                    }
                    for line in sub.lines.all()
                ],
            }
            for sub in order.sub_orders.all()
        ],
        "created_at": api_time(order.created_at),
        "expires_at": api_time(order.expires_at),
        "paid_at": api_time(order.paid_at),
    }


def order_for_output(order_id: int) -> Order:
    """The order with everything order_data reads, in a fixed number of queries."""
    return (
        Order.objects.select_related("customer", "payment")
        .prefetch_related("sub_orders__warehouse", "sub_orders__lines__sku")
        .get(pk=order_id)
    )


def preview_data(cart: "PricedCart") -> dict:  # noqa: F821  (orders.services.cart, above us)
    money = lambda units: format_minor(units, cart.currency)  # noqa: E731
    return {
        "currency": cart.currency,
        "total": money(cart.breakdown.total_minor),
        "discount": money(cart.breakdown.discount_minor),
        "payable": money(cart.breakdown.payable_minor),
        "coupons": [
            {"id": a.coupon_id, "discount": money(a.discount_minor), "funded_by": a.funded_by}
            for a in cart.breakdown.applied
        ],
        "sub_orders": [
            {
                "merchant_id": group.seller_id,
                "warehouse": next((line.stock.warehouse.code for line in group.lines if line.stock), None)
                if group.warehouse_id
                else None,
                "category": group.category or None,
                "amount": money(group.amount_minor),
                "discount": money(group.discount_minor),
                "payable": money(group.payable_minor),
                "lines": [
                    {
                        "sku": line.sku.code,
                        "product_id": line.sku.product_id,
                        "quantity": line.quantity,
                        "unit_price": money(line.unit_price_minor),
                        "amount": money(line.amount_minor),
                        "discount": money(line.discount_minor),
                        "payable": money(line.amount_minor - line.discount_minor),
                    }
                    for line in group.lines
                ],
            }
            for group in cart.groups
        ],
    }


def order_refund_data(order_refund: "OrderRefund") -> dict:  # noqa: F821
    order = order_refund.order
    return {
        "id": order_refund.serial,
        "order_id": order.serial,
        "sub_order_id": order_refund.sub_order.serial,
        "refund_id": order_refund.refund.serial if order_refund.refund_id else None,
        "amount": format_minor(order_refund.amount_minor, order.currency),
        "status": order_refund.status,
        "reason": order_refund.reason,
    }
