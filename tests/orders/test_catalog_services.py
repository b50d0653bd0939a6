"""The catalog services: what they create, and the stable code of each refusal."""

import pytest
from django.utils import timezone

from accounts.services import merchant_create
from orders.models import MarketplaceSeller, PriceTier, Stock
from orders.selectors import orderable_skus
from orders.services.cart import Item, cart_lines, unit_price_for
from orders.services.catalog import (
    Tier,
    marketplace_seller_add,
    product_activate,
    product_create,
    product_delist,
    sku_create,
    sku_update,
    stock_adjust,
    stock_set,
    warehouse_create,
)
from paycenter.errors import PaycenterError

pytestmark = pytest.mark.django_db

NOW = timezone.now()
ACTOR = {"actor": "ops", "now": NOW}


def _code(call) -> tuple[str, int]:
    with pytest.raises(PaycenterError) as refused:
        call()
    return refused.value.code, refused.value.status


@pytest.fixture
def seller(merchant):
    seller = merchant_create(name="Pens", **ACTOR)
    marketplace_seller_add(marketplace_id=merchant.pk, seller_id=seller.pk, commission_bps=500, **ACTOR)
    return seller


@pytest.fixture
def pen(seller):
    product = product_create(seller_id=seller.pk, name="Fountain pen", category="pens", **ACTOR)
    sku = sku_create(
        product_id=product.pk,
        code="pen-blue",
        attributes={"colour": "blue"},
        price_tiers=[Tier(10, 9_00), Tier(1, 10_00)],
        **ACTOR,
    )
    warehouse = warehouse_create(merchant_id=seller.pk, code="W1", name="West", **ACTOR)
    return product, sku, warehouse


def test_a_product_on_sale_is_orderable_through_the_marketplace_at_its_tier_prices(merchant, pen):
    product, sku, warehouse = pen
    stock_set(sku_id=sku.pk, warehouse_id=warehouse.pk, on_hand=20, **ACTOR)
    assert not orderable_skus(merchant_id=merchant.pk).exists()  # a draft is not on sale

    product_activate(product_id=product.pk, **ACTOR)

    assert list(orderable_skus(merchant_id=merchant.pk)) == [sku]
    tiers = list(PriceTier.objects.filter(sku=sku))
    assert [(t.min_quantity, t.unit_price_minor) for t in tiers] == [(1, 10_00), (10, 9_00)]
    assert unit_price_for(tiers, 9) == 10_00 and unit_price_for(tiers, 12) == 9_00
    line = cart_lines(merchant_id=merchant.pk, items=[Item(sku="pen-blue", quantity=10)])[0]
    assert line.unit_price_minor == 9_00

    product_delist(product_id=product.pk, **ACTOR)
    assert not orderable_skus(merchant_id=merchant.pk).exists()


def test_stock_set_and_adjust_never_go_below_reserved(pen):
    _, sku, warehouse = pen
    stock = stock_set(sku_id=sku.pk, warehouse_id=warehouse.pk, on_hand=10, **ACTOR)
    Stock.objects.filter(pk=stock.pk).update(reserved=4)  # unpaid orders hold four

    assert stock_adjust(sku_id=sku.pk, warehouse_id=warehouse.pk, delta=-6, **ACTOR).on_hand == 4
    assert _code(lambda: stock_adjust(sku_id=sku.pk, warehouse_id=warehouse.pk, delta=-1, **ACTOR)) == (
        "stock_below_reserved",
        409,
    )
    assert _code(lambda: stock_set(sku_id=sku.pk, warehouse_id=warehouse.pk, on_hand=3, **ACTOR)) == (
        "stock_below_reserved",
        409,
    )
    assert stock_adjust(sku_id=sku.pk, warehouse_id=warehouse.pk, delta=5, **ACTOR).on_hand == 9
    assert stock_set(sku_id=sku.pk, warehouse_id=warehouse.pk, on_hand=4, **ACTOR).on_hand == 4
    stock.refresh_from_db()
    assert (stock.on_hand, stock.reserved) == (4, 4)


def test_refusals_have_stable_codes(merchant, seller, pen):
    product, sku, warehouse = pen
    other = merchant_create(name="Other", **ACTOR)
    foreign = warehouse_create(merchant_id=other.pk, code="X", name="Elsewhere", **ACTOR)

    def new_sku(code="pen-red", tiers=None, **extra):
        tiers = [Tier(1, 5_00)] if tiers is None else tiers
        return lambda: sku_create(product_id=product.pk, code=code, attributes={}, price_tiers=tiers, **ACTOR)

    assert _code(new_sku(tiers=[Tier(2, 5_00)])) == ("invalid_price_tiers", 422)
    assert _code(new_sku(tiers=[Tier(1, 0)])) == ("invalid_price_tiers", 422)
    assert _code(new_sku(tiers=[Tier(1, 5_00), Tier(1, 4_00)])) == ("invalid_price_tiers", 422)
    assert _code(new_sku(tiers=[])) == ("invalid_price_tiers", 422)
    assert _code(new_sku(code="pen-blue")) == ("code_taken", 409)
    assert _code(new_sku(code="bad code!")) == ("invalid_request", 400)
    assert _code(
        lambda: sku_update(sku_id=sku.pk, attributes={"a": [1]}, price_tiers=[Tier(1, 1)], **ACTOR)
    ) == ("invalid_request", 400)
    assert _code(lambda: warehouse_create(merchant_id=seller.pk, code="W1", name="Again", **ACTOR)) == (
        "code_taken",
        409,
    )
    assert _code(lambda: stock_set(sku_id=sku.pk, warehouse_id=foreign.pk, on_hand=1, **ACTOR)) == (
        "warehouse_not_of_seller",
        422,
    )
    assert _code(lambda: stock_set(sku_id=sku.pk, warehouse_id=warehouse.pk, on_hand=-1, **ACTOR)) == (
        "invalid_request",
        400,
    )
    assert _code(lambda: stock_adjust(sku_id=sku.pk, warehouse_id=warehouse.pk, delta=0, **ACTOR)) == (
        "invalid_request",
        400,
    )
    assert _code(
        lambda: marketplace_seller_add(
            marketplace_id=merchant.pk, seller_id=seller.pk, commission_bps=100, **ACTOR
        )
    ) == ("seller_already_added", 409)
    assert _code(
        lambda: marketplace_seller_add(
            marketplace_id=merchant.pk, seller_id=merchant.pk, commission_bps=100, **ACTOR
        )
    ) == ("invalid_seller", 422)
    assert _code(
        lambda: marketplace_seller_add(
            marketplace_id=merchant.pk, seller_id=other.pk, commission_bps=10_001, **ACTOR
        )
    ) == ("invalid_request", 400)
    assert _code(lambda: product_delist(product_id=product.pk, **ACTOR)) == ("invalid_state", 409)
    empty = product_create(seller_id=seller.pk, name="Empty", category="pens", **ACTOR)
    assert _code(lambda: product_activate(product_id=empty.pk, **ACTOR)) == ("invalid_state", 409)
    assert _code(lambda: product_activate(product_id=0, **ACTOR)) == ("not_found", 404)
    assert MarketplaceSeller.objects.filter(marketplace=merchant).count() == 1


def test_sku_update_replaces_the_tiers(pen):
    _, sku, _ = pen
    sku_update(sku_id=sku.pk, attributes={"colour": "navy"}, price_tiers=[Tier(1, 11_00)], **ACTOR)
    sku.refresh_from_db()
    assert sku.attributes == {"colour": "navy"}
    assert list(sku.price_tiers.values_list("min_quantity", "unit_price_minor")) == [(1, 11_00)]
