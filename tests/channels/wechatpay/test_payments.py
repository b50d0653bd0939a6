"""Payments through the fake WeChat Pay over real HTTP both ways: the plugin calls the
fake, the fake calls back Paycenter's live server (the issue's Must-show items)."""

import base64
import json
import time
from collections import Counter

import pytest
import requests
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from django.utils import timezone

from accounts.services import app_update
from channels.models import ChannelNotification, ChannelRequestLog
from ledger.models import JournalEntry, Transaction
from ledger.services.sweeps import query_due
from tests.channels.wechatpay.conftest import behaviour, callback_headers, hosted_page, replay
from tests.ledger.conftest import assert_ledger_clean
from tests.waiting import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def status_of(serial):
    return Transaction.objects.get(serial=serial).status


def listen(app, url):
    app_update(
        app_pk=app.pk,
        name=app.name,
        notify_url=url,
        ip_allowlist="",
        enabled=True,
        actor="t",
        now=timezone.now(),
    )


def test_native_paid_on_the_hosted_page_then_partly_refunded(
    api, onboarded, wechatpay, wechatpay_channel, pay, receiver
):
    _, app, _ = onboarded
    listen(app, receiver.url)
    created = pay("25.00")
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["status"] == "pending" and body["action"]["type"] == "qr_code"
    assert body["action"]["code_url"].startswith("weixin://wxpay/bizpayurl?pr=")
    page = requests.get(hosted_page(wechatpay, body["action"]), timeout=5)
    assert page.status_code == 200 and "25.00" in page.text
    assert requests.post(hosted_page(wechatpay, body["action"]), timeout=5).status_code == 200

    wait_for(lambda: status_of(body["id"]) == "succeeded")
    paid = api.get(f"/api/v1/payments/{body['id']}").json()
    assert paid["status"] == "succeeded" and paid["channel_trade_no"].startswith("42")
    row = wait_for(
        lambda: ChannelNotification.objects.filter(reference=body["id"], outcome="applied").first()
    )
    assert (row.verified, row.event, row.outcome) == (True, "payment.succeeded", "applied")
    assert row.notify_id.startswith("EV-") and "Wechatpay-Timestamp" in row.headers

    refund = api.post(f"/api/v1/payments/{body['id']}/refunds", {"amount": "10.00", "out_refund_no": "rf-1"})
    assert refund.status_code == 201, refund.content
    assert refund.json()["status"] == "succeeded"
    after = api.get(f"/api/v1/payments/{body['id']}").json()
    assert (after["status"], after["refunded_amount"]) == ("partially_refunded", "10.00")
    # WeChat also calls back the refund: a duplicate by then, and harmless.
    wait_for(
        lambda: (
            ChannelNotification.objects.filter(event="refund.succeeded").exclude(outcome="received").exists()
        )
    )
    assert ChannelNotification.objects.get(event="refund.succeeded").outcome == "duplicate"
    hooks = {(w.json["type"], w.json["data"]["id"]) for w in receiver.wait_for(2)}
    assert ("payment.succeeded", body["id"]) in hooks and ("refund.succeeded", refund.json()["id"]) in hooks
    assert_ledger_clean()


def test_jsapi_h5_and_app_actions(api, wechatpay_channel, pay):
    jsapi = pay("1.00", method="jsapi", **behaviour(openid="oUpF8uMuAJO_M2pxb1Q9zNjWeS6o")).json()
    params = jsapi["action"]["params"]
    assert jsapi["action"]["type"] == "sdk_params" and params["package"].startswith("prepay_id=wx")
    assert params["signType"] == "RSA" and params["appId"] == "wxd678efh567hg6787" and params["paySign"]
    h5 = pay("1.00", method="wap").json()
    assert h5["action"]["type"] == "redirect" and "/pay/wx" in h5["action"]["url"]
    app_pay = pay("1.00", method="app").json()
    assert app_pay["action"]["params"]["package"] == "Sign=WXPay" and app_pay["action"]["params"]["sign"]


def test_a_lost_callback_is_made_good_by_the_query(api, wechatpay_channel, pay):
    body = pay("7.00", **behaviour(outcome="never_notify")).json()
    time.sleep(0.3)
    assert status_of(body["id"]) == "pending"
    Transaction.objects.filter(serial=body["id"]).update(next_query_at=timezone.now())
    query_due(now=timezone.now())
    assert status_of(body["id"]) == "succeeded"
    assert not ChannelNotification.objects.exists()
    assert_ledger_clean()


def test_a_create_timeout_is_unknown_until_the_query_resolves_it(api, wechatpay_channel, pay, settings):
    settings.WECHATPAY_TIMEOUT = 0.5
    body = pay("9.00", out_trade_no="o-slow2", **behaviour(outcome="timeout", timeout_ms=1500)).json()
    assert (body["status"], body["channel_state"]) == ("pending", "unknown")
    assert pay("9.00", out_trade_no="o-slow2").status_code == 409
    time.sleep(1.2)
    Transaction.objects.filter(serial=body["id"]).update(next_query_at=timezone.now())
    query_due(now=timezone.now())
    assert status_of(body["id"]) == "succeeded"
    assert ChannelRequestLog.objects.filter(reference=body["id"], operation="pay").count() == 1
    assert_ledger_clean()


def test_close_an_unpaid_payment(api, wechatpay_channel, pay):
    body = pay("4.00").json()
    closed = api.post(f"/api/v1/payments/{body['id']}/close", {})
    assert closed.status_code == 200 and closed.json()["status"] == "closed"


def forged_callbacks(genuine_headers: dict, genuine_body: bytes, key_id: str):
    """Each with one thing wrong: another key, one changed byte, an old timestamp replayed."""
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    stamp = str(int(time.time()))

    def by(key, body: bytes, timestamp: str) -> dict:
        message = f"{timestamp}\nNONCE\n".encode() + body + b"\n"
        signature = base64.b64encode(key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()
        return {
            "Content-Type": "application/json",
            "Wechatpay-Timestamp": timestamp,
            "Wechatpay-Nonce": "NONCE",
            "Wechatpay-Serial": key_id,
            "Wechatpay-Signature": signature,
        }

    changed = bytearray(genuine_body)
    changed[len(changed) // 2] ^= 1
    yield by(other, genuine_body, stamp), genuine_body
    yield callback_headers(genuine_headers), bytes(changed)
    old = dict(callback_headers(genuine_headers))
    yield {**old, "Wechatpay-Timestamp": str(int(old["Wechatpay-Timestamp"]) - 301)}, genuine_body
    yield {"Content-Type": "application/json"}, genuine_body


def test_forged_callbacks_change_nothing(api, wechatpay_channel, pay, receiver, live_server, settings):
    settings.PAYCENTER_PUBLIC_URL = receiver.url.split("/notify/")[0]  # capture the genuine callback
    body = pay("3.00", **behaviour(outcome="succeed")).json()
    [genuine] = receiver.wait_for(1)
    url = f"{live_server.url}/notify/wechatpay/{wechatpay_channel.pk}"
    key_id = wechatpay_channel.params["wechatpay_public_key_id"]
    for headers, forged in forged_callbacks(genuine.headers, genuine.body, key_id):
        reply = requests.post(url, data=forged, headers=headers, timeout=5)
        assert reply.status_code == 400 and reply.json()["code"] == "FAIL"
    assert status_of(body["id"]) == "pending"
    assert set(ChannelNotification.objects.values_list("outcome", flat=True)) == {"failed_verification"}
    assert ChannelNotification.objects.count() == 4
    # The genuine one still goes through.
    reply = requests.post(url, data=genuine.body, headers=callback_headers(genuine.headers), timeout=5)
    assert (reply.status_code, reply.json()) == (200, {"code": "SUCCESS"})
    assert status_of(body["id"]) == "succeeded"
    assert_ledger_clean()


def test_200_identical_callbacks_post_once(api, wechatpay_channel, pay, receiver, live_server, settings):
    settings.PAYCENTER_PUBLIC_URL = receiver.url.split("/notify/")[0]
    body = pay("15.00", **behaviour(outcome="succeed")).json()
    [genuine] = receiver.wait_for(1)
    assert status_of(body["id"]) == "pending"
    url = f"{live_server.url}/notify/wechatpay/{wechatpay_channel.pk}"
    replies = replay(
        url=url, headers=callback_headers(genuine.headers), body=genuine.body, times=200, workers=20
    )
    assert replies == {(200, json.dumps({"code": "SUCCESS"}, separators=(",", ":"))): 200}
    txn = Transaction.objects.get(serial=body["id"])
    assert txn.status == "succeeded"
    assert JournalEntry.objects.filter(transaction=txn).count() == 1
    outcomes = Counter(
        ChannelNotification.objects.filter(reference=body["id"]).values_list("outcome", flat=True)
    )
    assert outcomes == {"applied": 1, "duplicate": 199}
    assert_ledger_clean()


def test_a_callback_with_another_amount_is_an_exception(api, wechatpay_channel, pay):
    body = pay("20.00", **behaviour(outcome="succeed", paid_amount=200)).json()
    row = wait_for(
        lambda: ChannelNotification.objects.filter(reference=body["id"]).exclude(outcome="received").first()
    )
    assert row.outcome == "amount_mismatch"
    assert status_of(body["id"]) == "pending"


def test_the_fake_retries_until_acknowledged(api, wechatpay_channel, pay, receiver, settings):
    """WeChat's habit: not acknowledged → sent again (15 s, 15 s, … compressed)."""
    settings.PAYCENTER_PUBLIC_URL = receiver.url.split("/notify/")[0]
    receiver.replies = [(500, '{"code":"FAIL"}'), (500, '{"code":"FAIL"}')]
    pay("2.00", **behaviour(outcome="succeed"))
    got = receiver.wait_for(3)
    assert len({g.json["id"] for g in got}) == 1  # the same event each time
    assert got[1].at - got[0].at >= 0.01  # 15 s / 1000


def test_a_payment_without_a_channel_is_routed_to_wechatpay(api, wechatpay_channel):
    """Routing: the only channel able to take it; no method asked → the channel's default (h5)."""
    body = api.post("/api/v1/payments", {"out_trade_no": "r-1", "amount": "1.00", "subject": "Tea"}).json()
    assert (body["channel"], body["method"], body["action"]["type"]) == ("wechatpay", "wap", "redirect")
