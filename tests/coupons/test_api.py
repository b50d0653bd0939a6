"""The coupons API through signed requests: list with a cursor, claim, and the errors."""

from datetime import timedelta

import pytest
from django.utils import timezone

from coupons.services import coupons_lock

pytestmark = pytest.mark.django_db


def test_claim_answers_201_with_the_coupon_and_its_terms(api, batch_of):
    batch_of("SPRING", name="Spring sale", kind="full_reduction", threshold_minor=100_00, value_minor=15_00)

    reply = api.post("/api/v1/coupons/claim", {"batch_code": "SPRING", "buyer_external_id": "bob"})

    assert reply.status_code == 201, reply.content
    body = reply.json()
    assert body["id"].startswith("CPN")
    assert {
        k: body[k] for k in ("batch_code", "name", "kind", "funded_by", "status", "currency", "order_id")
    } == {
        "batch_code": "SPRING",
        "name": "Spring sale",
        "kind": "full_reduction",
        "funded_by": "platform",
        "status": "claimed",
        "currency": "CNY",
        "order_id": None,
    }
    assert body["terms"] == "Spend 100.00 CNY, save 15.00 CNY"
    assert body["scope"] == {"type": "platform", "seller_id": None, "product_ids": None, "categories": None}
    assert body["valid_from"] and body["valid_until"]


@pytest.mark.parametrize(
    ("fields", "terms"),
    [
        ({"kind": "rate", "rate_bps": 1250, "cap_minor": 20_00}, "12.5% off, at most 20.00 CNY"),
        ({"kind": "rate", "rate_bps": 1000, "threshold_minor": 50_00}, "10% off on 50.00 CNY or more"),
        (
            {
                "kind": "tiered",
                "tiers": [
                    {"threshold_minor": 200_00, "value_minor": 30_00},
                    {"threshold_minor": 100_00, "value_minor": 10_00},
                ],
            },
            "Spend 100.00 CNY, save 10.00 CNY; spend 200.00 CNY, save 30.00 CNY",
        ),
        ({"kind": "fixed", "value_minor": 5_00}, "5.00 CNY off"),
        ({"kind": "fixed", "value_minor": 500, "currency": "JPY"}, "500 JPY off"),
    ],
)
def test_terms_are_written_with_the_currencys_decimals(api, batch_of, fields, terms):
    batch_of("T", **fields)
    reply = api.post("/api/v1/coupons/claim", {"batch_code": "T", "buyer_external_id": "bob"})
    assert reply.json()["terms"] == terms


def test_claim_errors_have_their_codes(api, batch_of):
    now = timezone.now()
    batch_of("ONE", total_quantity=1)
    batch_of("LATER", claim_starts_at=now + timedelta(hours=1))
    assert (
        api.post("/api/v1/coupons/claim", {"batch_code": "ONE", "buyer_external_id": "bob"}).status_code
        == 201
    )

    cases = [
        ({"batch_code": "NOPE", "buyer_external_id": "bob"}, 404, "coupon_batch_not_found"),
        ({"batch_code": "ONE", "buyer_external_id": "bob"}, 409, "coupon_limit_reached"),
        ({"batch_code": "ONE", "buyer_external_id": "eve"}, 409, "coupon_batch_exhausted"),
        ({"batch_code": "LATER", "buyer_external_id": "bob"}, 422, "coupon_batch_closed"),
        ({"buyer_external_id": "bob"}, 400, "invalid_request"),
        ({"batch_code": 7, "buyer_external_id": "bob"}, 400, "invalid_request"),
        ({"batch_code": "ONE", "buyer_external_id": " "}, 400, "invalid_request"),
    ]
    for body, status, code in cases:
        reply = api.post("/api/v1/coupons/claim", body)
        assert (reply.status_code, reply.json()["error"]["code"]) == (status, code), body


def test_a_claim_replayed_under_its_idempotency_key_gives_the_same_coupon(api, batch_of):
    batch_of("SPRING", per_buyer_limit=5)
    body = {"batch_code": "SPRING", "buyer_external_id": "bob"}

    first = api.post("/api/v1/coupons/claim", body, idempotency_key="claim-1")
    again = api.post("/api/v1/coupons/claim", body, idempotency_key="claim-1")

    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["Idempotent-Replayed"] == "true"


def test_list_shows_the_buyers_coupons_newest_first_page_by_page(api, batch_of, merchant):
    batch_of("SPRING", per_buyer_limit=5)
    ids = [
        api.post("/api/v1/coupons/claim", {"batch_code": "SPRING", "buyer_external_id": "bob"}).json()["id"]
        for _ in range(3)
    ]
    api.post("/api/v1/coupons/claim", {"batch_code": "SPRING", "buyer_external_id": "eve"})

    first = api.get("/api/v1/coupons?buyer_external_id=bob&limit=2").json()
    second = api.get(f"/api/v1/coupons?buyer_external_id=bob&limit=2&cursor={first['next_cursor']}").json()

    assert [c["id"] for c in first["coupons"]] == ids[::-1][:2]
    assert [c["id"] for c in second["coupons"]] == ids[:1]
    assert second["next_cursor"] is None


def test_list_filters_by_status_and_shows_the_locking_order(api, batch_of, merchant):
    batch_of("SPRING", per_buyer_limit=5)
    claimed = [
        api.post("/api/v1/coupons/claim", {"batch_code": "SPRING", "buyer_external_id": "bob"}).json()["id"]
        for _ in range(2)
    ]
    from accounts.models import Customer

    bob = Customer.objects.get(merchant=merchant, external_id="bob")
    coupons_lock(
        merchant_id=merchant.pk,
        customer_id=bob.pk,
        coupon_ids=[claimed[0]],
        order_ref="ORD1",
        now=timezone.now(),
    )

    locked = api.get("/api/v1/coupons?buyer_external_id=bob&status=locked").json()["coupons"]

    assert [(c["id"], c["status"], c["order_id"]) for c in locked] == [(claimed[0], "locked", "ORD1")]


def test_list_errors_and_strangers(api, batch_of):
    assert api.get("/api/v1/coupons").json()["error"]["code"] == "invalid_request"
    assert api.get("/api/v1/coupons?buyer_external_id=bob&cursor=zz!").status_code == 400
    assert api.get("/api/v1/coupons?buyer_external_id=bob&status=nope").status_code == 400
    assert api.get("/api/v1/coupons?buyer_external_id=nobody").json() == {"coupons": [], "next_cursor": None}


def test_another_merchants_app_sees_neither_the_batches_nor_the_coupons(api, batch_of, db):
    from accounts.services import merchant_onboard
    from tests.conftest import SignedClient

    batch_of("SPRING")
    api.post("/api/v1/coupons/claim", {"batch_code": "SPRING", "buyer_external_id": "bob"})
    _, app, secret = merchant_onboard(name="Other", actor="test", now=timezone.now())
    other = SignedClient(app_id=app.app_id, secret=secret)

    assert other.get("/api/v1/coupons?buyer_external_id=bob").json()["coupons"] == []
    reply = other.post("/api/v1/coupons/claim", {"batch_code": "SPRING", "buyer_external_id": "bob"})
    assert (reply.status_code, reply.json()["error"]["code"]) == (404, "coupon_batch_not_found")


def test_unsigned_requests_are_refused(client):
    assert client.get("/api/v1/coupons?buyer_external_id=bob").status_code == 401
