"""Bad input at the notification endpoint (RELIABILITY 18) and the exception classes that
do not need a live payment flow (D4)."""

import base64
import json
import time

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from django.utils import timezone

from channels.models import ChannelNotification, MerchantChannel
from ledger.models import Transaction

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def platform_key(merchant):
    """A merchant channel whose 'platform' key the test holds, so it can sign as the platform."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    mc = MerchantChannel.objects.create(
        merchant=merchant,
        channel="sandbox",
        status="active",
        created_at=timezone.now(),
        params={"base_url": "http://127.0.0.1:9", "merchant_id": "2088", "platform_public_key": public},
    )
    return mc, key


def signed(key, body: bytes) -> dict:
    stamp = str(int(time.time()))
    signature = key.sign(stamp.encode() + b"\n" + body, padding.PKCS1v15(), hashes.SHA256())
    return {
        "HTTP_X_SANDBOX_TIMESTAMP": stamp,
        "HTTP_X_SANDBOX_SIGNATURE": base64.b64encode(signature).decode(),
    }


def notify(client, mc, body: bytes, content_type="application/json", **headers):
    return client.generic("POST", f"/notify/sandbox/{mc.pk}", body, content_type=content_type, **headers)


@pytest.mark.parametrize(
    "body",
    [
        b"x" * (1024 * 1024),
        b'{"notify_id": "N1", "event": "payment.succeeded", "trade_no"',
        '{"notify_id": "N\u00e9"}'.encode("latin-1"),
        b"notify_id=N1&notify_id=N2&event=payment.succeeded",
        b"[]",
        b"",
    ],
)
def test_malformed_notifications_are_4xx_and_change_nothing(client, platform_key, body):
    mc, key = platform_key
    for headers in ({}, signed(key, body)):
        response = notify(client, mc, body, **headers)
        assert 400 <= response.status_code < 500
    assert set(ChannelNotification.objects.values_list("outcome", flat=True)) <= {
        "failed_verification",
        "malformed",
    }
    assert not Transaction.objects.exists()


def test_a_genuine_notification_for_an_unknown_payment_is_recorded_and_alerted(client, platform_key, caplog):
    mc, key = platform_key
    body = json.dumps(
        {
            "notify_id": "N9",
            "event": "payment.succeeded",
            "trade_no": "SBX1",
            "out_trade_no": "PAY-nope",
            "status": "succeeded",
            "amount": "1.00",
            "currency": "CNY",
        }
    ).encode()
    response = notify(client, mc, body, **signed(key, body))
    assert response.status_code == 200 and response.content == b"success"
    assert ChannelNotification.objects.get().outcome == "unknown_payment"
    assert "ALERT" in caplog.text


def test_an_unknown_merchant_channel_or_channel_is_refused(client, platform_key):
    mc, _ = platform_key
    body = b"{}"
    assert (
        client.post(f"/notify/sandbox/{mc.pk + 999}", body, content_type="application/json").status_code
        == 400
    )
    assert client.post(f"/notify/nochannel/{mc.pk}", body, content_type="application/json").status_code == 404
    assert client.get(f"/notify/sandbox/{mc.pk}").status_code == 405


def test_a_currency_mismatch_is_an_exception(api, merchant, balance_channel, platform_key, client):
    """A payment made through the sandbox channel, notified in another currency."""
    mc, key = platform_key
    txn = Transaction.objects.create(
        serial="PAYTEST1",
        kind="payment",
        merchant=merchant,
        amount_minor=100,
        currency="CNY",
        channel="sandbox",
        merchant_channel=mc,
        channel_trade_no="SBX2",
        created_at=timezone.now(),
        payee_account=merchant.accounts.get(kind="merchant_settlement"),
    )
    body = json.dumps(
        {
            "notify_id": "N3",
            "event": "payment.succeeded",
            "trade_no": "SBX2",
            "out_trade_no": "PAYTEST1",
            "status": "succeeded",
            "amount": "1.00",
            "currency": "USD",
        }
    ).encode()
    assert notify(client, mc, body, **signed(key, body)).status_code == 200
    txn.refresh_from_db()
    assert txn.status == "pending" and txn.review_reason.startswith("currency_mismatch")
    assert ChannelNotification.objects.get().outcome == "currency_mismatch"


def test_another_merchants_payment_is_not_found(api, balance_channel, wallet_of, pay):
    from accounts.services import merchant_onboard
    from tests.conftest import SignedClient

    alice = wallet_of("alice", balance=10_00)
    payment = pay("1.00", channel="balance", payer_account_id=alice.pk).json()
    _, app, secret = merchant_onboard(name="Other", actor="t", now=timezone.now())
    other = SignedClient(app_id=app.app_id, secret=secret)
    for path in (
        f"/api/v1/payments/{payment['id']}",
        f"/api/v1/payments?out_trade_no={payment['out_trade_no']}",
    ):
        assert other.get(path).status_code == 404
    for action in ("close", "capture", "void", "refunds"):
        response = other.post(f"/api/v1/payments/{payment['id']}/{action}", {"amount": "1.00"})
        assert response.status_code == 404, action
