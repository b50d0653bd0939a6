"""Known-answer tests of the WeChat Pay v3 cryptography, each expected value computed here
with `cryptography` from the published message layouts, not with the plugin's code."""

import base64
import json
import time

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from channels.base import VerificationFailed
from channels.plugins.wechatpay import signing

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PRIVATE_PEM = KEY.private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
).decode()
PUBLIC_PEM = (
    KEY.public_key()
    .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    .decode()
)
APIV3_KEY = "0123456789abcdef0123456789abcdef"
KEY_ID = "PUB_KEY_ID_0114232134912410000000000000"


def test_the_authorization_header_of_a_fixed_request():
    body = b'{"appid":"wxd678efh567hg6787","mchid":"1230000109","amount":{"total":100}}'
    header = signing.authorization(
        mchid="1230000109",
        serial_no="5157F09EFDC096DE15EBE81A47057A7232F1B8E1",
        private_pem=PRIVATE_PEM,
        method="POST",
        path="/v3/pay/transactions/native",
        body=body,
        timestamp="1554208460",
        nonce_str="593BEC0C930BF1AFEB40B4A08C8FB242",
    )
    message = (
        b"POST\n/v3/pay/transactions/native\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n" + body + b"\n"
    )
    expected = base64.b64encode(KEY.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()
    assert header == (
        'WECHATPAY2-SHA256-RSA2048 mchid="1230000109",nonce_str="593BEC0C930BF1AFEB40B4A08C8FB242",'
        f'timestamp="1554208460",serial_no="5157F09EFDC096DE15EBE81A47057A7232F1B8E1",signature="{expected}"'
    )


def test_a_get_signs_the_query_and_an_empty_body():
    header = signing.authorization(
        mchid="1",
        serial_no="S",
        private_pem=PRIVATE_PEM,
        method="GET",
        path="/v3/pay/transactions/out-trade-no/PAY1?mchid=1",
        body=b"",
        timestamp="1",
        nonce_str="N",
    )
    message = b"GET\n/v3/pay/transactions/out-trade-no/PAY1?mchid=1\n1\nN\n\n"
    expected = base64.b64encode(KEY.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()
    assert header.endswith(f'signature="{expected}"')


def test_a_callback_resource_decrypts():
    plain = {"out_trade_no": "PAY1", "trade_state": "SUCCESS", "amount": {"total": 100}}
    nonce = "fdasflkja484"
    ciphertext = AESGCM(APIV3_KEY.encode()).encrypt(
        nonce.encode(), json.dumps(plain).encode(), b"transaction"
    )
    resource = {
        "algorithm": "AEAD_AES_256_GCM",
        "ciphertext": base64.b64encode(ciphertext).decode(),
        "associated_data": "transaction",
        "nonce": nonce,
    }
    assert json.loads(signing.decrypt(apiv3_key=APIV3_KEY, resource=resource)) == plain
    for broken in (
        {**resource, "associated_data": "refund"},
        {**resource, "nonce": "fdasflkja485"},
        {**resource, "ciphertext": base64.b64encode(ciphertext[:-1] + bytes([ciphertext[-1] ^ 1])).decode()},
    ):
        with pytest.raises(VerificationFailed):
            signing.decrypt(apiv3_key=APIV3_KEY, resource=broken)
    with pytest.raises(VerificationFailed):
        signing.decrypt(apiv3_key="f" * 32, resource=resource)


def signed(body: bytes, *, timestamp: int, key=KEY, serial: str = KEY_ID) -> dict:
    message = f"{timestamp}\nNONCE42\n".encode() + body + b"\n"
    return {
        "Wechatpay-Timestamp": str(timestamp),
        "Wechatpay-Nonce": "NONCE42",
        "Wechatpay-Serial": serial,
        "Wechatpay-Signature": base64.b64encode(
            key.sign(message, padding.PKCS1v15(), hashes.SHA256())
        ).decode(),
    }


def test_an_answer_verifies_with_the_platform_key_only():
    body, now = b'{"code_url":"weixin://wxpay/bizpayurl?pr=p4lpSuKzz"}', int(time.time())
    signing.verify(
        public_pem=PUBLIC_PEM, key_id=KEY_ID, headers=signed(body, timestamp=now), body=body, now=now
    )
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cases = [
        (signed(body, timestamp=now, key=other), body),  # another key
        (signed(body, timestamp=now), body.replace(b"4", b"5", 1)),  # one changed byte
        (signed(body, timestamp=now - 301), body),  # an old timestamp replayed
        (signed(body, timestamp=now, serial="PUB_KEY_ID_OTHER"), body),  # another key id
        ({}, body),
    ]
    for headers, sent in cases:
        with pytest.raises(VerificationFailed):
            signing.verify(public_pem=PUBLIC_PEM, key_id=KEY_ID, headers=headers, body=sent, now=now)


def test_the_jsapi_pay_sign():
    fields = [
        "wx8888888888888888",
        "1414561699",
        "5K8264ILTKCH16CQ2502SI8ZNMTM67VS",
        "prepay_id=wx201410272009",
    ]
    expected_message = (
        b"wx8888888888888888\n1414561699\n5K8264ILTKCH16CQ2502SI8ZNMTM67VS\nprepay_id=wx201410272009\n"
    )
    expected = base64.b64encode(KEY.sign(expected_message, padding.PKCS1v15(), hashes.SHA256())).decode()
    assert signing.pay_sign(private_pem=PRIVATE_PEM, fields=fields) == expected
