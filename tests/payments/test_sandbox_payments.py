"""Payments through the sandbox platform over real HTTP both ways: Paycenter calls the
sandbox server, the sandbox notifies Paycenter's live server (RELIABILITY 1, 9, 10, 13,
16, 21)."""

import hashlib
import hmac
import json
import time
from collections import Counter
from datetime import timedelta

import pytest
import requests
from django.utils import timezone

from accounts.services import app_update
from channels.models import ChannelNotification, ChannelRequestLog
from ledger.models import JournalEntry, Transaction
from ledger.services.sweeps import query_due
from tests.ledger.conftest import assert_ledger_clean
from tests.waiting import replay_notification, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def behaviour(**fields):
    return {"metadata": {"sandbox": fields}}


def status_of(serial):
    return Transaction.objects.get(serial=serial).status


def test_full_run_create_notify_refund(api, onboarded, sandbox_channel, pay, receiver):
    """create → sandbox → signed notification → succeeded → app webhook received and
    verified → partial refund → refunded amounts right → ledger_verify clean."""
    _, app, secret = onboarded
    app_update(
        app_pk=app.pk,
        name=app.name,
        notify_url=receiver.url,
        ip_allowlist="",
        enabled=True,
        actor="t",
        now=timezone.now(),
    )
    created = pay("25.00", channel="sandbox", method="page", **behaviour(outcome="succeed", delay_ms=50))
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["status"] == "pending" and body["action"]["type"] == "redirect"
    assert body["action"]["url"].startswith(sandbox_channel.params["base_url"] + "/checkout/")
    assert body["channel_trade_no"]

    wait_for(lambda: status_of(body["id"]) == "succeeded")
    paid = api.get(f"/api/v1/payments/{body['id']}").json()
    assert paid["status"] == "succeeded" and paid["paid_at"]
    notification = wait_for(
        lambda: ChannelNotification.objects.filter(reference=body["id"], outcome="applied").first()
    )
    assert notification.verified and notification.event == "payment.succeeded"

    refund = api.post(f"/api/v1/payments/{body['id']}/refunds", {"amount": "10.00", "out_refund_no": "rf-1"})
    assert refund.status_code == 201, refund.content
    assert refund.json()["status"] == "succeeded"
    after = api.get(f"/api/v1/payments/{body['id']}").json()
    assert (after["status"], after["refunded_amount"]) == ("partially_refunded", "10.00")
    # The sandbox also notifies the refund: a duplicate by then, and harmless.
    wait_for(
        lambda: (
            ChannelNotification.objects.filter(event="refund.succeeded").exclude(outcome="received").exists()
        )
    )
    assert ChannelNotification.objects.get(event="refund.succeeded").outcome == "duplicate"

    webhooks = {(w.json["type"], w.json["data"]["id"]): w for w in receiver.wait_for(2)}
    paid_hook = webhooks[("payment.succeeded", body["id"])]
    stamp = paid_hook.headers["X-Paycenter-Timestamp"]
    expected = hmac.new(secret.encode(), stamp.encode() + b"." + paid_hook.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(paid_hook.headers["X-Paycenter-Signature"], expected)
    assert paid_hook.headers["X-Paycenter-Event-Id"] == paid_hook.json["id"]
    assert paid_hook.json["data"]["status"] == "succeeded" and paid_hook.json["data"]["amount"] == "25.00"
    assert ("refund.succeeded", refund.json()["id"]) in webhooks
    assert_ledger_clean()


def test_the_hosted_checkout_page_pays(api, sandbox_channel, pay):
    body = pay("8.88", channel="sandbox", method="wap").json()
    page = requests.get(body["action"]["url"], timeout=5)
    assert page.status_code == 200 and "8.88" in page.text
    trade_no = body["channel_trade_no"]
    requests.post(
        f"{sandbox_channel.params['base_url']}/checkout/{trade_no}/pay", timeout=5, allow_redirects=False
    )
    wait_for(lambda: status_of(body["id"]) == "succeeded")
    assert_ledger_clean()


def test_a_failed_payment_cannot_be_retried_within_15_seconds(api, sandbox_channel, pay):
    body = pay("5.00", channel="sandbox", out_trade_no="o-fail", **behaviour(outcome="fail")).json()
    wait_for(lambda: status_of(body["id"]) == "failed")
    again = pay("5.00", channel="sandbox", out_trade_no="o-fail")
    assert again.status_code == 429 and again.json()["error"]["code"] == "retry_too_soon"
    assert 1 <= int(again["Retry-After"]) <= 15
    Transaction.objects.filter(serial=body["id"]).update(finished_at=timezone.now() - timedelta(seconds=16))
    assert pay("5.00", channel="sandbox", out_trade_no="o-fail").status_code == 201


def test_a_lost_notification_is_made_good_by_the_periodic_query(api, sandbox_channel, pay):
    """RELIABILITY 9: the sandbox never notifies; the query brings the true final state."""
    body = pay("7.00", channel="sandbox", **behaviour(outcome="never_notify")).json()
    time.sleep(0.3)
    assert status_of(body["id"]) == "pending"
    Transaction.objects.filter(serial=body["id"]).update(next_query_at=timezone.now())
    query_due(now=timezone.now())
    assert status_of(body["id"]) == "succeeded"
    assert_ledger_clean()


def test_a_timeout_leaves_the_payment_unknown_until_a_query_resolves_it(api, sandbox_channel, pay, settings):
    """RELIABILITY 10: the channel executed but did not answer in time: no second attempt,
    no double charge; the query settles it."""
    settings.SANDBOX_CHANNEL_TIMEOUT = 0.5
    body = pay(
        "9.00", channel="sandbox", out_trade_no="o-slow", **behaviour(outcome="timeout", timeout_ms=1500)
    )
    body = body.json()
    assert (body["status"], body["channel_state"]) == ("pending", "unknown")
    again = pay("9.00", channel="sandbox", out_trade_no="o-slow")
    assert again.status_code == 409
    close = api.post(f"/api/v1/payments/{body['id']}/close", {})
    assert close.status_code == 409
    time.sleep(1.2)
    Transaction.objects.filter(serial=body["id"]).update(next_query_at=timezone.now())
    query_due(now=timezone.now())
    assert status_of(body["id"]) == "succeeded"
    assert ChannelRequestLog.objects.filter(reference=body["id"], operation="pay").count() == 1
    assert_ledger_clean()


def test_a_notification_with_another_amount_is_an_exception_not_a_payment(api, sandbox_channel, pay):
    """RELIABILITY 16: valid signature, wrong amount → not paid, recorded, 0 postings."""
    body = pay("20.00", channel="sandbox", **behaviour(outcome="succeed", paid_amount="2.00")).json()
    row = wait_for(
        lambda: ChannelNotification.objects.filter(reference=body["id"]).exclude(outcome="received").first()
    )
    assert row.outcome == "amount_mismatch"
    txn = Transaction.objects.get(serial=body["id"])
    assert txn.status == "pending" and txn.review_reason.startswith("amount_mismatch")
    assert not JournalEntry.objects.filter(transaction=txn).exists()


def test_forged_notifications_change_nothing(api, sandbox_channel, pay, live_server):
    """RELIABILITY 21: signed with a key that is not the platform's → refused, no change."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    body = pay("3.00", channel="sandbox").json()
    forged = json.dumps(
        {
            "notify_id": "N1",
            "event": "payment.succeeded",
            "trade_no": body["channel_trade_no"],
            "out_trade_no": body["id"],
            "status": "succeeded",
            "amount": "3.00",
            "currency": "CNY",
        }
    ).encode()
    stamp = str(int(time.time()))
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    import base64

    signature = base64.b64encode(
        key.sign(stamp.encode() + b"\n" + forged, padding.PKCS1v15(), hashes.SHA256())
    ).decode()
    url = f"{live_server.url}/notify/sandbox/{sandbox_channel.pk}"
    for headers in (
        {"X-Sandbox-Timestamp": stamp, "X-Sandbox-Signature": signature},
        {"X-Sandbox-Timestamp": stamp},
        {},
    ):
        reply = requests.post(
            url, data=forged, headers={"Content-Type": "application/json", **headers}, timeout=5
        )
        assert reply.status_code == 400 and reply.text == "fail"
    assert status_of(body["id"]) == "pending"
    assert set(ChannelNotification.objects.values_list("outcome", flat=True)) == {"failed_verification"}


def test_200_identical_notifications_post_once(api, sandbox_channel, pay, receiver, live_server, settings):
    """RELIABILITY 1: one genuine notification, replayed 200 times at once → 1 journal
    entry, 1 state change, every reply a success, no 5xx."""
    settings.PAYCENTER_PUBLIC_URL = receiver.url.split("/notify/")[0]  # capture the sandbox's notification
    body = pay("15.00", channel="sandbox", **behaviour(outcome="succeed")).json()
    [genuine] = receiver.wait_for(1)
    assert status_of(body["id"]) == "pending"
    url = f"{live_server.url}/notify/sandbox/{sandbox_channel.pk}"
    replies = replay_notification(url=url, genuine=genuine, times=200, workers=20)
    assert replies == {(200, "success"): 200}
    txn = Transaction.objects.get(serial=body["id"])
    assert txn.status == "succeeded"
    assert JournalEntry.objects.filter(transaction=txn).count() == 1
    outcomes = Counter(
        ChannelNotification.objects.filter(reference=body["id"]).values_list("outcome", flat=True)
    )
    assert outcomes == {"applied": 1, "duplicate": 199}
    assert_ledger_clean()


def test_close_then_a_late_success_is_flagged_not_posted(
    api, sandbox_channel, pay, receiver, live_server, settings
):
    """RELIABILITY 13: a success that arrives after close does not reopen the payment."""
    settings.PAYCENTER_PUBLIC_URL = receiver.url.split("/notify/")[0]
    body = pay("6.00", channel="sandbox", **behaviour(outcome="succeed", delay_ms=300)).json()
    [genuine] = receiver.wait_for(1)
    Transaction.objects.filter(serial=body["id"]).update(status="closed", finished_at=timezone.now())
    headers = {
        k: v for k, v in genuine.headers.items() if k.lower().startswith(("x-sandbox", "content-type"))
    }
    reply = requests.post(
        f"{live_server.url}/notify/sandbox/{sandbox_channel.pk}",
        data=genuine.body,
        headers=headers,
        timeout=5,
    )
    assert reply.status_code == 200
    txn = Transaction.objects.get(serial=body["id"])
    assert txn.status == "closed" and txn.review_reason.startswith("late_success")
    assert ChannelNotification.objects.get(reference=body["id"]).outcome == "late_success"
    assert not JournalEntry.objects.filter(transaction=txn).exists()


def test_close_a_pending_payment(api, sandbox_channel, pay):
    body = pay("4.00", channel="sandbox").json()
    closed = api.post(f"/api/v1/payments/{body['id']}/close", {})
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    again = api.post(f"/api/v1/payments/{body['id']}/close", {})
    assert again.status_code == 409


def test_expired_payments_are_closed_after_asking_the_channel(api, sandbox_channel, pay):
    from ledger.services.sweeps import expire_due

    unpaid = pay("4.00", channel="sandbox").json()
    paid = pay("4.00", channel="sandbox", **behaviour(outcome="never_notify")).json()
    time.sleep(0.3)
    later = timezone.now() + timedelta(hours=1)
    assert expire_due(now=later) == 1
    assert (status_of(unpaid["id"]), status_of(paid["id"])) == ("closed", "succeeded")
    assert_ledger_clean()


def test_a_refund_timeout_is_resolved_by_query_without_a_second_refund(api, sandbox_channel, pay, settings):
    """RELIABILITY 10 for refunds: the channel refunded but did not answer in time."""
    body = pay("30.00", channel="sandbox", **behaviour(outcome="succeed")).json()
    wait_for(lambda: status_of(body["id"]) == "succeeded")
    settings.SANDBOX_CHANNEL_TIMEOUT = 0.5
    refund = api.post(
        f"/api/v1/payments/{body['id']}/refunds",
        {"amount": "12.00", "metadata": {"sandbox": {"outcome": "timeout", "timeout_ms": 1500}}},
    ).json()
    assert refund["status"] == "pending"
    assert api.get(f"/api/v1/payments/{body['id']}").json()["refunded_amount"] == "12.00"  # reserved
    time.sleep(1.2)
    settings.SANDBOX_CHANNEL_TIMEOUT = 10
    Transaction.objects.filter(serial=refund["id"]).update(next_query_at=timezone.now())
    query_due(now=timezone.now())
    assert api.get(f"/api/v1/refunds/{refund['id']}").json()["status"] == "succeeded"
    assert api.get(f"/api/v1/payments/{body['id']}").json()["status"] == "partially_refunded"
    assert ChannelRequestLog.objects.filter(reference=refund["id"], operation="refund").count() == 1
    assert_ledger_clean()


def test_a_refund_before_the_payment_succeeded_is_refused(api, sandbox_channel, pay):
    """RELIABILITY 13 (out of order): nothing to refund yet; the payment later succeeds normally."""
    body = pay("5.00", channel="sandbox", **behaviour(outcome="succeed", delay_ms=500)).json()
    early = api.post(f"/api/v1/payments/{body['id']}/refunds", {"amount": "1.00"})
    assert early.status_code == 409 and early.json()["error"]["code"] == "invalid_state"
    wait_for(lambda: status_of(body["id"]) == "succeeded")
    assert (
        api.post(f"/api/v1/payments/{body['id']}/refunds", {"amount": "1.00"}).json()["status"] == "succeeded"
    )
    assert_ledger_clean()
