"""The daily 业务明细 bill downloaded by the adapter and parsed; a recharge through Alipay;
a sub-merchant's payment in service-provider mode, created, notified, refunded and billed."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from channels.plugins.alipay import AlipayChannel
from channels.plugins.alipay.bill import parse_trade_bill
from ledger.models import JournalEntry, Posting, Transaction
from tests.channels.alipay.conftest import pay_on_cashier
from tests.ledger.conftest import assert_ledger_clean
from tests.waiting import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def today_in_china():
    return datetime.now(ZoneInfo("Asia/Shanghai")).date()


def paid(pay, amount: str, **fields) -> dict:
    body = pay(amount, "native", behaviour={"outcome": "succeed"}, **fields).json()
    wait_for(lambda: Transaction.objects.get(serial=body["id"]).status == "succeeded")
    return body


def test_the_statement_parses_into_the_days_transactions(api, alipay_channel, pay):
    first, second = paid(pay, "12.30"), paid(pay, "4.56")
    refund = api.post(f"/api/v1/payments/{first['id']}/refunds", {"amount": "2.30", "out_refund_no": "r1"})
    assert refund.status_code == 201, refund.content
    pay("1.00", "native")  # never paid: not in the bill

    data = AlipayChannel().download_statement(mc=alipay_channel, day=today_in_china())
    text = data.decode("gbk")  # GBK, as Alipay writes it
    assert text.startswith("#支付宝业务明细查询") and "#交易合计：2笔" in text  # noqa: RUF001
    rows = parse_trade_bill(data)
    payments = {
        t.serial: t
        for t in Transaction.objects.filter(kind="payment", status__in=["succeeded", "partially_refunded"])
    }
    trades = {r.out_trade_no: r for r in rows if r.kind == "交易"}
    assert set(trades) == set(payments) == {first["id"], second["id"]}
    for serial, row in trades.items():
        assert (row.trade_no, row.amount_minor) == (
            payments[serial].channel_trade_no,
            payments[serial].amount_minor,
        )
    [refund_row] = [r for r in rows if r.kind == "退款"]
    refund_txn = Transaction.objects.get(serial=refund.json()["id"])
    assert (refund_row.out_trade_no, refund_row.refund_request_no, refund_row.amount_minor) == (
        first["id"],
        refund_txn.serial,
        refund_txn.amount_minor,
    )


def test_a_recharge_through_alipay_credits_once(api, alipay_channel, wallet_of, live_server):
    alice = wallet_of("alice")
    ask = {
        "account_id": alice.pk,
        "amount": "50.00",
        "channel": "alipay",
        "method": "native",
        "metadata": {"alipay": {"outcome": "succeed", "notify_times": 3}},  # Alipay sends it thrice
    }
    created = api.post("/api/v1/recharges", ask, idempotency_key="top-1")
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["kind"] == "recharge" and body["action"]["type"] == "qr_code"
    wait_for(lambda: Transaction.objects.get(serial=body["id"]).status == "succeeded")
    from channels.models import ChannelNotification

    wait_for(lambda: ChannelNotification.objects.exclude(outcome="received").count() == 3)
    alice.refresh_from_db()
    assert alice.total_minor == 50_00
    [line] = Posting.objects.filter(account=alice)
    assert (line.direction, line.entry.reason) == ("credit", "recharge")
    assert JournalEntry.objects.filter(transaction__serial=body["id"]).count() == 1
    assert_ledger_clean()


def test_a_sub_merchant_payment_in_service_provider_mode(api, isv_channel, pay, fake_alipay):
    mc, provider, grant = isv_channel
    body = pay("30.00", "page").json()
    assert "app_auth_token" in body["action"]["url"]
    from channels.models import ChannelRequestLog

    log = ChannelRequestLog.objects.get(reference=body["id"], operation="pay")
    assert grant["app_auth_token"] not in str(log.request) + str(log.response)
    pay_on_cashier(body["action"]["url"])
    wait_for(lambda: Transaction.objects.get(serial=body["id"]).status == "succeeded")
    [trade] = [t for t in fake_alipay.platform.trades.values() if t.out_trade_no == body["id"]]
    assert (
        trade.seller.pid == grant["user_id"] and trade.app_id == provider.app_id
    )  # the sub-merchant's money

    refund = api.post(f"/api/v1/payments/{body['id']}/refunds", {"amount": "5.00", "out_refund_no": "r1"})
    assert refund.status_code == 201 and refund.json()["status"] == "succeeded"

    rows = parse_trade_bill(AlipayChannel().download_statement(mc=mc, day=today_in_china()))
    assert {(r.kind, r.out_trade_no, r.amount_minor) for r in rows} == {
        ("交易", body["id"], 30_00),
        ("退款", body["id"], 5_00),
    }
    # The provider's own bill (no token) holds none of it.
    provider_mc = type(mc)(params={**mc.params, "mode": "ordinary"}, secrets=mc.secrets)
    assert parse_trade_bill(AlipayChannel().download_statement(mc=provider_mc, day=today_in_china())) == []
    assert_ledger_clean()


def test_activation_refuses_missing_parameters(merchant, alipay_app):
    from channels.services import merchant_channel_activate
    from paycenter.errors import InvalidRequest

    with pytest.raises(InvalidRequest):
        merchant_channel_activate(
            merchant_id=merchant.pk,
            channel="alipay",
            actor="t",
            now=timezone.now(),
            params={"mode": "service_provider", "app_id": alipay_app.app_id, "gateway_url": "https://x"},
            secrets={"app_private_key": alipay_app.private_pem},
        )
