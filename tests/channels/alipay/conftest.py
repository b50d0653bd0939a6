"""The fake Alipay platform on a free port, and merchants set up with it (ordinary and
service-provider mode), over real HTTP both ways."""

from dataclasses import dataclass

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.utils import timezone

from channels.alipay_server import serve_in_thread


def _pems(key: rsa.RSAPrivateKey) -> tuple[str, str]:
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


@dataclass
class RegisteredApp:
    app_id: str
    pid: str
    private_pem: str
    alipay_public_key: str
    gateway_url: str


@pytest.fixture
def fake_alipay():
    """Retries 1200 times faster than Alipay's: 0.2 s, 0.5 s, 0.5 s, 3 s, …"""
    handle = serve_in_thread(port=0, speed=1200)
    yield handle
    handle.stop()


@pytest.fixture
def register_app(fake_alipay):
    def register(name: str = "Acme") -> RegisteredApp:
        private, public = _pems(rsa.generate_private_key(public_exponent=65537, key_size=2048))
        reply = requests.post(
            f"{fake_alipay.url}/dev/apps", json={"name": name, "public_key": public}, timeout=5
        )
        assert reply.status_code == 201, reply.text
        data = reply.json()
        return RegisteredApp(
            data["app_id"], data["pid"], private, data["alipay_public_key"], data["gateway_url"]
        )

    return register


def _live(settings, live_server) -> None:
    settings.PAYCENTER_PUBLIC_URL = live_server.url
    settings.ALLOW_PRIVATE_NOTIFY_URLS = True


@pytest.fixture
def alipay_app(register_app):
    return register_app()


@pytest.fixture
def alipay_channel(alipay_app, merchant, live_server, settings):
    """The merchant's own Alipay app (ordinary mode), notified at the live server."""
    from channels.services import merchant_channel_activate

    _live(settings, live_server)
    return merchant_channel_activate(
        merchant_id=merchant.pk,
        channel="alipay",
        actor="test",
        now=timezone.now(),
        params={
            "mode": "ordinary",
            "app_id": alipay_app.app_id,
            "alipay_public_key": alipay_app.alipay_public_key,
            "gateway_url": alipay_app.gateway_url,
        },
        secrets={"app_private_key": alipay_app.private_pem},
    )


@pytest.fixture
def isv_channel(fake_alipay, register_app, merchant, live_server, settings):
    """Service-provider mode: the platform's one app, the merchant's authorisation token."""
    from channels.services import merchant_channel_activate

    _live(settings, live_server)
    provider = register_app("Paycenter ISV")
    reply = requests.post(
        f"{fake_alipay.url}/dev/apps/{provider.app_id}/authorizations", json={"name": "Acme"}, timeout=5
    )
    assert reply.status_code == 201, reply.text
    grant = reply.json()
    mc = merchant_channel_activate(
        merchant_id=merchant.pk,
        channel="alipay",
        actor="test",
        now=timezone.now(),
        params={
            "mode": "service_provider",
            "app_id": provider.app_id,
            "alipay_public_key": provider.alipay_public_key,
            "gateway_url": provider.gateway_url,
        },
        secrets={"app_private_key": provider.private_pem, "app_auth_token": grant["app_auth_token"]},
    )
    return mc, provider, grant


def pay_on_cashier(url: str, choice: str = "pay") -> requests.Response:
    """What the payer does: open the payment link (gateway → cashier), press the button."""
    page = requests.get(url, timeout=5)
    assert page.status_code == 200, page.text
    return requests.post(page.url, data={"choice": choice}, timeout=5, allow_redirects=False)


@pytest.fixture
def pay(api):
    """pay(amount, method, **fields) → the API's answer to POST /payments through Alipay;
    `behaviour` goes into metadata.alipay (echoed to the fake in passback_params)."""
    counter = {"n": 0}

    def send(amount: str, method: str = "page", *, behaviour: dict | None = None, **fields):
        counter["n"] += 1
        body = {
            "out_trade_no": fields.pop("out_trade_no", f"order-{counter['n']}"),
            "amount": amount,
            "subject": "Tea",
            "channel": "alipay",
            "method": method,
            **fields,
        }
        if behaviour:
            body["metadata"] = {"alipay": behaviour}
        return api.post("/api/v1/payments", body)

    return send
