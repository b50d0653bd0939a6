"""Payments under real concurrency: threads on their own PostgreSQL connections, the
sandbox over real HTTP (RELIABILITY 2, 3, 4, 6)."""

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from django.db import connection
from django.utils import timezone

from channels.models import ChannelRequestLog
from ledger.models import JournalEntry, Posting, Transaction
from ledger.services.payment_query import payment_query
from tests.conftest import SignedClient
from tests.ledger.conftest import assert_ledger_clean

pytestmark = pytest.mark.django_db(transaction=True)


def in_threads(count, work, workers=20):
    def run(i):
        try:
            return work(i)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(run, range(count)))


def client_like(api):
    return SignedClient(app_id=api.app_id, secret=api.secret)


def test_50_concurrent_refunds_of_3_on_100_accept_exactly_33(api, balance_channel, wallet_of, pay):
    alice = wallet_of("alice", balance=200_00)
    payment = pay("100.00", channel="balance", payer_account_id=alice.pk).json()
    url = f"/api/v1/payments/{payment['id']}/refunds"

    def refund(_):
        response = client_like(api).post(url, {"amount": "3.00"})
        return response.status_code, response.json().get("status") or response.json()["error"]["code"]

    outcomes = Counter(in_threads(50, refund))
    assert outcomes == {(201, "succeeded"): 33, (422, "refund_exceeds_payment"): 17}, outcomes
    body = api.get(f"/api/v1/payments/{payment['id']}").json()
    assert (body["refunded_amount"], body["status"]) == ("99.00", "partially_refunded")
    assert_ledger_clean()


def test_100_concurrent_creates_with_one_key_make_one_payment_and_one_channel_call(api, sandbox_channel):
    body = {"out_trade_no": "same-order", "amount": "10.00", "subject": "Tea", "channel": "sandbox"}

    def create(_):
        response = client_like(api).post("/api/v1/payments", body, idempotency_key="one-key")
        return response.status_code, response.content

    results = in_threads(100, create)
    statuses = Counter(status for status, _ in results)
    assert set(statuses) <= {201, 409}, statuses
    assert len({content for status, content in results if status == 201}) == 1
    assert Transaction.objects.filter(kind="payment").count() == 1
    assert ChannelRequestLog.objects.filter(operation="pay").count() == 1


def test_20_concurrent_captures_reach_the_channel_once(api, sandbox_channel, pay):
    payment = pay(
        "50.00", channel="sandbox", capture=False, metadata={"sandbox": {"outcome": "succeed"}}
    ).json()
    deadline = time.monotonic() + 10
    while Transaction.objects.get(serial=payment["id"]).status != "authorized":
        assert time.monotonic() < deadline
        time.sleep(0.05)

    def capture(_):
        response = client_like(api).post(f"/api/v1/payments/{payment['id']}/capture", {"amount": "20.00"})
        return response.status_code

    outcomes = Counter(in_threads(20, capture))
    assert outcomes[200] == 1 and outcomes[409] == 19, outcomes
    assert ChannelRequestLog.objects.filter(operation="capture").count() == 1
    txn = Transaction.objects.get(serial=payment["id"])
    assert (txn.status, txn.captured_minor, txn.paid_minor) == ("succeeded", 20_00, 20_00)
    assert_ledger_clean()


def test_notification_query_and_app_read_racing_post_once_and_never_regress(
    api, sandbox_channel, pay, receiver, live_server, settings
):
    """RELIABILITY 2: for each of many payments, its notification, an active query and an
    app's read arrive within milliseconds: one posting pair per payment, final stays final."""
    rounds = 100
    settings.PAYCENTER_PUBLIC_URL = receiver.url.split("/notify/")[0]  # hold the notifications
    payments = [
        pay("2.00", channel="sandbox", metadata={"sandbox": {"outcome": "succeed"}}).json()["id"]
        for _ in range(rounds)
    ]
    notes = {n.json["out_trade_no"]: n for n in receiver.wait_for(rounds, timeout=30)}
    url = f"{live_server.url}/notify/sandbox/{sandbox_channel.pk}"

    def race(i):
        serial = payments[i // 3]
        step = i % 3
        if step == 0:
            note = notes[serial]
            headers = {
                k: v for k, v in note.headers.items() if k.lower().startswith(("x-sandbox", "content-type"))
            }
            return requests.post(url, data=note.body, headers=headers, timeout=30).status_code
        if step == 1:
            return payment_query(txn_id=Transaction.objects.get(serial=serial).pk, now=timezone.now()).status
        return client_like(api).get(f"/api/v1/payments/{serial}").status_code

    results = in_threads(rounds * 3, race)
    assert all(result in (200, "succeeded", "pending") for result in results), Counter(map(str, results))
    for serial in payments:
        txn = Transaction.objects.get(serial=serial)
        assert txn.status == "succeeded"
        assert JournalEntry.objects.filter(transaction=txn).count() == 1
        assert Posting.objects.filter(entry__transaction=txn).count() == 2
    assert_ledger_clean()
