"""Balance payments (one local transaction) under real concurrency, each thread on its own
PostgreSQL connection."""

from collections import Counter

import pytest

from ledger.models import Hold, JournalEntry, Posting, Transaction
from ledger.services import payment_create
from ledger.services.journal import account_apply_pending
from paycenter.errors import PaycenterError
from tests.ledger.conftest import assert_ledger_clean
from tests.payments.test_concurrency import client_like, in_threads

pytestmark = pytest.mark.django_db(transaction=True)


def test_40_payments_of_1_from_a_wallet_of_25_accept_exactly_25(api, merchant, balance_channel, wallet_of):
    alice = wallet_of("alice", balance=25_00)

    def pay(i):
        body = {"out_trade_no": f"o-{i}", "amount": "1.00", "subject": "Tea", "channel": "balance"}
        response = client_like(api).post(
            "/api/v1/payments", {**body, "payer_account_id": alice.pk}, idempotency_key=f"k-{i}"
        )
        return response.status_code, response.json().get("status") or response.json()["error"]["code"]

    outcomes = Counter(in_threads(40, pay))
    assert outcomes == {(201, "succeeded"): 25, (422, "insufficient_funds"): 15}, outcomes
    alice.refresh_from_db()
    assert (alice.total_minor, alice.available_minor, alice.frozen_minor) == (0, 0, 0)
    assert Transaction.objects.filter(kind="payment").count() == 25
    assert not Hold.objects.exists()  # captured at once: nothing was left frozen
    settlement = merchant.accounts.get(kind="merchant_settlement")
    account_apply_pending(account_id=settlement.pk)
    settlement.refresh_from_db()
    assert settlement.total_minor == 25_00
    assert Posting.objects.filter(account=settlement).count() == 25
    assert_ledger_clean()


def test_one_order_number_paid_concurrently_under_many_keys_is_paid_once(api, balance_channel, wallet_of):
    alice = wallet_of("alice", balance=100_00)
    body = {"out_trade_no": "one-order", "amount": "3.00", "subject": "Tea", "channel": "balance"}

    def pay(i):
        response = client_like(api).post(
            "/api/v1/payments", {**body, "payer_account_id": alice.pk}, idempotency_key=f"key-{i}"
        )
        return response.status_code, response.json().get("status") or response.json()["error"]["code"]

    outcomes = Counter(in_threads(30, pay))
    assert outcomes == {(201, "succeeded"): 1, (409, "duplicate_out_trade_no"): 29}, outcomes
    alice.refresh_from_db()
    assert alice.total_minor == 97_00
    assert JournalEntry.objects.count() == 2  # the recharge and the one payment
    assert_ledger_clean()


def test_one_key_used_concurrently_below_the_http_layer_makes_one_payment(wallet_of, create_balance_payment):
    """The HTTP Idempotency-Key claim stops twins first; the record's unique key must
    stop them on its own too (a retry after the claim expired, another entry point)."""
    alice = wallet_of("alice", balance=100_00)

    def pay(_):
        return create_balance_payment("o-1", payer=alice, key="k", amount_minor=5_00).serial

    serials = Counter(in_threads(20, pay))
    assert len(serials) == 1 and sum(serials.values()) == 20, serials
    alice.refresh_from_db()
    assert alice.total_minor == 95_00
    assert_ledger_clean()


@pytest.fixture
def constraints_only(monkeypatch):
    """Skip the look-up before the insert, so every twin reaches the unique constraints:
    what happens when two requests both pass the look-up before either commits."""
    monkeypatch.setattr(payment_create, "attempt_existing", lambda **kwargs: None)


def test_twins_past_the_look_up_are_stopped_by_the_constraints(
    wallet_of, create_balance_payment, constraints_only
):
    alice = wallet_of("alice", balance=100_00)

    def pay(*, key, out_trade_no="o-1"):
        try:
            return create_balance_payment(out_trade_no, payer=alice, key=key, amount_minor=5_00).serial
        except PaycenterError as error:
            return error.code

    same_key = Counter(in_threads(20, lambda i: pay(key="k")))
    assert len(same_key) == 1 and sum(same_key.values()) == 20, same_key
    other_keys = Counter(in_threads(20, lambda i: pay(key=f"k-{i}")))
    assert other_keys == {"duplicate_out_trade_no": 20}, other_keys
    assert pay(key="k", out_trade_no="o-2") == "idempotency_key_reused"
    alice.refresh_from_db()
    assert alice.total_minor == 95_00
    assert_ledger_clean()
