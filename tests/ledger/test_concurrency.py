"""Money under real concurrency: threads on separate PostgreSQL connections, through the
signed API (RELIABILITY 5; ledger issue's must-show figures)."""

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from ledger.models import Transaction
from tests.conftest import SignedClient
from tests.ledger.conftest import assert_ledger_clean

WORKERS = 32


def run_concurrently(api, requests):
    """POST every (path, body) from a pool of threads; each request on a fresh connection."""

    def send(item):
        path, body = item
        client = SignedClient(app_id=api.app_id, secret=api.secret)
        try:
            response = client.post(path, body)
            return response.status_code, response.json().get("error", {}).get("code")
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        return list(pool.map(send, requests))


@pytest.mark.django_db(transaction=True)
def test_1000_concurrent_withdrawals_of_1_against_500_available(api, wallet_of):
    """Given 500.00 available, when 1,000 withdrawals of 1.00 race, then exactly 500 are
    accepted, the rest are 422 insufficient_funds, and every invariant holds."""
    alice = wallet_of("alice", balance=500_00)
    body = {"account_id": alice.pk, "amount": "1.00", "destination": {"bank": "ICBC"}}
    results = run_concurrently(api, [("/api/v1/withdrawals", body)] * 1000)

    outcomes = Counter(results)
    assert outcomes == {(201, None): 500, (422, "insufficient_funds"): 500}, outcomes
    alice.refresh_from_db()
    assert (alice.total_minor, alice.available_minor, alice.frozen_minor) == (500_00, 0, 500_00)
    assert Transaction.objects.filter(kind="withdrawal").count() == 500
    assert_ledger_clean()


@pytest.mark.django_db(transaction=True)
def test_200_concurrent_transfers_both_ways_never_deadlock_and_stay_exact(api, wallet_of):
    """Given two accounts, when 100 transfers go each way at once, then every one succeeds
    (no deadlock reaches a caller) and the balances are exactly what the arithmetic says."""
    alice, bob = wallet_of("alice", balance=1_000_00), wallet_of("bob", balance=1_000_00)
    there = {"from_account_id": alice.pk, "to_account_id": bob.pk, "amount": "1.25"}
    back = {"from_account_id": bob.pk, "to_account_id": alice.pk, "amount": "0.75"}
    requests = [("/api/v1/transfers", there), ("/api/v1/transfers", back)] * 100
    results = run_concurrently(api, requests)

    assert Counter(results) == {(201, None): 200}, Counter(results)
    alice.refresh_from_db()
    bob.refresh_from_db()
    assert alice.total_minor == 1_000_00 - 100 * 125 + 100 * 75
    assert bob.total_minor == 1_000_00 + 100 * 125 - 100 * 75
    assert_ledger_clean()


@pytest.mark.django_db(transaction=True)
def test_concurrent_payments_into_one_hot_account_stay_exact(api, merchant, wallet_of):
    """Given many payers crediting the merchant's buffered account at once, then the
    balance and statement are exact after the buffer is applied."""
    from ledger.services.journal import account_apply_pending

    hot = merchant.accounts.get(kind="merchant_settlement")
    payers = [wallet_of(f"payer-{i}", balance=100_00) for i in range(20)]
    requests = [
        ("/api/v1/transfers", {"from_account_id": p.pk, "to_account_id": hot.pk, "amount": "3.33"})
        for p in payers
        for _ in range(10)
    ]
    results = run_concurrently(api, requests)
    assert Counter(results) == {(201, None): 200}
    account_apply_pending(account_id=hot.pk)
    hot.refresh_from_db()
    assert (hot.total_minor, hot.seq) == (200 * 333, 200)
    assert_ledger_clean()
