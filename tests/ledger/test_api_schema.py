"""The OpenAPI schema tells the truth: its error codes per operation, its response fields
against what the views return, and the input errors it promises."""

import re
from pathlib import Path

import pytest
from django.core.management import call_command
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator

from channels import registry
from channels.services import merchant_channel_activate

pytestmark = pytest.mark.django_db

DOCS = Path(__file__).resolve().parents[2] / "docs" / "api.md"


@pytest.fixture(scope="module")
def schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


def operations(schema: dict):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            yield method.upper(), path, operation


def codes(operation: dict, status: int) -> set[str]:
    response = operation["responses"][str(status)]
    return set(
        response["content"]["application/json"]["schema"]["allOf"][1]["properties"]["error"]["properties"][
            "code"
        ]["enum"]
    )


def properties(schema: dict, component: str) -> set[str]:
    return set(schema["components"]["schemas"][component]["properties"])


def error(response) -> dict:
    return response.json()["error"]


def test_the_schema_generates_without_a_warning(tmp_path):
    # the operationId collision of GET /payments and GET /payments/{id} was one
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))


def test_operation_ids_are_unique(schema):
    ids = [operation["operationId"] for _, _, operation in operations(schema)]
    assert len(ids) == len(set(ids))
    assert "v1_payments_find" in ids


def test_every_signed_operation_documents_the_kernels_errors(schema):
    for method, path, operation in operations(schema):
        if not path.startswith("/api/v1/"):
            continue
        assert codes(operation, 401) == {
            "invalid_app",
            "invalid_signature",
            "timestamp_out_of_range",
            "replayed_request",
        }, path
        assert "rate_limited" in codes(operation, 429)
        assert "Retry-After" in operation["responses"]["429"]["headers"]
        assert codes(operation, 500) == {"internal_error"} and codes(operation, 503) == {
            "service_unavailable"
        }
        if method == "POST":
            assert "request_in_progress" in codes(operation, 409)
            assert "idempotency_key_reused" in codes(operation, 422)
            assert any(p["name"] == "Idempotency-Key" for p in operation["parameters"])


@pytest.mark.parametrize(
    ("method", "path", "status", "expected"),
    [
        ("post", "/api/v1/payments", 409, {"duplicate_out_trade_no", "request_in_progress"}),
        ("post", "/api/v1/payments", 429, {"rate_limited", "retry_too_soon"}),
        ("post", "/api/v1/payments", 422, {"channel_unavailable", "not_supported", "insufficient_funds"}),
        ("post", "/api/v1/payments", 400, {"invalid_amount", "invalid_currency", "malformed_request"}),
        ("post", "/api/v1/payments/{payment_id}/refunds", 422, {"refund_exceeds_payment"}),
        ("post", "/api/v1/payments/{payment_id}/capture", 422, {"capture_exceeds_authorization"}),
        ("post", "/api/v1/transfers", 422, {"same_account", "insufficient_funds"}),
        ("post", "/api/v1/transfers", 404, {"account_not_found"}),
        ("get", "/api/v1/payments/{payment_id}", 404, {"not_found"}),
    ],
)
def test_business_errors_are_documented_on_their_operations(schema, method, path, status, expected):
    assert expected <= codes(schema["paths"][path][method], status)


def test_every_code_the_schema_lists_is_in_the_docs_table(schema):
    table = DOCS.read_text().split("## Errors", 1)[1]
    documented = set(re.findall(r"`([a-z_]+)`", table))
    listed = {
        code
        for _, path, operation in operations(schema)
        if path.startswith("/api/v1/")
        for status in operation["responses"]
        if int(status) >= 400
        for code in codes(operation, int(status))
    }
    assert listed <= documented, listed - documented
    assert {
        "retry_too_soon",
        "refund_exceeds_payment",
        "capture_exceeds_authorization",
        "not_supported",
    } <= listed


@pytest.fixture
def paid(api, merchant, wallet_of):
    """A captured balance payment, partly refunded, through the API."""
    merchant_channel_activate(merchant_id=merchant.pk, channel="balance", actor="t", now=timezone.now())
    alice = wallet_of("alice", balance=100_00)
    body = {"out_trade_no": "o-1", "amount": "10.00", "subject": "Tea", "channel": "balance"}
    payment = api.post("/api/v1/payments", {**body, "payer_account_id": alice.pk})
    assert payment.status_code == 201, payment.content
    refund = api.post(f"/api/v1/payments/{payment.json()['id']}/refunds", {"amount": "1.00"})
    assert refund.status_code == 201, refund.content
    return alice, payment.json(), refund.json()


def test_payment_output_describes_every_field_the_response_carries(schema, api, paid):
    _, payment, _ = paid
    assert set(payment) == properties(schema, "PaymentOutput")
    assert set(api.get(f"/api/v1/payments/{payment['id']}").json()) == properties(schema, "PaymentOutput")


def test_refund_output_describes_every_field_the_response_carries(schema, api, paid):
    _, _, refund = paid
    assert set(refund) == properties(schema, "RefundOutput")


@pytest.mark.django_db(transaction=True)
def test_transaction_output_describes_every_kind(schema, api, wallet_of, sandbox_channel):
    alice, bob = wallet_of("alice", balance=100_00), wallet_of("bob")
    recharge = api.post("/api/v1/recharges", {"account_id": alice.pk, "amount": "1.00", "channel": "sandbox"})
    answers = [
        recharge,
        api.get(f"/api/v1/recharges/{recharge.json()['id']}"),
        api.post(
            "/api/v1/transfers", {"from_account_id": alice.pk, "to_account_id": bob.pk, "amount": "1.00"}
        ),
        api.post(
            "/api/v1/withdrawals", {"account_id": alice.pk, "amount": "1.00", "destination": {"type": "bank"}}
        ),
    ]
    described = properties(schema, "TransactionOutput")
    for answer in answers:
        assert answer.status_code in (200, 201), answer.content
        assert set(answer.json()) <= described, set(answer.json()) - described


# null is a bad currency for a payment only: elsewhere it means the account's currency.
BAD_CURRENCIES = [
    (path, currency)
    for path in ("/api/v1/payments", "/api/v1/transfers", "/api/v1/recharges")
    for currency in (1, "XXX", "cnyy", None, ["CNY"])
    if currency is not None or path == "/api/v1/payments"
]


@pytest.mark.parametrize(("path", "currency"), BAD_CURRENCIES)
def test_a_bad_currency_is_invalid_currency_on_the_currency_field(api, wallet_of, path, currency):
    alice, bob = wallet_of("alice", balance=100_00), wallet_of("bob")
    body = {
        "out_trade_no": "o-1",
        "subject": "Tea",
        "account_id": alice.pk,
        "from_account_id": alice.pk,
        "to_account_id": bob.pk,
        "amount": "12.30",
        "currency": currency,
    }
    response = api.post(path, body)
    assert response.status_code == 400, response.content
    assert (error(response)["code"], error(response)["field"]) == ("invalid_currency", "currency")


def test_the_amount_is_still_checked_against_a_good_currency(api):
    body = {"out_trade_no": "o-1", "subject": "Tea", "amount": "12.3", "currency": "JPY"}
    response = api.post("/api/v1/payments", body)
    assert (response.status_code, error(response)["code"], error(response)["field"]) == (
        400,
        "invalid_amount",
        "amount",
    )


@pytest.mark.parametrize("channel", ["quickpay", "no-such-channel", "alipay", "wechatpay"])
def test_a_channel_without_a_plugin_or_not_activated_is_422_channel_unavailable(api, channel):
    """quickpay has no plugin yet; the merchant has not activated Alipay or WeChat Pay."""
    body = {"out_trade_no": "o-1", "subject": "Tea", "amount": "1.00", "channel": channel}
    response = api.post("/api/v1/payments", body)
    assert response.status_code == 422, response.content
    assert (error(response)["code"], error(response)["field"]) == ("channel_unavailable", "channel")


def test_the_channel_enum_is_the_registry(schema):
    assert schema["components"]["schemas"]["ChannelEnum"]["enum"] == registry.names()


@pytest.mark.parametrize(
    ("path", "wrong", "field"),
    [
        ("/api/v1/payments", {"subject": 12}, "subject"),
        ("/api/v1/payments", {"out_trade_no": 7}, "out_trade_no"),
        ("/api/v1/payments", {"capture": "yes"}, "capture"),
        ("/api/v1/payments", {"payer_account_id": "12"}, "payer_account_id"),
        ("/api/v1/payments", {"expire_seconds": True}, "expire_seconds"),
        ("/api/v1/transfers", {"from_account_id": "1"}, "from_account_id"),
        ("/api/v1/transfers", {"memo": 5}, "memo"),
    ],
)
def test_json_types_are_taken_as_the_schema_states_them(api, wallet_of, path, wrong, field):
    # given a body valid but for one value of another JSON type than the schema's
    alice, bob = wallet_of("alice", balance=100_00), wallet_of("bob")
    body = {
        "out_trade_no": "o-1",
        "subject": "Tea",
        "amount": "1.00",
        "from_account_id": alice.pk,
        "to_account_id": bob.pk,
        **wrong,
    }
    # then DRF's coercion does not guess: 400 naming the field
    response = api.post(path, body)
    assert response.status_code == 400, response.content
    assert (error(response)["code"], error(response)["field"]) == ("invalid_request", field)
