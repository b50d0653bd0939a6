"""The API's edge (paycenter.middleware): NUL characters, deep JSON, over-long request lines
and headers, out-of-range ids are refused with the JSON error body on every endpoint."""

import json
import re

import pytest
from drf_spectacular.generators import SchemaGenerator

from ledger.models import Transaction
from paycenter.middleware import MAX_HEADER_VALUE, MAX_JSON_DEPTH, MAX_REQUEST_TARGET

pytestmark = pytest.mark.django_db


def _operations() -> list[tuple[str, str]]:
    """Every operation of the app API, from the same schema apps read."""
    paths = SchemaGenerator().get_schema(request=None, public=True)["paths"]
    return sorted(
        (method.upper(), path)
        for path, item in paths.items()
        for method in item
        if path.startswith("/api/v1/")
    )


OPERATIONS = _operations()
POSTS = [(m, p) for m, p in OPERATIONS if m == "POST"]
STRING_IDS = [(m, p) for m, p in OPERATIONS if re.search(r"\{(payment_id|refund_id|serial)\}", p)]


def _fill(path: str, value: str = "1") -> str:
    return re.sub(r"\{\w+\}", value, path)


def _send(api, method: str, path: str, *, body: bytes = b"{}", headers: dict | None = None):
    if method == "GET":
        signed = api.headers(method="GET", path=path, body=b"")
        return api.client.get(path, headers={**signed, **(headers or {})})
    signed = api.headers(method="POST", path=path, body=body)
    return api.client.generic(
        "POST", path, body, content_type="application/json", headers={**signed, **(headers or {})}
    )


def error(response) -> dict:
    assert response["Content-Type"] == "application/json", response.content
    return response.json()["error"]


def test_the_operation_list_covers_the_api():
    assert len(OPERATIONS) >= 17 and len(POSTS) >= 9 and len(STRING_IDS) >= 9


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_a_nul_in_the_query_string_is_a_400_naming_the_parameter(api, method, path):
    # given any endpoint, when a query parameter carries %00
    response = _send(api, method, _fill(path) + "?out_trade_no=ab%00cd")
    # then it is refused before any database sees it
    assert response.status_code == 400
    assert error(response) == {
        "code": "invalid_request",
        "message": "The query parameter contains a NUL character.",
        "field": "out_trade_no",
    }


@pytest.mark.parametrize(("method", "path"), STRING_IDS)
def test_a_nul_in_a_path_id_is_a_400_naming_the_parameter(api, method, path):
    name = re.search(r"\{(\w+)\}", path).group(1)
    response = _send(api, method, _fill(path, "PAY1%00"))
    assert response.status_code == 400
    assert error(response)["code"] == "invalid_request" and error(response)["field"] == name


@pytest.mark.parametrize(("method", "path"), POSTS)
def test_a_nul_anywhere_in_a_json_body_is_a_400_naming_the_field(api, method, path):
    body = json.dumps({"metadata": {"note": ["ok", "a\u0000b"]}}).encode()
    response = _send(api, method, _fill(path), body=body)
    assert response.status_code == 400
    assert error(response)["code"] == "invalid_request"
    assert error(response)["field"] == "metadata.note.1"


@pytest.mark.parametrize(("method", "path"), POSTS)
def test_a_body_nested_1000_deep_is_malformed_not_a_500(api, method, path):
    body = ("[" * 1000 + "]" * 1000).encode()
    response = _send(api, method, _fill(path), body=body)
    assert response.status_code == 400
    assert error(response)["code"] == "malformed_request"


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 100_000])
def test_nesting_past_the_limit_is_malformed(api, depth):
    body = ('{"a":' * depth + "1" + "}" * depth).encode()
    response = _send(api, "POST", "/api/v1/customers", body=body)
    assert response.status_code == 400 and error(response)["code"] == "malformed_request"


def test_nesting_at_the_limit_reaches_the_view(api):
    metadata = 1
    for _ in range(MAX_JSON_DEPTH - 1):
        metadata = {"a": metadata}
    body = json.dumps({"external_id": "deep-1", "name": "Deep", "extra": metadata}).encode()
    response = _send(api, "POST", "/api/v1/customers", body=body)
    assert response.status_code == 201, response.content


def test_a_nul_in_a_metadata_key_names_the_object_holding_it(api):
    body = {"out_trade_no": "o-1", "amount": "1.00", "subject": "s", "metadata": {"k\u0000": "v"}}
    response = api.post("/api/v1/payments", body)
    assert response.status_code == 400
    assert error(response)["field"] == "metadata"
    assert not Transaction.objects.exists()


def test_a_nul_in_a_withdrawal_destination_is_a_400(api, wallet_of):
    alice = wallet_of("alice", balance=1000)
    body = {"account_id": alice.pk, "amount": "1.00", "destination": {"type": "bank", "account": "6\u00002"}}
    response = api.post("/api/v1/withdrawals", body)
    assert response.status_code == 400
    assert error(response) == {
        "code": "invalid_request",
        "message": "Text may not contain NUL characters or unpaired surrogates.",
        "field": "destination.account",
    }


def test_an_unpaired_surrogate_is_refused_like_a_nul(api):
    response = api.post("/api/v1/customers", raw=b'{"external_id": "x\\ud800y"}')
    assert response.status_code == 400 and error(response)["field"] == "external_id"


def test_an_escaped_backslash_before_u0000_is_not_a_nul(api):
    response = api.post("/api/v1/customers", raw=b'{"external_id": "x\\\\u0000y"}')
    assert response.status_code == 201, response.content
    assert response.json()["external_id"] == "x\\u0000y"


def test_a_nul_in_a_header_is_a_400_naming_the_header(api):
    response = _send(api, "GET", "/api/v1/payments?out_trade_no=x", headers={"X-App-Id": "app\x00x"})
    assert response.status_code == 400
    assert error(response)["field"] == "X-App-Id"


def test_an_over_long_request_target_is_a_json_414(api):
    path = "/api/v1/payments?out_trade_no=" + "x" * MAX_REQUEST_TARGET
    response = _send(api, "GET", path)
    assert response.status_code == 414 and error(response)["code"] == "uri_too_long"


def test_an_over_long_header_is_a_json_431(api):
    response = _send(
        api, "GET", "/api/v1/payments?out_trade_no=x", headers={"X-Junk": "j" * (MAX_HEADER_VALUE + 1)}
    )
    assert response.status_code == 431
    assert error(response) == {
        "code": "header_too_large",
        "message": f"A header value has at most {MAX_HEADER_VALUE} characters.",
        "field": "X-Junk",
    }


def test_too_many_headers_is_a_json_431(api):
    junk = {f"X-Junk-{n}": "j" for n in range(120)}
    response = _send(api, "GET", "/api/v1/payments?out_trade_no=x", headers=junk)
    assert response.status_code == 431 and error(response)["code"] == "header_too_large"


def test_an_account_id_past_64_bits_is_a_404_not_a_500(api):
    response = _send(api, "GET", "/api/v1/accounts/" + "9" * 30)
    assert response.status_code == 404 and error(response)["code"] == "not_found"


def test_pages_outside_the_api_are_left_alone(client):
    assert client.get("/health?x=%00").status_code in (200, 503)
