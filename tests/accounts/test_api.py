import pytest
from django.utils import timezone

from accounts.models import Customer
from accounts.services import customer_get_or_create, merchant_onboard
from tests.conftest import SignedClient

pytestmark = pytest.mark.django_db


def test_create_customer_returns_201_with_its_wallet(api):
    response = api.post("/api/v1/customers", {"external_id": "buyer-7", "name": "Bo"})
    assert response.status_code == 201
    body = response.json()
    assert body["external_id"] == "buyer-7" and body["name"] == "Bo"
    [wallet] = body["accounts"]
    assert wallet == {
        "id": wallet["id"],
        "owner": {"type": "customer", "id": body["id"], "external_id": "buyer-7"},
        "kind": "customer_wallet",
        "currency": "CNY",
        "total": "0.00",
        "available": "0.00",
        "frozen": "0.00",
        "status": "active",
    }


def test_creating_an_existing_external_id_returns_the_same_customer(api):
    first = api.post("/api/v1/customers", {"external_id": "buyer-7"}).json()
    response = api.post("/api/v1/customers", {"external_id": "buyer-7"})
    assert response.status_code == 200
    assert response.json()["id"] == first["id"]
    assert Customer.objects.count() == 1


def test_wallet_currency_can_be_chosen(api):
    body = api.post("/api/v1/customers", {"external_id": "jp", "currency": "JPY"}).json()
    assert body["accounts"][0]["currency"] == "JPY"
    assert body["accounts"][0]["total"] == "0"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "external_id"),
        ({"external_id": ""}, "external_id"),
        ({"external_id": "x" * 129}, "external_id"),
        ({"external_id": "5", "currency": "XXX"}, "currency"),
        ({"external_id": 5}, "external_id"),  # a number is not a string (the schema says string)
        ({"external_id": "a", "name": ["list"]}, "name"),
    ],
)
def test_invalid_bodies_are_400_with_the_field(api, body, field):
    response = api.post("/api/v1/customers", body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["field"] == field
    assert error["code"] in {"invalid_request", "invalid_currency"}
    assert error["message"]


def test_malformed_json_is_400(api):
    response = api.post("/api/v1/customers", raw=b'{"external_id": ')
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_request"


def test_form_bodies_are_not_accepted(api):
    body = b"external_id=x"
    headers = api.headers(method="POST", path="/api/v1/customers", body=body)
    response = api.client.generic(
        "POST", "/api/v1/customers", body, content_type="application/x-www-form-urlencoded", headers=headers
    )
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"


def test_get_account_shows_balances(api, onboarded):
    merchant, _, _ = onboarded
    customer, _ = customer_get_or_create(merchant_id=merchant.pk, external_id="c", now=timezone.now())
    account = customer.accounts.get()
    response = api.get(f"/api/v1/accounts/{account.pk}")
    assert response.status_code == 200
    body = response.json()
    assert {k: body[k] for k in ("id", "currency", "total", "available", "frozen", "status")} == {
        "id": account.pk,
        "currency": "CNY",
        "total": "0.00",
        "available": "0.00",
        "frozen": "0.00",
        "status": "active",
    }
    assert body["owner"]["type"] == "customer"


def test_another_merchants_account_is_not_found(api):
    _, other_app, other_secret = merchant_onboard(name="Other", actor="t", now=timezone.now())
    other = SignedClient(app_id=other_app.app_id, secret=other_secret)
    their_wallet = other.post("/api/v1/customers", {"external_id": "theirs"}).json()["accounts"][0]["id"]
    response = api.get(f"/api/v1/accounts/{their_wallet}")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert api.get("/api/v1/accounts/999999").status_code == 404


def test_merchant_settlement_account_is_visible_to_its_merchant(api, onboarded):
    merchant, _, _ = onboarded
    account = merchant.accounts.get()
    body = api.get(f"/api/v1/accounts/{account.pk}").json()
    assert body["owner"] == {"type": "merchant", "id": merchant.pk}
    assert body["kind"] == "merchant_settlement"


def test_unknown_method_is_405(api):
    response = api.get("/api/v1/customers")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
