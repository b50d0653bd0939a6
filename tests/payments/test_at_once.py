"""The hot path of POST /payments (ledger.api.payment_at_once): a captured balance payment in
one SQL statement, and every request it does not fully understand handed to the general
view with the same contract."""

import json
from collections import Counter

import pytest
from django.core.cache import caches
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import MerchantApp
from channels.models import MerchantChannel
from ledger.models import JournalEntry, Posting, Transaction
from paycenter.models import IdempotencyRecord, OutboxMessage
from tests.conftest import SignedClient
from tests.payments.test_concurrency import client_like, in_threads

PATH = "/api/v1/payments"


@pytest.fixture
def alice(wallet_of, balance_channel):
    return wallet_of("alice", balance=100_00)


def body(payer, **fields):
    return {"out_trade_no": "o-1", "amount": "12.30", "subject": "Tea", "channel": "balance",
            "payer_account_id": payer.pk, **fields}  # fmt: skip


def test_a_captured_balance_payment_is_one_statement_with_warm_caches(api, alice, settings):
    settings.PAYCENTER_HOT_CACHE_SECONDS = 60
    assert api.post(PATH, body(alice, out_trade_no="warm-up"), idempotency_key="k0").status_code == 201
    with CaptureQueriesContext(connection) as queries:
        response = api.post(PATH, body(alice), idempotency_key="k1")
    assert response.status_code == 201, response.content
    statements = [q["sql"] for q in queries if "SAVEPOINT" not in q["sql"]]  # the test's transaction
    assert len(statements) == 1, [sql[:80] for sql in statements]
    txn = Transaction.objects.get(serial=response.json()["id"])
    assert (txn.status, txn.paid_minor, txn.idempotency_key, txn.payer_account_id) == (
        "succeeded",
        12_30,
        "k1",
        alice.pk,
    )
    [entry] = JournalEntry.objects.filter(transaction=txn)
    legs = {p.direction: p for p in Posting.objects.filter(entry=entry)}
    alice.refresh_from_db()
    assert (legs["debit"].account_id, legs["debit"].applied, legs["debit"].seq) == (alice.pk, True, alice.seq)
    assert legs["debit"].balance_after_minor == alice.total_minor == 100_00 - 2 * 12_30
    assert (legs["credit"].account_id, legs["credit"].applied) == (txn.payee_account_id, False)


def test_its_answer_is_the_general_views_representation(api, alice):
    created = api.post(PATH, body(alice, metadata={"note": "x"}), idempotency_key="k1")
    shown = api.get(f"{PATH}/{created.json()['id']}")
    assert created.status_code == 201 and shown.status_code == 200
    assert created.json() == shown.json()
    assert created["Content-Type"] == "application/json"


def test_a_retry_replays_the_stored_response_byte_for_byte_and_pays_once(api, alice):
    first = api.post(PATH, body(alice), idempotency_key="k1")
    again = api.post(PATH, body(alice), idempotency_key="k1")
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.content == first.content and again["Idempotent-Replayed"] == "true"
    assert IdempotencyRecord.objects.get(key="k1").response_body == first.content.decode()
    alice.refresh_from_db()
    assert alice.available_minor == 100_00 - 12_30
    assert Transaction.objects.filter(kind="payment").count() == 1


def test_the_key_with_another_body_is_refused(api, alice):
    assert api.post(PATH, body(alice), idempotency_key="k1").status_code == 201
    other = api.post(PATH, body(alice, amount="1.00"), idempotency_key="k1")
    assert (other.status_code, other.json()["error"]["code"]) == (422, "idempotency_key_reused")


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"amount": "100.01"}, 422, "insufficient_funds"),
        ({"payer_account_id": 10**12}, 404, "account_not_found"),
        ({"payer_account_id": -(2**64)}, 404, "account_not_found"),  # past the column's type
        ({"currency": "USD"}, 422, "currency_mismatch"),
    ],
)
def test_a_guard_that_fails_writes_nothing_and_the_general_view_explains(api, alice, change, status, code):
    response = api.post(PATH, body(alice, **change), idempotency_key="k1")
    assert (response.status_code, response.json()["error"]["code"]) == (status, code)
    assert not Transaction.objects.filter(kind="payment").exists()
    alice.refresh_from_db()
    assert alice.available_minor == 100_00
    again = api.post(PATH, body(alice, **change), idempotency_key="k1")  # the error is stored too
    assert again.content == response.content and again["Idempotent-Replayed"] == "true"


def test_the_merchants_own_settlement_account_cannot_pay(api, alice, merchant):
    api.post(PATH, body(alice, out_trade_no="first"))  # opens the settlement account
    settlement = merchant.accounts.get(kind="merchant_settlement")
    response = api.post(PATH, {**body(alice), "payer_account_id": settlement.pk})
    assert (response.status_code, response.json()["error"]["code"]) == (422, "same_account")


def test_a_live_order_number_is_a_conflict(api, alice):
    assert api.post(PATH, body(alice), idempotency_key="k1").status_code == 201
    twin = api.post(PATH, body(alice), idempotency_key="k2")
    assert (twin.status_code, twin.json()["error"]["code"]) == (409, "duplicate_out_trade_no")


def test_a_disabled_balance_channel_stops_it_at_once(api, alice, balance_channel):
    MerchantChannel.objects.filter(pk=balance_channel.pk).update(status="disabled")
    response = api.post(PATH, body(alice))
    assert (response.status_code, response.json()["error"]["code"]) == (422, "channel_unavailable")


def test_a_channels_amount_range_is_kept(api, alice, balance_channel):
    MerchantChannel.objects.filter(pk=balance_channel.pk).update(max_amount_minor=10_00)
    response = api.post(PATH, body(alice))
    assert (response.status_code, response.json()["error"]["code"]) == (422, "channel_unavailable")


def test_a_nonce_it_used_is_a_replay_and_a_request_is_counted_once(api, alice, settings):
    settings.PAYCENTER_RATE_LIMITS = {
        **settings.PAYCENTER_RATE_LIMITS,
        # A day's window: a fixed window's boundary falling inside the test would reset it.
        "payment_create": {"app": "3/86400", "ip": "1000/86400"},
    }
    assert api.post(PATH, body(alice), nonce="nonce-0001", idempotency_key="k1").status_code == 201
    replay = api.post(PATH, body(alice), nonce="nonce-0001", idempotency_key="k1")
    assert (replay.status_code, replay.json()["error"]["code"]) == (401, "replayed_request")
    # One handed to the general view (no funds) counts once, not twice.
    assert api.post(PATH, body(alice, out_trade_no="o-2", amount="999.00")).status_code == 422
    assert api.post(PATH, body(alice, out_trade_no="o-3")).status_code == 201
    limited = api.post(PATH, body(alice, out_trade_no="o-4"))
    assert (limited.status_code, limited.json()["error"]["code"]) == (429, "rate_limited")
    assert int(limited["Retry-After"]) >= 1


def test_an_app_with_a_notify_url_gets_its_event_in_the_same_statement(api, alice, listening):
    response = api.post(PATH, body(alice), idempotency_key="k1")
    [message] = OutboxMessage.objects.filter(subscriber="webhook")
    assert message.payload["type"] == "payment.succeeded"
    assert message.payload["data"] == response.json()
    assert message.payload["app_pk"] == listening.pk


def test_a_disabled_app_is_refused(api, alice, onboarded):
    MerchantApp.objects.filter(pk=onboarded[1].pk).update(enabled=False)
    response = api.post(PATH, body(alice))
    assert (response.status_code, response.json()["error"]["code"]) == (401, "invalid_app")


def test_a_body_with_a_nan_goes_to_the_general_view(api, alice):
    raw = json.dumps(body(alice)).replace('"Tea"', '"Tea", "metadata": {"x": NaN}').encode()
    response = api.post(PATH, raw=raw)
    assert (response.status_code, response.json()["error"]["code"]) == (400, "malformed_request")


@pytest.mark.django_db(transaction=True)
def test_one_key_sent_by_20_threads_at_once_pays_once_and_every_answer_is_the_same(api, alice):
    def pay(_):
        response = client_like(api).post(PATH, body(alice), idempotency_key="k1")
        return response.status_code, response.content

    answers = Counter(in_threads(20, pay))
    assert len(answers) == 1 and next(iter(answers))[0] == 201, answers
    assert Transaction.objects.filter(kind="payment").count() == 1
    alice.refresh_from_db()
    assert alice.available_minor == 100_00 - 12_30


def test_an_address_past_its_failed_signatures_is_refused_and_its_nonce_kept(api, alice, settings):
    settings.PAYCENTER_RATE_LIMITS = {
        **settings.PAYCENTER_RATE_LIMITS,
        "failed_signature": {"ip": "2/86400"},
    }  # no window boundary inside
    caches["ratelimit"].delete_pattern("rl:failed_signature:*")  # other tests' failures
    forger = SignedClient(app_id=api.app_id, secret="not-the-secret", client=api.client)
    assert [forger.post(PATH, body(alice)).status_code for _ in range(2)] == [401, 401]
    refused = api.post(PATH, body(alice), nonce="nonce-0002")
    assert (refused.status_code, refused.json()["error"]["code"]) == (429, "rate_limited")
    caches["ratelimit"].delete_pattern("rl:failed_signature:*")
    assert api.post(PATH, body(alice), nonce="nonce-0002").status_code == 201
