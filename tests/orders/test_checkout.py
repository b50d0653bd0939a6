"""Pre-payment: an order from items, split into sub-orders, stock reserved, all or nothing."""

import pytest
from django.utils import timezone

from orders.errors import InsufficientStock, UnknownSku
from orders.models import Order, Stock, StockReservation
from orders.services.cart import Item
from orders.services.checkout import order_create, order_preview

pytestmark = pytest.mark.django_db


def _order(mall, onboarded, items, **kwargs):
    _, app, _ = onboarded
    return order_create(
        merchant_id=mall.marketplace.pk,
        app_id=app.pk,
        buyer_external_id="buyer-1",
        items=[Item(sku=s, quantity=q) for s, q in items],
        now=timezone.now(),
        **kwargs,
    )


def _stock(code):
    return {s.warehouse.code: (s.on_hand, s.reserved) for s in Stock.objects.filter(sku__code=code)}


def test_an_order_splits_by_seller_prices_by_tier_and_reserves_stock(mall, onboarded):
    order = _order(mall, onboarded, [("novel", 10), ("oolong", 2), ("atlas", 1)])

    subs = {sub.seller_id: sub for sub in order.sub_orders.all()}
    assert set(subs) == {mall.books.pk, mall.tea.pk}
    books = subs[mall.books.pk]
    assert [(line.sku.code, line.unit_price_minor, line.amount_minor) for line in books.lines.all()] == [
        ("novel", 25_00, 250_00),  # the 10-unit tier
        ("atlas", 120_00, 120_00),
    ]
    assert books.payable_minor == 370_00 and books.commission_minor == 370_00 * 500 // 10_000
    assert subs[mall.tea.pk].payable_minor == 96_00
    assert (order.amount_minor, order.discount_minor, order.payable_minor) == (466_00, 0, 466_00)
    assert order.status == "created" and order.serial.startswith("ORD")
    assert _stock("novel") == {"N": (50, 10), "S": (50, 0)}
    assert _stock("atlas") == {"S": (5, 1)}
    assert StockReservation.objects.filter(order=order, status="reserved").count() == 3


def test_split_by_warehouse_and_by_category_keep_sellers_apart(mall, onboarded):
    by_warehouse = _order(mall, onboarded, [("novel", 1), ("atlas", 1), ("oolong", 1)], split_by="warehouse")
    assert sorted((s.seller_id, s.warehouse.code) for s in by_warehouse.sub_orders.all()) == sorted(
        [(mall.books.pk, "N"), (mall.books.pk, "S"), (mall.tea.pk, "E")]
    )
    by_category = _order(mall, onboarded, [("novel", 1), ("atlas", 1), ("oolong", 1)], split_by="category")
    assert sorted(s.category for s in by_category.sub_orders.all()) == ["books", "maps", "tea"]


def test_a_line_takes_the_next_warehouse_when_the_first_runs_out(mall, onboarded):
    _order(mall, onboarded, [("novel", 45)])
    order = _order(mall, onboarded, [("novel", 10)], split_by="warehouse")
    assert [s.warehouse.code for s in order.sub_orders.all()] == ["S"]
    assert _stock("novel") == {"N": (50, 45), "S": (50, 10)}


def test_out_of_stock_names_the_sku_and_writes_nothing(mall, onboarded):
    with pytest.raises(InsufficientStock) as refused:
        _order(mall, onboarded, [("novel", 1), ("atlas", 6)])
    assert refused.value.sku == "atlas" and refused.value.code == "insufficient_stock"
    assert Order.objects.count() == 0 and StockReservation.objects.count() == 0
    assert _stock("novel") == {"N": (50, 0), "S": (50, 0)}


def test_only_active_products_of_the_marketplace_sellers_can_be_ordered(mall, onboarded):
    from orders.models import Product

    Product.objects.filter(skus__code="oolong").update(status="delisted")
    with pytest.raises(UnknownSku):
        _order(mall, onboarded, [("oolong", 1)])
    from orders.models import MarketplaceSeller

    MarketplaceSeller.objects.filter(seller=mall.books).update(active=False)
    with pytest.raises(UnknownSku):
        _order(mall, onboarded, [("novel", 1)])


def test_a_preview_prices_without_reserving(mall, onboarded):
    cart = order_preview(
        merchant_id=mall.marketplace.pk,
        buyer_external_id=None,
        items=[Item(sku="oolong", quantity=5)],
        coupon_ids=[],
        now=timezone.now(),
    )
    assert cart.breakdown.payable_minor == 5 * 45_00
    assert _stock("oolong") == {"E": (100, 0)}
