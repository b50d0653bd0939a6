"""Request signing (docs/api.md, Signing; R20 of docs/requirements.md)."""

import json
import time

import pytest
from django.utils import timezone

from accounts.models import Customer
from accounts.services import app_update, merchant_transition
from tests.conftest import SignedClient

pytestmark = pytest.mark.django_db

PATH = "/api/v1/customers"
BODY = {"external_id": "buyer-1"}


def error_code(response):
    return response.json()["error"]["code"]


def test_a_correctly_signed_request_is_accepted(api):
    response = api.post(PATH, BODY)
    assert response.status_code == 201, response.content
    assert response.json()["external_id"] == "buyer-1"


def test_unknown_app_is_refused(api):
    stranger = SignedClient(app_id="app_doesnotexist", secret=api.secret)
    response = stranger.post(PATH, BODY)
    assert response.status_code == 401
    assert error_code(response) == "invalid_app"


def test_missing_headers_are_refused_as_invalid_app(client):
    response = client.post(PATH, BODY, content_type="application/json")
    assert response.status_code == 401
    assert error_code(response) == "invalid_app"


def test_disabled_app_is_refused(api, onboarded):
    _, app, _ = onboarded
    app_update(
        app_pk=app.pk,
        name=app.name,
        notify_url="",
        ip_allowlist="",
        enabled=False,
        actor="t",
        now=timezone.now(),
    )
    assert error_code(api.post(PATH, BODY)) == "invalid_app"


def test_app_of_a_suspended_merchant_is_refused(api, onboarded):
    merchant, _, _ = onboarded
    merchant_transition(merchant_id=merchant.pk, transition="suspend", actor="t", now=timezone.now())
    response = api.post(PATH, BODY)
    assert response.status_code == 401
    assert error_code(response) == "invalid_app"


def test_wrong_secret_is_an_invalid_signature(api):
    forger = SignedClient(app_id=api.app_id, secret=api.secret + "x")
    response = forger.post(PATH, BODY)
    assert response.status_code == 401
    assert error_code(response) == "invalid_signature"


@pytest.mark.parametrize("position", [0, 5, -2])
def test_one_changed_byte_of_the_body_is_an_invalid_signature(api, position):
    body = json.dumps(BODY).encode()
    headers = api.headers(method="POST", path=PATH, body=body)
    tampered = bytearray(body)
    tampered[position] = ord("X") if tampered[position] != ord("X") else ord("Y")
    response = api.client.generic(
        "POST", PATH, bytes(tampered), content_type="application/json", headers=headers
    )
    assert response.status_code == 401
    assert error_code(response) == "invalid_signature"
    assert not Customer.objects.exists()


def test_one_changed_byte_of_the_signature_is_refused(api):
    body = json.dumps(BODY).encode()
    headers = api.headers(method="POST", path=PATH, body=body)
    last = headers["X-Signature"][-1]
    headers["X-Signature"] = headers["X-Signature"][:-1] + ("0" if last != "0" else "1")
    response = api.client.generic("POST", PATH, body, content_type="application/json", headers=headers)
    assert error_code(response) == "invalid_signature"


@pytest.mark.parametrize("length", [0, 1, 63])
def test_a_truncated_or_empty_signature_is_refused(api, length):
    """The whole signature must match: a prefix of the right one (even none) is not enough."""
    body = json.dumps(BODY).encode()
    headers = api.headers(method="POST", path=PATH, body=body)
    headers["X-Signature"] = headers["X-Signature"][:length]
    response = api.client.generic("POST", PATH, body, content_type="application/json", headers=headers)
    assert response.status_code == 401
    assert error_code(response) == "invalid_signature"
    assert not Customer.objects.exists()


def test_a_signature_with_extra_characters_is_refused(api):
    body = json.dumps(BODY).encode()
    headers = api.headers(method="POST", path=PATH, body=body)
    headers["X-Signature"] += "0"
    response = api.client.generic("POST", PATH, body, content_type="application/json", headers=headers)
    assert (response.status_code, error_code(response)) == (401, "invalid_signature")


def test_signature_covers_the_query_string(api, onboarded):
    merchant, _, _ = onboarded
    account_id = merchant.accounts.get().pk
    headers = api.headers(method="GET", path=f"/api/v1/accounts/{account_id}?a=1", body=b"")
    response = api.client.get(f"/api/v1/accounts/{account_id}?a=2", headers=headers)
    assert error_code(response) == "invalid_signature"


@pytest.mark.parametrize("skew", [305, -305, 100000])
def test_timestamp_more_than_300_seconds_away_is_refused(api, skew):
    response = api.post(PATH, BODY, timestamp=int(time.time()) + skew)
    assert response.status_code == 401
    assert error_code(response) == "timestamp_out_of_range"


@pytest.mark.parametrize("skew", [-290, 290])
def test_timestamp_inside_the_window_is_accepted(api, skew):
    assert api.post(PATH, BODY, timestamp=int(time.time()) + skew).status_code == 201


@pytest.mark.parametrize("bad", ["", "abc", "1.5", "-5", "99999999999999999999"])
def test_malformed_timestamp_is_refused(api, bad):
    body = json.dumps(BODY).encode()
    headers = api.headers(method="POST", path=PATH, body=body)
    headers["X-Timestamp"] = bad
    response = api.client.generic("POST", PATH, body, content_type="application/json", headers=headers)
    assert response.status_code == 401
    assert error_code(response) == "timestamp_out_of_range"


def test_a_reused_nonce_is_a_replay(api):
    first = api.post(PATH, BODY, nonce="nonce-0001-reused")
    second = api.post(PATH, {"external_id": "buyer-2"}, nonce="nonce-0001-reused")
    assert first.status_code == 201
    assert second.status_code == 401
    assert error_code(second) == "replayed_request"
    assert not Customer.objects.filter(external_id="buyer-2").exists()


def test_a_forged_request_does_not_burn_the_nonce(api):
    forger = SignedClient(app_id=api.app_id, secret="not-the-secret")
    assert error_code(forger.post(PATH, BODY, nonce="nonce-0002-shared")) == "invalid_signature"
    assert api.post(PATH, BODY, nonce="nonce-0002-shared").status_code == 201


@pytest.mark.parametrize("nonce", ["short", "x" * 65])
def test_nonce_length_is_checked(api, nonce):
    response = api.post(PATH, BODY, nonce=nonce)
    assert response.status_code == 401
    assert error_code(response) == "invalid_signature"


def test_ip_allowlist_refuses_other_addresses(api, onboarded):
    _, app, _ = onboarded
    app_update(
        app_pk=app.pk,
        name=app.name,
        notify_url="",
        ip_allowlist="10.1.0.0/16",
        enabled=True,
        actor="t",
        now=timezone.now(),
    )
    response = api.post(PATH, BODY)  # the test client calls from 127.0.0.1
    assert response.status_code == 403
    assert error_code(response) == "ip_not_allowed"
    app_update(
        app_pk=app.pk,
        name=app.name,
        notify_url="",
        ip_allowlist="127.0.0.0/8",
        enabled=True,
        actor="t",
        now=timezone.now(),
    )
    assert api.post(PATH, BODY).status_code == 201


def test_signatures_are_compared_in_constant_time(monkeypatch, api):
    import hmac

    from paycenter.api import signing

    calls = []
    real = hmac.compare_digest
    monkeypatch.setattr(signing.hmac, "compare_digest", lambda a, b: calls.append(1) or real(a, b))
    api.post(PATH, BODY)
    assert calls, "the signature check must go through hmac.compare_digest"
