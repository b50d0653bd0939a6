"""Known answers for Alipay's RSA2 signing, computed here with `cryptography` alone (not
with the adapter's helpers), and the exact-text rule for verifying answers."""

import base64
import json

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from channels.base import VerificationFailed
from channels.models import MerchantChannel
from channels.plugins.alipay import AlipayChannel
from channels.plugins.alipay.signing import (
    NOTIFY_EXCLUDED,
    response_node,
    rsa2_sign,
    rsa2_verify,
    sign_content,
)

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PRIVATE = KEY.private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
).decode()
PUBLIC = (
    KEY.public_key()
    .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    .decode()
)

PARAMS = {
    "app_id": "2014072300007148",
    "method": "alipay.trade.precreate",
    "format": "JSON",
    "charset": "utf-8",
    "sign_type": "RSA2",
    "timestamp": "2014-07-24 03:07:50",
    "version": "1.0",
    "notify_url": "https://pay.example/notify/alipay/7",
    "app_auth_token": "",  # empty: left out
    "biz_content": '{"out_trade_no":"PAY1","total_amount":"12.30","subject":"茶"}',
    "sign": "ignored",
}
EXPECTED = (
    'app_id=2014072300007148&biz_content={"out_trade_no":"PAY1","total_amount":"12.30","subject":"茶"}'
    "&charset=utf-8&format=JSON&method=alipay.trade.precreate&notify_url=https://pay.example/notify/alipay/7"
    "&sign_type=RSA2&timestamp=2014-07-24 03:07:50&version=1.0"
)


def independent_signature(text: str) -> str:
    return base64.b64encode(KEY.sign(text.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())).decode()


def test_the_signing_string_and_signature_of_a_fixed_request():
    assert sign_content(PARAMS) == EXPECTED
    assert rsa2_sign(PRIVATE, sign_content(PARAMS)) == independent_signature(EXPECTED)


def test_a_notification_leaves_sign_type_out():
    fields = {"notify_id": "n1", "trade_status": "TRADE_SUCCESS", "sign_type": "RSA2", "sign": "x", "a": ""}
    assert sign_content(fields, exclude=NOTIFY_EXCLUDED) == "notify_id=n1&trade_status=TRADE_SUCCESS"


def test_the_plugin_signs_what_it_sends():
    mc = MerchantChannel(
        params={
            "mode": "ordinary",
            "app_id": "2021000000000001",
            "gateway_url": "https://gw.example/gateway.do",
        },
        secrets=json.dumps({"app_private_key": PRIVATE}),
    )
    params = AlipayChannel()._signed_params(mc, "alipay.trade.query", {"out_trade_no": "PAY1"})
    content = "&".join(f"{k}={params[k]}" for k in sorted(params) if k != "sign")
    KEY.public_key().verify(
        base64.b64decode(params["sign"]), content.encode(), padding.PKCS1v15(), hashes.SHA256()
    )
    assert params["biz_content"] == '{"out_trade_no":"PAY1"}' and params["sign_type"] == "RSA2"


def test_an_answer_is_verified_over_the_exact_text_of_its_node():
    node = '{"code":"10000","msg":"Success","out_trade_no":"PAY1","qr_code":"https://qr.example/x"}'
    text = f'{{"alipay_trade_precreate_response": {node},"sign":"{independent_signature(node)}"}}'
    parsed, exact = response_node(text, "alipay_trade_precreate_response")
    assert exact == node and parsed["qr_code"] == "https://qr.example/x"
    rsa2_verify(PUBLIC, exact, json.loads(text)["sign"])
    with pytest.raises(VerificationFailed):
        rsa2_verify(PUBLIC, exact.replace("PAY1", "PAY2"), json.loads(text)["sign"])
    # Spacing differs from a re-serialization: that is why the exact text is kept.
    assert json.dumps(parsed, separators=(",", ":"), ensure_ascii=False) == node
    assert json.dumps(parsed) != node
