"""Routing (D6) among the three platforms as they are, each over real HTTP to its own fake:
the sandbox, Alipay and WeChat Pay. A payment that names no channel goes to the
first by priority that supports its method and amount, and fails over past one that is
unreachable."""

import pytest
from django.utils import timezone

from channels.models import ChannelRequestLog, MerchantChannel
from channels.services import merchant_channel_activate, route
from ledger.models import Transaction
from tests.channels.alipay.conftest import alipay_app, alipay_channel, fake_alipay, register_app  # noqa: F401
from tests.channels.test_routing import dead_url
from tests.channels.wechatpay.conftest import live_notify, wechatpay, wechatpay_channel  # noqa: F401
from tests.waiting import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def platforms(sandbox, merchant, settings, alipay_channel, wechatpay_channel):  # noqa: F811
    """alipay (priority 10), wechatpay (20), sandbox (30)."""
    settings.SANDBOX_CHANNEL_URL = sandbox.url
    made = {"alipay": alipay_channel, "wechatpay": wechatpay_channel}
    made["sandbox"] = merchant_channel_activate(
        merchant_id=merchant.pk, channel="sandbox", actor="t", now=timezone.now()
    )
    for name, priority in (("alipay", 10), ("wechatpay", 20), ("sandbox", 30)):
        MerchantChannel.objects.filter(pk=made[name].pk).update(priority=priority)
    return made


def routed(merchant, method: str, amount_minor: int = 5_00) -> list[str]:
    routes = route(
        merchant_id=merchant.pk, channel=None, method=method, amount_minor=amount_minor, now=timezone.now()
    )
    return [r.mc.channel for r in routes]


def test_the_method_amount_and_priority_choose_among_the_platforms(merchant, platforms):
    assert routed(merchant, "native") == ["alipay", "wechatpay", "sandbox"]
    assert routed(merchant, "page") == ["alipay", "sandbox"]  # WeChat Pay has no PC page
    assert routed(merchant, "jsapi") == ["wechatpay", "sandbox"]  # Alipay has no JSAPI
    MerchantChannel.objects.filter(pk=platforms["alipay"].pk).update(max_amount_minor=100_00)
    assert routed(merchant, "native", amount_minor=100_01) == ["wechatpay", "sandbox"]
    MerchantChannel.objects.filter(pk=platforms["sandbox"].pk).update(priority=1)
    assert routed(merchant, "native") == ["sandbox", "alipay", "wechatpay"]


def test_a_payment_fails_over_from_an_unreachable_platform_to_the_next(api, merchant, platforms):
    def pay(n: int) -> dict:
        body = {"out_trade_no": f"route-{n}", "amount": "8.00", "subject": "Tea", "method": "native"}
        return api.post("/api/v1/payments", body).json()

    first = pay(1)
    assert (first["status"], first["channel"], first["action"]["type"]) == ("pending", "alipay", "qr_code"), (
        first
    )

    alipay = platforms["alipay"]
    MerchantChannel.objects.filter(pk=alipay.pk).update(params={**alipay.params, "gateway_url": dead_url()})
    second = pay(2)
    assert (second["status"], second["channel"]) == ("pending", "wechatpay"), second
    assert second["action"]["type"] == "qr_code"
    tried = ChannelRequestLog.objects.filter(operation="pay").order_by("id")
    assert list(tried.values_list("merchant_channel__channel", "outcome"))[-2:] == [
        ("alipay", "unreachable"),
        ("wechatpay", "ok"),
    ]


def test_metadata_sandbox_steers_whichever_fake_takes_a_routed_payment(api, merchant, platforms):
    body = {
        "out_trade_no": "route-steered",
        "amount": "6.00",
        "subject": "Tea",
        "method": "native",
        "metadata": {"sandbox": {"outcome": "succeed", "delay_ms": 50}},
    }
    created = api.post("/api/v1/payments", body).json()
    assert created["channel"] == "alipay", created
    wait_for(lambda: Transaction.objects.get(serial=created["id"]).status == "succeeded", timeout=15)
