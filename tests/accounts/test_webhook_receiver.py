"""The demo's webhook receiver (`manage.py webhook_receiver`, started by `make run`): it
verifies what Paycenter's webhook delivery signs, prints each event, and refuses the rest."""

import hashlib
import hmac
import json
import time
from io import StringIO

import pytest
import requests
from django.utils import timezone

from accounts.demo import seed as seed_accounts
from accounts.models import MerchantApp, WebhookDelivery
from accounts.services import app_update, customer_get_or_create
from accounts.webhook_receiver import WebhookReceiver, webhook_verify
from accounts.webhooks import WebhookNotAcknowledged, webhook_deliver
from ledger.services.withdrawals import withdrawal_approve, withdrawal_pay_out, withdrawal_request
from paycenter.models import OutboxMessage
from tests.funding import fund

pytestmark = pytest.mark.django_db


@pytest.fixture
def printed():
    return StringIO()


@pytest.fixture
def start_receiver(printed):
    started = []

    def start(secret: str | None) -> WebhookReceiver:
        receiver = WebhookReceiver(secret=lambda: secret, out=printed).start()
        started.append(receiver)
        return receiver

    yield start
    for receiver in started:
        receiver.stop()


def point_at(app: MerchantApp, url: str) -> MerchantApp:
    return app_update(
        app_pk=app.pk,
        name=app.name,
        notify_url=url,
        ip_allowlist="",
        enabled=True,
        actor="t",
        now=timezone.now(),
    )


def test_a_webhook_delivered_to_the_receiver_is_verified_and_printed(
    onboarded, settings, start_receiver, printed, django_capture_on_commit_callbacks
):
    # Given the app's notify URL is the receiver, which knows the app's secret
    settings.ALLOW_PRIVATE_NOTIFY_URLS = True
    merchant, app, secret = onboarded
    receiver = start_receiver(secret)
    app = point_at(app, receiver.url)
    customer, _ = customer_get_or_create(merchant_id=merchant.pk, external_id="alice", now=timezone.now())
    wallet = customer.accounts.get(currency="CNY")
    fund(account_id=wallet.pk, amount_minor=100_00)
    txn = withdrawal_request(
        merchant_id=merchant.pk,
        account_id=wallet.pk,
        amount_minor=40_00,
        currency="CNY",
        destination={"bank": "ICBC"},
        app_id=app.pk,
        now=timezone.now(),
    )
    withdrawal_approve(transaction_id=txn.pk, actor="fin", now=timezone.now())

    # When Paycenter delivers the withdrawal.paid_out webhook (the outbox runs on commit)
    with django_capture_on_commit_callbacks(execute=True):
        withdrawal_pay_out(transaction_id=txn.pk, actor="fin", now=timezone.now())

    # Then the receiver verified it, recorded it, printed it and acknowledged it
    message = OutboxMessage.objects.get(subscriber="webhook")
    [event] = receiver.received
    assert (event.event_id, event.type, event.verified, event.duplicate) == (
        message.payload["id"],
        "withdrawal.paid_out",
        True,
        False,
    )
    assert event.data["id"] == txn.serial
    line = printed.getvalue().strip()
    assert line.startswith(f"webhook withdrawal.paid_out {message.payload['id']} {txn.serial} paid_out")
    assert line.endswith("(signature ok)") and "40.00 CNY" in line
    assert WebhookDelivery.objects.get().outcome == "delivered"
    assert message.status == "delivered"


def test_a_webhook_signed_with_another_secret_is_refused_and_retried(
    onboarded, settings, start_receiver, printed
):
    settings.ALLOW_PRIVATE_NOTIFY_URLS = True
    _, app, _ = onboarded
    receiver = start_receiver("not-the-apps-secret")
    point_at(app, receiver.url)
    payload = {"id": "evt_1", "app_pk": app.pk, "type": "payment.succeeded", "created_at": "x", "data": {}}
    with pytest.raises(WebhookNotAcknowledged):
        webhook_deliver(payload=payload, attempt=1, now=timezone.now())
    [event] = receiver.received
    assert not event.verified and event.reason == "bad X-Paycenter-Signature"
    assert "REFUSED: bad X-Paycenter-Signature" in printed.getvalue()
    delivery = WebhookDelivery.objects.get()
    assert (delivery.outcome, delivery.response_status) == ("failed", 401)


def signed_post(url: str, secret: str, body: bytes, *, timestamp: int | None = None) -> requests.Response:
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    signature = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    headers = {
        "X-Paycenter-Event-Id": json.loads(body)["id"],
        "X-Paycenter-Timestamp": stamp,
        "X-Paycenter-Signature": signature,
    }
    return requests.post(url, data=body, headers=headers, timeout=5)


def test_a_repeated_event_is_acknowledged_and_marked_as_seen(start_receiver, printed):
    receiver = start_receiver("s3cret")
    body = json.dumps({"id": "evt_2", "type": "payment.succeeded", "data": {"id": "PAY1"}}).encode()
    assert signed_post(receiver.url, "s3cret", body).status_code == 200
    assert signed_post(receiver.url, "s3cret", body).status_code == 200
    assert [e.duplicate for e in receiver.received] == [False, True]
    assert "seen before" in printed.getvalue().splitlines()[1]


def test_an_old_timestamp_is_refused(start_receiver):
    receiver = start_receiver("s3cret")
    body = json.dumps({"id": "evt_3", "type": "payment.succeeded", "data": {}}).encode()
    response = signed_post(receiver.url, "s3cret", body, timestamp=int(time.time()) - 301)
    assert response.status_code == 401
    assert receiver.received[0].reason == "X-Paycenter-Timestamp more than 300 s away"


def test_without_the_apps_secret_nothing_is_acknowledged(start_receiver):
    receiver = start_receiver(None)  # the demo app is not seeded yet
    body = json.dumps({"id": "evt_4", "type": "payment.succeeded", "data": {}}).encode()
    assert signed_post(receiver.url, "anything", body).status_code == 401


@pytest.mark.parametrize(
    ("timestamp", "signature", "reason"),
    [
        ("", "x", "missing or malformed X-Paycenter-Timestamp"),
        ("12a", "x", "missing or malformed X-Paycenter-Timestamp"),
        ("NOW", "", "bad X-Paycenter-Signature"),
        ("NOW", "GOOD"[:1], "bad X-Paycenter-Signature"),
    ],
)
def test_webhook_verify_reasons(timestamp, signature, reason):
    now = int(time.time())
    timestamp = str(now) if timestamp == "NOW" else timestamp
    assert webhook_verify(secret="s", timestamp=timestamp, body=b"{}", signature=signature, now=now) == reason


def test_seed_demo_points_the_demo_app_at_the_receiver_and_prints_the_configured_urls(settings):
    settings.ALLOW_PRIVATE_NOTIFY_URLS = True
    settings.DEMO_NOTIFY_URL = "http://127.0.0.1:8131/webhooks"
    settings.PAYCENTER_PUBLIC_URL = "http://127.0.0.1:8030"
    context: dict = {}
    seed_accounts(context)
    seed_accounts(context)  # idempotent
    app = MerchantApp.objects.get(app_id=context["app_id"])
    assert app.notify_url == "http://127.0.0.1:8131/webhooks"
    notes = "\n".join(context["notes"])
    assert "http://127.0.0.1:8030/admin/" in notes and "http://127.0.0.1:8030/api/docs/" in notes
    assert "webhooks: http://127.0.0.1:8131/webhooks" in notes
    assert ":8000" not in notes
