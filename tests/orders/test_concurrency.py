"""Stock and coupons under real concurrency (RELIABILITY 7, 8): threads on their own
PostgreSQL connections, and over real HTTP against a live server."""

import json
from collections import Counter

import pytest
import requests
from django.utils import timezone

from orders.errors import InsufficientStock
from orders.models import Order, Stock, StockReservation
from orders.services.cart import Item
from orders.services.checkout import order_create
from tests.orders.conftest import add_sku
from tests.payments.test_concurrency import in_threads

pytestmark = pytest.mark.django_db(transaction=True)


def _try_order(mall, app, sku, buyer, **kwargs):
    try:
        order_create(
            merchant_id=mall.marketplace.pk,
            app_id=app.pk,
            buyer_external_id=buyer,
            items=[Item(sku=sku, quantity=1)],
            now=timezone.now(),
            **kwargs,
        )
        return "ordered"
    except InsufficientStock as refused:
        return refused.code


def test_the_last_unit_in_20_concurrent_orders_is_sold_once(mall, onboarded):
    _, app, _ = onboarded
    add_sku(seller=mall.tea, code="last-one", category="tea", tiers=[(1, 9_99)], stock={mall.east: 1})

    outcomes = Counter(in_threads(20, lambda i: _try_order(mall, app, "last-one", f"b-{i}")))

    assert outcomes == {"ordered": 1, "insufficient_stock": 19}, outcomes
    stock = Stock.objects.get(sku__code="last-one")
    assert (stock.on_hand, stock.reserved) == (1, 1)
    assert StockReservation.objects.filter(stock=stock).count() == 1


def _http_post(live_server, app_id, secret, path, body):
    from tests.conftest import SignedClient

    raw = json.dumps(body).encode()
    headers = SignedClient(app_id=app_id, secret=secret).headers(method="POST", path=path, body=raw)
    return requests.post(
        f"{live_server.url}{path}",
        data=raw,
        headers={**headers, "Content-Type": "application/json"},
        timeout=60,
    )


def test_s_units_and_s_plus_20_concurrent_http_orders_give_s_orders_and_20_conflicts(
    mall, onboarded, live_server
):
    _, app, secret = onboarded
    units = 12
    add_sku(seller=mall.books, code="rare", category="books", tiers=[(1, 50_00)], stock={mall.north: units})

    def order(i):
        reply = _http_post(
            live_server,
            app.app_id,
            secret,
            "/api/v1/orders",
            {"buyer_external_id": f"b-{i}", "items": [{"sku": "rare", "quantity": 1}]},
        )
        body = reply.json()
        return reply.status_code, body.get("status") or body["error"]["code"]

    outcomes = Counter(in_threads(units + 20, order, workers=16))

    assert outcomes == {(201, "created"): units, (409, "insufficient_stock"): 20}, outcomes
    stock = Stock.objects.get(sku__code="rare")
    assert (stock.on_hand, stock.reserved) == (units, units)
    assert Order.objects.count() == units
