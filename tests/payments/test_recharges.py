"""Recharges through a channel (A4): the payment lifecycle, the wallet credited exactly once
when the channel confirms, a webhook `recharge.succeeded`; the balance channel cannot
recharge. Real HTTP both ways with the sandbox platform."""

import time

import pytest
from django.utils import timezone

from accounts.services import app_update
from ledger.models import JournalEntry, Posting, Transaction
from ledger.services.sweeps import query_due
from tests.ledger.conftest import assert_ledger_clean
from tests.waiting import replay_notification, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def recharge(api):
    def send(account, amount: str, *, key: str | None = None, **fields):
        body = {"account_id": account.pk, "amount": amount, **fields}
        return api.post("/api/v1/recharges", body, idempotency_key=key)

    return send


def sandbox(**fields):
    return {"channel": "sandbox", "metadata": {"sandbox": fields}}


def total(account) -> int:
    account.refresh_from_db()
    return account.total_minor


def test_a_recharge_is_credited_when_the_channel_confirms(
    api, onboarded, sandbox_channel, wallet_of, recharge, receiver
):
    _, app, _ = onboarded
    app_update(
        app_pk=app.pk,
        name=app.name,
        notify_url=receiver.url,
        ip_allowlist="",
        enabled=True,
        actor="t",
        now=timezone.now(),
    )
    alice = wallet_of("alice")
    ask = {"out_trade_no": "top-1", **sandbox(outcome="succeed", delay_ms=1000)}
    created = recharge(alice, "50.00", key="top-1", **ask)
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["id"].startswith("RCH") and body["kind"] == "recharge"
    assert (body["status"], body["account_id"], body["channel"]) == ("pending", alice.pk, "sandbox")
    assert body["action"]["type"] == "redirect" and body["channel_trade_no"]
    assert total(alice) == 0  # nothing until the channel confirms

    wait_for(lambda: Transaction.objects.get(serial=body["id"]).status == "succeeded")
    assert total(alice) == 50_00
    seen = api.get(f"/api/v1/recharges/{body['id']}").json()
    assert seen["status"] == "succeeded" and seen["paid_at"] and seen["action"]["type"] == "redirect"
    [line] = Posting.objects.filter(account=alice)
    assert (line.direction, line.entry.reason, line.balance_after_minor) == ("credit", "recharge", 50_00)
    [hook] = [w for w in receiver.wait_for(1) if w.json["type"] == "recharge.succeeded"]
    assert hook.json["data"]["id"] == body["id"] and hook.json["data"]["amount"] == "50.00"
    # The same request again is a replay; the same number with another key a duplicate.
    assert recharge(alice, "50.00", key="top-1", **ask).json() == created.json()
    again = recharge(alice, "50.00", key="top-2", **ask)
    assert again.status_code == 409 and again.json()["error"]["code"] == "duplicate_out_trade_no"
    assert_ledger_clean()


def test_30_duplicate_notifications_credit_once(
    api, sandbox_channel, wallet_of, recharge, receiver, live_server, settings
):
    settings.PAYCENTER_PUBLIC_URL = receiver.url.split("/notify/")[0]  # capture the notification
    alice = wallet_of("alice")
    body = recharge(alice, "12.34", **sandbox(outcome="succeed")).json()
    [genuine] = receiver.wait_for(1)
    url = f"{live_server.url}/notify/sandbox/{sandbox_channel.pk}"
    replies = replay_notification(url=url, genuine=genuine, times=30, workers=10)
    assert replies == {(200, "success"): 30}
    txn = Transaction.objects.get(serial=body["id"])
    assert txn.status == "succeeded" and total(alice) == 12_34
    assert JournalEntry.objects.filter(transaction=txn).count() == 1
    assert_ledger_clean()


def test_a_lost_notification_is_made_good_by_the_query(sandbox_channel, wallet_of, recharge):
    alice = wallet_of("alice")
    body = recharge(alice, "7.00", **sandbox(outcome="never_notify")).json()
    time.sleep(0.3)
    assert Transaction.objects.get(serial=body["id"]).status == "pending" and total(alice) == 0
    Transaction.objects.filter(serial=body["id"]).update(next_query_at=timezone.now())
    query_due(now=timezone.now())
    assert Transaction.objects.get(serial=body["id"]).status == "succeeded" and total(alice) == 7_00
    assert_ledger_clean()


def test_a_timeout_stays_unknown_until_the_query_says(sandbox_channel, wallet_of, recharge, settings):
    settings.SANDBOX_CHANNEL_TIMEOUT = 0.5
    alice = wallet_of("alice")
    body = recharge(alice, "9.00", **sandbox(outcome="timeout", timeout_ms=1500)).json()
    assert (body["status"], body["channel_state"]) == ("pending", "unknown")
    time.sleep(1.2)
    Transaction.objects.filter(serial=body["id"]).update(next_query_at=timezone.now())
    query_due(now=timezone.now())
    assert Transaction.objects.get(serial=body["id"]).status == "succeeded" and total(alice) == 9_00
    assert_ledger_clean()


def test_a_failed_recharge_credits_nothing(sandbox_channel, wallet_of, recharge):
    alice = wallet_of("alice")
    body = recharge(alice, "5.00", **sandbox(outcome="fail")).json()
    wait_for(lambda: Transaction.objects.get(serial=body["id"]).status == "failed")
    assert total(alice) == 0 and not JournalEntry.objects.exists()


def test_routing_picks_a_channel_that_can_recharge(merchant, sandbox_channel, wallet_of, recharge):
    """No channel named: routing skips the balance channel, which cannot bring money in."""
    from channels.services import merchant_channel_activate

    merchant_channel_activate(merchant_id=merchant.pk, channel="balance", actor="t", now=timezone.now())
    body = recharge(wallet_of("alice"), "1.00").json()
    assert body["channel"] == "sandbox" and body["status"] == "pending"


def test_the_balance_channel_cannot_recharge(merchant, wallet_of, recharge):
    from channels.services import merchant_channel_activate

    merchant_channel_activate(merchant_id=merchant.pk, channel="balance", actor="t", now=timezone.now())
    response = recharge(wallet_of("alice"), "1.00", channel="balance")
    assert response.status_code == 422 and response.json()["error"]["code"] == "channel_unavailable"
