"""The trade bill downloaded by the plugin and parsed; a recharge through WeChat Pay; a
sub-merchant payment in service-provider mode created, called back, refunded and billed."""

import json
import time
from datetime import datetime

import pytest
import requests

from channels.base import ChannelError, PaymentOrder
from channels.models import ChannelNotification, MerchantChannel
from channels.plugins.wechatpay import WechatPayChannel
from channels.plugins.wechatpay.bill import BEIJING, parse_trade_bill
from ledger.models import JournalEntry, Posting, Transaction
from tests.channels.wechatpay.conftest import activate, behaviour, decrypt_resource, hosted_page, register
from tests.ledger.conftest import assert_ledger_clean
from tests.waiting import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def today() -> datetime:
    return datetime.now(BEIJING)


def test_the_trade_bill_parses_into_the_transactions(api, wechatpay_channel, pay):
    serials = []
    for amount in ("12.34", "0.01", "100.00"):
        body = pay(amount, **behaviour(outcome="succeed")).json()
        serials.append(body["id"])
    pay("5.00")  # never paid: not in the bill
    for serial in serials:
        wait_for(lambda serial=serial: Transaction.objects.get(serial=serial).status == "succeeded")
    refund = api.post(f"/api/v1/payments/{serials[2]}/refunds", {"amount": "30.00", "out_refund_no": "rf-1"})
    assert refund.status_code == 201, refund.content

    content = WechatPayChannel().download_statement(mc=wechatpay_channel, day=today().date())
    lines = content.decode().splitlines()
    assert lines[0].startswith("交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号")
    assert lines[1].startswith("`") and lines[-2].startswith("总交易单数")
    rows, summary = parse_trade_bill(content)
    paid = {r.reference: r for r in rows if r.kind == "payment"}
    assert set(paid) == set(serials)
    for txn in Transaction.objects.filter(serial__in=serials):
        row = paid[txn.serial]
        assert (row.amount_minor, row.channel_trade_no, row.currency) == (
            txn.amount_minor,
            txn.channel_trade_no,
            "CNY",
        )
        assert row.mchid == "1900000101" and row.sub_mchid == ""
    [refunded] = [r for r in rows if r.kind == "refund"]
    assert (refunded.reference, refunded.refund_reference, refunded.amount_minor) == (
        serials[2],
        refund.json()["id"],
        30_00,
    )
    assert (summary.count, summary.paid_minor, summary.refunded_minor) == (4, 112_35, 30_00)
    assert summary.fee_minor == sum(r.fee_minor for r in rows)


def test_a_recharge_through_wechatpay_credits_once(
    api, wechatpay, wechatpay_channel, wallet_of, receiver, settings
):
    alice = wallet_of("alice")
    body = api.post(
        "/api/v1/recharges",
        {"account_id": alice.pk, "amount": "50.00", "channel": "wechatpay", "method": "native"},
        idempotency_key="top-1",
    ).json()
    assert body["status"] == "pending" and body["action"]["type"] == "qr_code"
    requests.post(hosted_page(wechatpay, body["action"]), timeout=5)
    wait_for(lambda: Transaction.objects.get(serial=body["id"]).status == "succeeded")
    alice.refresh_from_db()
    assert alice.total_minor == 50_00
    [line] = Posting.objects.filter(account=alice)
    assert (line.direction, line.entry.reason) == ("credit", "recharge")
    # The fake's callback of the same payment once more: no second credit.
    time.sleep(0.2)
    txn = Transaction.objects.get(serial=body["id"])
    assert JournalEntry.objects.filter(transaction=txn).count() == 1
    assert_ledger_clean()


def test_five_callbacks_of_one_recharge_credit_once(api, wechatpay_channel, wallet_of):
    alice = wallet_of("alice")
    ask = {"account_id": alice.pk, "amount": "12.34", "channel": "wechatpay", "method": "native"}
    body = api.post("/api/v1/recharges", {**ask, **behaviour(outcome="succeed", notify_times=5)}).json()
    wait_for(
        lambda: (
            ChannelNotification.objects.filter(reference=body["id"]).exclude(outcome="received").count() == 5
        )
    )
    outcomes = sorted(
        ChannelNotification.objects.filter(reference=body["id"]).values_list("outcome", flat=True)
    )
    assert outcomes == ["applied"] + ["duplicate"] * 4
    alice.refresh_from_db()
    assert alice.total_minor == 12_34
    assert JournalEntry.objects.filter(transaction__serial=body["id"]).count() == 1
    assert_ledger_clean()


def test_a_sub_merchant_payment_is_called_back_refunded_and_billed(
    api, wechatpay, wechatpay_sp_channel, pay, receiver, live_server, settings
):
    created = pay("88.00", **behaviour(outcome="succeed"))
    assert created.status_code == 201, created.content
    body = created.json()
    wait_for(lambda: Transaction.objects.get(serial=body["id"]).status == "succeeded")
    notified = wait_for(
        lambda: ChannelNotification.objects.filter(reference=body["id"], outcome="applied").first()
    )
    assert notified.merchant_channel_id == wechatpay_sp_channel.pk
    payment = wechatpay.platform.payments[("1900000100", "1900000109", body["id"])]
    assert (payment.appid, payment.sub_mchid) == ("wx8888888888888888", "1900000109")

    refund = api.post(f"/api/v1/payments/{body['id']}/refunds", {"amount": "8.00", "out_refund_no": "rf-sp"})
    assert refund.status_code == 201 and refund.json()["status"] == "succeeded", refund.content

    mc = wechatpay_sp_channel
    rows, _ = parse_trade_bill(WechatPayChannel().download_statement(mc=mc, day=today().date()))
    assert {(r.kind, r.reference, r.sub_mchid, r.amount_minor) for r in rows} == {
        ("payment", body["id"], "1900000109", 88_00),
        ("refund", body["id"], "1900000109", 8_00),
    }
    # Another sub-merchant of the same provider has nothing of it.
    sibling = mc.__class__(pk=mc.pk, params={**mc.params, "sub_mchid": "1900000110"}, secrets=mc.secrets)
    other_rows, _ = parse_trade_bill(WechatPayChannel().download_statement(mc=sibling, day=today().date()))
    assert other_rows == []
    assert_ledger_clean()


def test_the_sp_callback_carries_the_sub_merchant(api, wechatpay_sp_channel, pay, receiver, settings):
    settings.PAYCENTER_PUBLIC_URL = receiver.url.split("/notify/")[0]
    body = pay("3.00", **behaviour(outcome="succeed")).json()
    [genuine] = receiver.wait_for(1)
    secrets = MerchantChannel.objects.get(pk=wechatpay_sp_channel.pk).secrets
    plain = decrypt_resource(json.loads(secrets)["apiv3_key"], genuine.body)
    assert (plain["sp_mchid"], plain["sub_mchid"], plain["out_trade_no"]) == (
        "1900000100",
        "1900000109",
        body["id"],
    )


def test_a_sub_merchant_the_provider_does_not_have_is_refused(wechatpay, merchant, live_notify):
    values = register(wechatpay, mchid="1900000200", sub_mchids=("1900000201",))
    mc = activate(
        merchant,
        values,
        mode="service_provider",
        sp_mchid="1900000200",
        sp_appid="wx1",
        sub_mchid="1900000999",
    )
    order = PaymentOrder(
        serial="PAYX00001",
        amount_minor=100,
        currency="CNY",
        subject="Tea",
        method="native",
        capture=True,
        notify_url=f"{live_notify.url}/notify/wechatpay/{mc.pk}",
        expire_seconds=900,
    )
    with pytest.raises(ChannelError) as refused:
        WechatPayChannel().pay(mc=mc, order=order)
    assert refused.value.code == "NO_AUTH"
