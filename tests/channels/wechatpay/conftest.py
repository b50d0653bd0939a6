"""The fake WeChat Pay platform on a free port, merchants registered with it, and merchant
channels of Paycenter set up against it (ordinary and service-provider)."""

import json
import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.utils import timezone

from channels.wechatpay_server import serve_in_thread

SPEED = 1000  # WeChat's retry schedule (15 s … 6 h) a thousand times sooner


@pytest.fixture
def wechatpay():
    handle = serve_in_thread(port=0, speed=SPEED)
    yield handle
    handle.stop()


def register(fake, *, mchid: str, sub_mchids: tuple[str, ...] = ()) -> dict:
    """A merchant (or service provider) known to the fake; returns every parameter the
    plugin declares, as an operator would type them in."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public_pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    serial_no = secrets.token_hex(20).upper()
    apiv3_key = secrets.token_hex(16)
    answer = requests.post(
        f"{fake.url}/fake/merchants",
        json={
            "mchid": mchid,
            "merchant_serial_no": serial_no,
            "merchant_public_key": public_pem,
            "apiv3_key": apiv3_key,
            "sub_mchids": list(sub_mchids),
        },
        timeout=5,
    )
    assert answer.status_code == 200, answer.text
    return {
        "merchant_serial_no": serial_no,
        "merchant_private_key": private_pem,
        "apiv3_key": apiv3_key,
        "base_url": fake.url,
        **answer.json(),
    }


def activate(merchant, values: dict, **params):
    from channels.services import merchant_channel_activate

    secret_names = {"merchant_private_key", "apiv3_key"}
    return merchant_channel_activate(
        merchant_id=merchant.pk,
        channel="wechatpay",
        actor="test",
        now=timezone.now(),
        params={**{k: v for k, v in values.items() if k not in secret_names}, **params},
        secrets={k: values[k] for k in secret_names},
    )


@pytest.fixture
def live_notify(live_server, settings):
    settings.PAYCENTER_PUBLIC_URL = live_server.url
    settings.ALLOW_PRIVATE_NOTIFY_URLS = True
    return live_server


@pytest.fixture
def wechatpay_channel(wechatpay, merchant, live_notify):
    """The merchant as an ordinary WeChat Pay merchant; callbacks reach the live server."""
    values = register(wechatpay, mchid="1900000101")
    return activate(merchant, values, mode="ordinary", mchid="1900000101", appid="wxd678efh567hg6787")


@pytest.fixture
def wechatpay_sp_channel(wechatpay, merchant, live_notify):
    """The merchant as sub-merchant 1900000109 of service provider 1900000100."""
    values = register(wechatpay, mchid="1900000100", sub_mchids=("1900000109", "1900000110"))
    return activate(
        merchant,
        values,
        mode="service_provider",
        sp_mchid="1900000100",
        sp_appid="wx8888888888888888",
        sub_mchid="1900000109",
    )


@pytest.fixture
def pay(api):
    """pay(amount, **fields) → the API's answer to POST /payments through WeChat Pay."""
    counter = {"n": 0}

    def send(amount: str, *, key: str | None = None, **fields):
        counter["n"] += 1
        body = {
            "out_trade_no": fields.pop("out_trade_no", f"order-{counter['n']}"),
            "amount": amount,
            "subject": "Tea",
            "channel": "wechatpay",
            "method": fields.pop("method", "native"),
            **fields,
        }
        return api.post("/api/v1/payments", body, idempotency_key=key)

    return send


def behaviour(**fields) -> dict:
    """metadata.wechatpay: the fake reads it from `attach`."""
    return {"metadata": {"wechatpay": fields}}


def hosted_page(fake, action: dict) -> str:
    """The fake's page for a payment: from a native code_url's `pr`, or the h5 URL."""
    if action["type"] == "qr_code":
        prepay_id = parse_qs(urlsplit(action["code_url"]).query)["pr"][0]
        return f"{fake.url}/pay/{prepay_id}"
    return action["url"]


def callback_headers(headers: dict) -> dict:
    return {k: v for k, v in headers.items() if k.lower().startswith(("wechatpay-", "content-type"))}


def replay(*, url: str, headers: dict, body: bytes, times: int, workers: int):
    from collections import Counter

    def send(_: int) -> tuple[int, str]:
        reply = requests.post(url, data=body, headers=headers, timeout=30)
        return reply.status_code, reply.text

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return Counter(pool.map(send, range(times)))


def decrypt_resource(apiv3_key: str, body: bytes) -> dict:
    """Independent of the plugin: what a callback carries, decrypted."""
    import base64

    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    resource = json.loads(body)["resource"]
    plain = AESGCM(apiv3_key.encode()).decrypt(
        resource["nonce"].encode(),
        base64.b64decode(resource["ciphertext"]),
        resource["associated_data"].encode(),
    )
    return json.loads(plain)


def now_stamp() -> str:
    return str(int(time.time()))
