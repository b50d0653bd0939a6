"""The fake's own checks of the merchant's signature, the activation's checks of the
operator's parameters, and the demo seeding against a restarted fake."""

import json
from datetime import UTC, datetime

import pytest
import requests

from channels.base import ChannelState, PaymentOrder
from channels.models import MerchantChannel
from channels.plugins.wechatpay import WechatPayChannel
from channels.plugins.wechatpay.signing import authorization
from channels.wechatpay_demo import seed
from channels.wechatpay_server import serve_in_thread
from paycenter.errors import InvalidRequest
from tests.channels.wechatpay.conftest import activate, register

pytestmark = pytest.mark.django_db


def signed_get(fake, values, path, *, mchid="1900000101", timestamp=None, serial=None):
    stamp = str(timestamp or int(datetime.now(UTC).timestamp()))
    header = authorization(
        mchid=mchid,
        serial_no=serial or values["merchant_serial_no"],
        private_pem=values["merchant_private_key"],
        method="GET",
        path=path,
        body=b"",
        timestamp=stamp,
        nonce_str="N1",
    )
    return requests.get(fake.url + path, headers={"Authorization": header}, timeout=5)


def test_the_fake_checks_the_merchants_signature(wechatpay):
    values = register(wechatpay, mchid="1900000101")
    path = "/v3/pay/transactions/out-trade-no/PAY1?mchid=1900000101"
    assert signed_get(wechatpay, values, path).json()["code"] == "ORDER_NOT_EXIST"
    old = int(datetime.now(UTC).timestamp()) - 600
    for reply in (
        signed_get(wechatpay, values, path, timestamp=old),
        signed_get(wechatpay, values, path, serial="0" * 40),
        signed_get(wechatpay, values, path.replace("PAY1", "PAY2")[:-1] + "1", mchid="1900000102"),
        requests.get(wechatpay.url + path, timeout=5),
    ):
        assert reply.status_code == 401 and reply.json()["code"] == "SIGN_ERROR"
    # Every answer, errors included, is signed with the platform key.
    assert (
        signed_get(wechatpay, values, path).headers["Wechatpay-Serial"] == values["wechatpay_public_key_id"]
    )


def test_activation_checks_the_parameters(wechatpay, merchant):
    values = register(wechatpay, mchid="1900000101")
    with pytest.raises(InvalidRequest) as missing:
        activate(merchant, values, mode="ordinary", mchid="1900000101")
    assert missing.value.field == "appid"
    with pytest.raises(InvalidRequest) as bad_key:
        activate(
            merchant, {**values, "wechatpay_public_key": "not a key"}, mode="ordinary", mchid="1", appid="a"
        )
    assert bad_key.value.field == "merchant_private_key"
    with pytest.raises(InvalidRequest) as sp_missing:
        activate(merchant, values, mode="service_provider", sp_mchid="1", sp_appid="a")
    assert sp_missing.value.field == "sub_mchid"
    mc = activate(merchant, values, mode="ordinary", mchid="1900000101", appid="wx1")
    assert mc.status == "active" and "merchant_private_key" not in mc.params
    assert set(json.loads(MerchantChannel.objects.get(pk=mc.pk).secrets)) == {
        "merchant_private_key",
        "apiv3_key",
    }


def test_the_demo_merchant_follows_a_restarted_fake(merchant, settings):
    order = PaymentOrder(
        serial="PAYDEMO0001",
        amount_minor=100,
        currency="CNY",
        subject="Tea",
        method="native",
        capture=True,
        notify_url="http://127.0.0.1:9/notify",
        expire_seconds=900,
    )
    for _ in range(2):  # the second fake knows nothing of the first's merchants
        fake = serve_in_thread(port=0)
        try:
            settings.WECHATPAY_FAKE_URL = fake.url
            context = {"merchant_id": merchant.pk}
            seed(context)
            mc = MerchantChannel.objects.get(merchant=merchant, channel="wechatpay")
            assert mc.params["wechatpay_public_key_id"] == fake.platform.public_key_id
            assert WechatPayChannel().pay(mc=mc, order=order).state == ChannelState.PENDING
        finally:
            fake.stop()
    assert "wechatpay (merchant channel" in context["notes"][-1]
