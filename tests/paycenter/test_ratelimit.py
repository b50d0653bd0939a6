"""Rate limits (RELIABILITY 25): per app and per address, per class of endpoint, shared through
Redis; failed signatures count against the address; the limiter fails open, the nonce store
fails closed."""

import copy
import json
import logging
import random

import pytest
import redis
from django.conf import settings
from django.core.cache import caches
from django.test import override_settings
from django.utils import timezone

from accounts.services import merchant_onboard
from channels.services import merchant_channel_activate
from ledger.models import Transaction
from paycenter import ratelimit
from tests.conftest import SignedClient

pytestmark = pytest.mark.django_db

# Windows of a day in tests: a burst of a second never straddles two fixed windows.
DAY = 86400
DEAD_REDIS = "redis://127.0.0.1:1/0"  # nothing listens on port 1: connections are refused


def limits(**scopes: dict) -> dict:
    """The default limits with some replaced, e.g. limits(read={"app": f"3/{DAY}"})."""
    return {**copy.deepcopy(settings.PAYCENTER_RATE_LIMITS), **scopes}


def dead(alias: str) -> dict:
    caches = copy.deepcopy(settings.CACHES)
    caches[alias] = {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": DEAD_REDIS}
    return caches


@pytest.fixture
def address() -> str:
    """A fresh client address per test: counters live in Redis beyond one test."""
    address = f"198.18.{random.randrange(256)}.{random.randrange(1, 255)}"
    yield address
    caches["ratelimit"].delete_pattern(f"rl:*:{address}:*")


@pytest.fixture(autouse=True)
def _limiter_not_paused():
    ratelimit._paused_until = 0.0
    yield
    ratelimit._paused_until = 0.0


def get(api: SignedClient, path: str, address: str):
    return api.client.get(path, headers=api.headers(method="GET", path=path, body=b""), REMOTE_ADDR=address)


def post(api: SignedClient, path: str, body: dict, address: str):
    raw = json.dumps(body).encode()
    headers = api.headers(method="POST", path=path, body=raw)
    return api.client.generic(
        "POST", path, raw, content_type="application/json", headers=headers, REMOTE_ADDR=address
    )


@pytest.fixture
def account_path(merchant) -> str:
    return f"/api/v1/accounts/{merchant.accounts.order_by('id').first().pk}"


@pytest.fixture
def payer(merchant, wallet_of):
    merchant_channel_activate(merchant_id=merchant.pk, channel="balance", actor="t", now=timezone.now())
    return wallet_of("payer", balance=100_00)


def payment(n: int, payer) -> dict:
    return {
        "out_trade_no": f"o-{n}",
        "amount": "1.00",
        "subject": "Tea",
        "channel": "balance",
        "payer_account_id": payer.pk,
    }


def test_a_burst_of_payments_over_the_app_limit_is_429_with_retry_after(api, payer, address):
    # given a limit of 5 payments a day for an app
    with override_settings(PAYCENTER_RATE_LIMITS=limits(payment_create={"app": f"5/{DAY}"})):
        # when it sends 8 at once
        answers = [post(api, "/api/v1/payments", payment(n, payer), address) for n in range(8)]
    # then 5 are paid and the rest refused with the error body and Retry-After
    assert [a.status_code for a in answers] == [201] * 5 + [429] * 3
    refused = answers[-1]
    assert refused.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(refused["Retry-After"]) <= DAY
    assert Transaction.objects.filter(kind="payment").count() == 5


def test_reads_count_against_their_own_class(api, payer, address, account_path):
    with override_settings(
        PAYCENTER_RATE_LIMITS=limits(read={"app": f"3/{DAY}"}, payment_create={"app": f"100/{DAY}"})
    ):
        reads = [get(api, account_path, address).status_code for _ in range(4)]
        paid = post(api, "/api/v1/payments", payment(1, payer), address)
    assert reads == [200, 200, 200, 429]
    assert paid.status_code == 201, paid.content


def test_the_address_limit_covers_every_app_calling_from_it(api, address, account_path):
    _, other_app, other_secret = merchant_onboard(name="Other", actor="t", now=timezone.now())
    other = SignedClient(app_id=other_app.app_id, secret=other_secret)
    with override_settings(PAYCENTER_RATE_LIMITS=limits(read={"app": f"100/{DAY}", "ip": f"3/{DAY}"})):
        first = [get(api, account_path, address).status_code for _ in range(2)]
        second = [get(other, f"/api/v1/accounts/{other_app.merchant.accounts.get().pk}", address).status_code]
        refused = get(other, f"/api/v1/accounts/{other_app.merchant.accounts.get().pk}", address)
    assert first + second == [200, 200, 200]
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "rate_limited"


def test_a_burst_of_signed_reads_past_the_limit_is_refused_exactly_past_it(api, address, account_path):
    with override_settings(PAYCENTER_RATE_LIMITS=limits(read={"app": f"150/{DAY}"})):
        statuses = [get(api, account_path, address).status_code for _ in range(200)]
    assert statuses == [200] * 150 + [429] * 50


def test_badly_signed_requests_from_one_address_are_429_after_the_limit(api, address, account_path):
    # given an address allowed 5 failed signatures a day
    forger = SignedClient(app_id=api.app_id, secret="not-the-secret")
    with override_settings(PAYCENTER_RATE_LIMITS=limits(failed_signature={"ip": f"5/{DAY}"})):
        # when it sends 8 badly signed requests, then a good one
        bad = [get(forger, account_path, address) for _ in range(8)]
        good = get(api, account_path, address)
        # then 5 are 401, the rest 429 — the good one too: the address is refused, not checked
        other_address = get(api, account_path, "203.0.113.7")
    assert [r.status_code for r in bad] == [401] * 5 + [429] * 3
    assert bad[-1].json()["error"]["code"] == "rate_limited" and int(bad[-1]["Retry-After"]) >= 1
    assert good.status_code == 429
    assert other_address.status_code == 200


def test_unknown_apps_and_stale_timestamps_count_as_failed_signatures(api, address, account_path):
    stranger = SignedClient(app_id="app_nobody", secret="x")
    with override_settings(PAYCENTER_RATE_LIMITS=limits(failed_signature={"ip": f"2/{DAY}"})):
        statuses = [get(stranger, account_path, address).status_code for _ in range(3)]
    assert statuses == [401, 401, 429]


def test_counters_live_in_redis_where_every_worker_sees_them(api, onboarded, address, account_path):
    # given the suite's Redis, when an app reads three times
    for _ in range(3):
        assert get(api, account_path, address).status_code == 200
    # then a separate connection (another worker) reads the same counter
    keys = redis.Redis.from_url(settings.REDIS_URL).keys(f"*rl:read:app:{api.app_id}:*")
    assert len(keys) == 1
    assert int(redis.Redis.from_url(settings.REDIS_URL).get(keys[0])) == 3


def test_a_limiter_outage_does_not_stop_payments(api, payer, address, caplog):
    # given a limit of one payment a day, and the limiter's Redis down
    with (
        override_settings(
            CACHES=dead("ratelimit"),
            PAYCENTER_RATE_LIMITS=limits(payment_create={"app": f"1/{DAY}", "ip": f"1/{DAY}"}),
        ),
        caplog.at_level(logging.WARNING, logger="paycenter.ratelimit"),
    ):
        # when three payments are sent
        answers = [post(api, "/api/v1/payments", payment(n, payer), address) for n in range(3)]
    # then all three are paid, and the outage is logged
    assert [a.status_code for a in answers] == [201, 201, 201], answers[0].content
    assert "not enforced" in caplog.text
    assert Transaction.objects.filter(kind="payment").count() == 3


def test_a_nonce_store_outage_is_a_json_503(api, payer, address):
    # given the nonce store (the default cache) down, the limiter up
    with override_settings(CACHES=dead("default")):
        # when a correctly signed payment is sent
        response = post(api, "/api/v1/payments", payment(1, payer), address)
    # then it is refused with the error body, not a 500, and nothing is paid
    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == "service_unavailable"
    assert not Transaction.objects.filter(kind="payment").exists()


def test_the_default_limits_are_far_above_the_benchmarks():
    # docs/benchmarks.md: 99 payments/s and 509 signed reads/s on this machine
    rates = settings.PAYCENTER_RATE_LIMITS
    rate = {scope: ratelimit.Rate.parse(rates[scope]["app"]) for scope in ("payment_create", "read")}
    per_second = {scope: r.count / r.seconds for scope, r in rate.items()}
    assert per_second["payment_create"] >= 2 * 99 and per_second["read"] >= 2 * 509
