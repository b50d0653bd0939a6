"""GET /products: what the calling app may order, grouped by product, paged by cursor."""

import pytest
from django.utils import timezone

from accounts.services import app_create
from orders.models import Product, Stock
from orders.services.catalog import product_delist
from tests.conftest import SignedClient
from tests.orders.conftest import add_sku

pytestmark = pytest.mark.django_db


def _products(client, query=""):
    response = client.get(f"/api/v1/products{query}")
    assert response.status_code == 200, response.json()
    return response.json()


def test_the_marketplace_sees_every_active_seller_with_tiers_and_available_stock(api, mall):
    Stock.objects.filter(sku__code="novel", warehouse=mall.north).update(reserved=8)

    page = _products(api)

    assert page["next_cursor"] is None
    by_sku = {p["skus"][0]["sku"]: p for p in page["products"]}
    assert set(by_sku) == {"novel", "atlas", "oolong"}
    novel = by_sku["novel"]
    assert novel["merchant_id"] == mall.books.pk and novel["category"] == "books"
    assert novel["status"] == "active" and novel["name"] == "Novel"
    assert novel["skus"] == [
        {
            "sku": "novel",
            "attributes": {"size": "M"},
            "currency": "CNY",
            "price_tiers": [
                {"min_quantity": 1, "unit_price": "30.00"},
                {"min_quantity": 10, "unit_price": "25.00"},
            ],
            "available_stock": 92,
        }
    ]
    assert by_sku["oolong"]["merchant_id"] == mall.tea.pk


def test_a_sellers_own_app_sees_only_its_products_and_nothing_delisted(api, mall):
    app, secret = app_create(merchant_id=mall.tea.pk, name="Tea app", actor="test", now=timezone.now())
    tea = SignedClient(app_id=app.app_id, secret=secret)
    assert [p["skus"][0]["sku"] for p in _products(tea)["products"]] == ["oolong"]

    product_delist(product_id=Product.objects.get(name="Oolong").pk, actor="test", now=timezone.now())

    assert _products(tea)["products"] == []
    assert "oolong" not in {p["skus"][0]["sku"] for p in _products(api)["products"]}


def test_filters_by_seller_and_category(api, mall):
    books = _products(api, f"?merchant_id={mall.books.pk}")["products"]
    assert {p["name"] for p in books} == {"Novel", "Atlas"}
    assert [p["name"] for p in _products(api, "?category=tea")["products"]] == ["Oolong"]
    assert _products(api, f"?merchant_id={mall.tea.pk}&category=books")["products"] == []
    assert _products(api, "?merchant_id=999999")["products"] == []


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("?merchant_id=abc", "merchant_id"),
        ("?merchant_id=0", "merchant_id"),
        ("?category=no%20spaces", "category"),
        ("?limit=0", "limit"),
        ("?limit=101", "limit"),
        ("?cursor=not-ours", "cursor"),
    ],
)
def test_bad_filters_are_400_invalid_request(api, mall, query, field):
    response = api.get(f"/api/v1/products{query}")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request"
    assert response.json()["error"]["field"] == field


def test_pages_follow_the_cursor_in_a_fixed_number_of_queries(api, mall, django_assert_max_num_queries):
    for i in range(12):
        add_sku(
            seller=mall.tea,
            code=f"tea-{i}",
            category="tea",
            tiers=[(1, 10_00 + i), (5, 9_00)],
            stock={mall.east: 3},
        )
    seen, cursor, pages = [], None, 0
    while True:
        query = "?limit=4" + (f"&cursor={cursor}" if cursor else "")
        page = _products(api, query)
        seen += [p["id"] for p in page["products"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 4 and len(seen) == 15 and seen == sorted(seen)

    # Authentication, rate limits and the page itself: the same count for 1 product or 15.
    with django_assert_max_num_queries(12) as small:
        _products(api, "?limit=1")
    with django_assert_max_num_queries(len(small.captured_queries)):
        _products(api, "?limit=100")


def test_unsigned_requests_are_refused(client, mall):
    response = client.get("/api/v1/products")
    assert response.status_code == 401
