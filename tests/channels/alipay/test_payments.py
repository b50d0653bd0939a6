"""Payments through the fake Alipay platform over real HTTP both ways: the adapter calls the
fake's gateway, the fake notifies the live server in Alipay's form-encoded protocol."""

import base64
import time
from collections import Counter
from urllib.parse import parse_qsl, urlencode

import pytest
import requests
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from django.utils import timezone

from accounts.services import app_update
from channels.models import ChannelNotification, ChannelRequestLog
from ledger.models import JournalEntry, Transaction
from ledger.services.sweeps import query_due
from tests.channels.alipay.conftest import pay_on_cashier
from tests.ledger.conftest import assert_ledger_clean
from tests.waiting import replay_notification, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def status_of(serial: str) -> str:
    return Transaction.objects.get(serial=serial).status


def test_page_payment_paid_on_the_cashier_then_a_partial_refund(
    api, onboarded, alipay_channel, pay, receiver
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
    created = pay("25.00", "page")
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["status"] == "pending" and body["action"]["type"] == "redirect"
    url = body["action"]["url"]
    assert url.startswith(alipay_channel.params["gateway_url"] + "?")
    query = dict(parse_qsl(url.split("?", 1)[1]))
    assert query["method"] == "alipay.trade.page.pay" and query["sign_type"] == "RSA2"
    assert query["notify_url"].endswith(f"/notify/alipay/{alipay_channel.pk}")

    done = pay_on_cashier(url)
    assert done.status_code == 200 and "TRADE_SUCCESS" in done.text
    wait_for(lambda: status_of(body["id"]) == "succeeded")
    row = wait_for(
        lambda: ChannelNotification.objects.filter(reference=body["id"], outcome="applied").first()
    )
    assert row.verified and row.event == "payment.succeeded" and "trade_status=TRADE_SUCCESS" in row.body
    paid = api.get(f"/api/v1/payments/{body['id']}").json()
    assert paid["channel_trade_no"] and paid["paid_at"]
    [hook] = [w for w in receiver.wait_for(1) if w.json["type"] == "payment.succeeded"]
    assert hook.json["data"]["id"] == body["id"] and hook.json["data"]["amount"] == "25.00"

    refund = api.post(f"/api/v1/payments/{body['id']}/refunds", {"amount": "10.00", "out_refund_no": "rf-1"})
    assert refund.status_code == 201, refund.content
    assert refund.json()["status"] == "succeeded"
    after = api.get(f"/api/v1/payments/{body['id']}").json()
    assert (after["status"], after["refunded_amount"]) == ("partially_refunded", "10.00")
    # Alipay notifies the refund too (out_biz_no, refund_fee): a duplicate by then.
    note = wait_for(
        lambda: (
            ChannelNotification.objects.filter(event="refund.succeeded").exclude(outcome="received").first()
        )
    )
    assert note.outcome == "duplicate" and note.reference == body["id"]
    assert_ledger_clean()


def test_qr_payment_through_precreate(api, alipay_channel, pay):
    body = pay("8.88", "native").json()
    assert body["action"]["type"] == "qr_code"
    page = requests.get(body["action"]["code_url"], timeout=5)
    assert "8.88" in page.text
    pay_on_cashier(body["action"]["code_url"])
    wait_for(lambda: status_of(body["id"]) == "succeeded")
    log = ChannelRequestLog.objects.get(reference=body["id"], operation="pay")
    assert log.request["method"] == "alipay.trade.precreate" and log.response["code"] == "10000"
    assert_ledger_clean()


def test_wap_and_app_payments_are_signed_for_the_payer(api, alipay_channel, pay):
    wap = pay("3.00", "wap").json()
    assert "method=alipay.trade.wap.pay" in wap["action"]["url"]
    app = pay("4.00", "app").json()
    order_string = app["action"]["params"]["order_string"]
    assert "method=alipay.trade.app.pay" in order_string
    # The SDK takes the order string to Alipay; the fake accepts it at its gateway.
    pay_on_cashier(f"{alipay_channel.params['gateway_url']}?{order_string}")
    wait_for(lambda: status_of(app["id"]) == "succeeded")
    assert status_of(wap["id"]) == "pending"


def test_a_lost_notification_is_made_good_by_the_query(api, alipay_channel, pay):
    body = pay("7.00", "native", behaviour={"outcome": "never_notify"}).json()
    time.sleep(0.3)
    assert status_of(body["id"]) == "pending"
    Transaction.objects.filter(serial=body["id"]).update(next_query_at=timezone.now())
    query_due(now=timezone.now())
    txn = Transaction.objects.get(serial=body["id"])
    assert txn.status == "succeeded" and txn.channel_trade_no
    assert not ChannelNotification.objects.exists()
    assert_ledger_clean()


def test_a_page_payment_not_opened_yet_stays_pending_on_query(api, alipay_channel, pay):
    """Alipay creates a page trade when the payer opens it: TRADE_NOT_EXIST is not a failure."""
    body = pay("2.00", "page").json()
    Transaction.objects.filter(serial=body["id"]).update(next_query_at=timezone.now())
    query_due(now=timezone.now())
    assert status_of(body["id"]) == "pending"
    closed = api.post(f"/api/v1/payments/{body['id']}/close", {})
    assert closed.status_code == 200 and closed.json()["status"] == "closed"


def test_a_create_timeout_is_unknown_until_the_query_says(api, alipay_channel, pay, fake_alipay, settings):
    settings.ALIPAY_CHANNEL_TIMEOUT = 0.5
    body = pay("9.00", "native", out_trade_no="o-slow", behaviour={"outcome": "timeout", "timeout_ms": 1500})
    body = body.json()
    assert (body["status"], body["channel_state"]) == ("pending", "unknown")
    assert pay("9.00", "native", out_trade_no="o-slow").status_code == 409  # never paid twice
    time.sleep(1.2)
    # The fake took the order before its answer came too late; the payer pays it meanwhile.
    [trade] = [t for t in fake_alipay.platform.trades.values() if t.out_trade_no == body["id"]]
    trade.behaviour = {"outcome": "never_notify"}
    fake_alipay.platform.pay(trade.trade_no)
    Transaction.objects.filter(serial=body["id"]).update(next_query_at=timezone.now())
    query_due(now=timezone.now())
    assert status_of(body["id"]) == "succeeded"
    assert ChannelRequestLog.objects.filter(reference=body["id"], operation="pay").count() == 1
    assert_ledger_clean()


def _captured(receiver, settings):
    settings.PAYCENTER_PUBLIC_URL = receiver.url.split("/notify/")[0]  # the fake notifies the receiver


def test_forged_notifications_change_nothing(api, alipay_channel, pay, receiver, live_server, settings):
    _captured(receiver, settings)
    body = pay("3.00", "native", behaviour={"outcome": "succeed"}).json()
    [genuine] = receiver.wait_for(1)
    fields = dict(parse_qsl(genuine.body.decode()))
    assert fields["trade_status"] == "TRADE_SUCCESS" and fields["out_trade_no"] == body["id"]
    url = f"{live_server.url}/notify/alipay/{alipay_channel.pk}"
    form = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}

    # Signed with a key that is not Alipay's.
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    content = "&".join(f"{k}={fields[k]}" for k in sorted(fields) if k not in ("sign", "sign_type"))
    wrong = {
        **fields,
        "sign": base64.b64encode(other.sign(content.encode(), padding.PKCS1v15(), hashes.SHA256())).decode(),
    }
    # The genuine one with one byte changed: the amount.
    changed = genuine.body.replace(b"total_amount=3.00", b"total_amount=3.01")
    assert changed != genuine.body
    for payload in (urlencode(wrong).encode(), changed, genuine.body.replace(b"sign=", b"sign=A"), b"x=1"):
        reply = requests.post(url, data=payload, headers=form, timeout=5)
        assert (reply.status_code, reply.text) == (400, "fail")
    assert status_of(body["id"]) == "pending"
    assert set(ChannelNotification.objects.values_list("outcome", flat=True)) == {"failed_verification"}
    assert not JournalEntry.objects.exists()


def test_200_identical_notifications_post_once(api, alipay_channel, pay, receiver, live_server, settings):
    _captured(receiver, settings)
    body = pay("15.00", "native", behaviour={"outcome": "succeed"}).json()
    [genuine] = receiver.wait_for(1)
    assert status_of(body["id"]) == "pending"
    url = f"{live_server.url}/notify/alipay/{alipay_channel.pk}"
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


def test_a_notification_with_another_amount_is_flagged(api, alipay_channel, pay):
    body = pay("20.00", "native", behaviour={"outcome": "succeed", "paid_amount": "2.00"}).json()
    row = wait_for(
        lambda: ChannelNotification.objects.filter(reference=body["id"]).exclude(outcome="received").first()
    )
    assert row.outcome == "amount_mismatch"
    assert status_of(body["id"]) == "pending" and not JournalEntry.objects.exists()


def test_notifications_are_retried_until_answered_success(api, alipay_channel, pay, receiver, settings):
    _captured(receiver, settings)
    receiver.replies = [(500, "oops"), (200, "fail")]
    pay("1.00", "native", behaviour={"outcome": "succeed"})
    got = receiver.wait_for(3, timeout=5)
    assert got[0].body == got[1].body == got[2].body  # the same notify_id each try
    assert got[1].at - got[0].at >= 0.15  # 4 minutes / 1200
