"""Webhooks to apps: signed, delivered to a real HTTP receiver, retried, logged, resendable,
and never sent into our own network."""

import contextlib
import datetime as dt
import hashlib
import hmac
import json
import logging
import socket
import ssl
import threading
import time
import uuid
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from accounts import webhooks
from accounts.models import MerchantApp, WebhookDelivery
from accounts.services import customer_get_or_create
from ledger.services.withdrawals import withdrawal_approve, withdrawal_pay_out, withdrawal_request
from paycenter import outbox
from paycenter.errors import NotFound
from paycenter.models import AuditEntry, OutboxMessage
from tests.funding import fund

pytestmark = pytest.mark.django_db

FAKE_HOST = "hooks.example.test"


# --- A real receiver ------------------------------------------------------------------


class Receiver:
    """An app's webhook endpoint on 127.0.0.1: records every request and answers with the
    next queued status (200 once the queue is empty)."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.statuses: list[int] = []
        self.echo_headers = False  # answer with the request headers, as a debugging endpoint might
        self.answer_body = b"ok"
        self.answer_headers: dict[str, str] = {}
        self.delay = 0.0
        self.server_names: list[str | None] = []  # SNI names seen over TLS
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                time.sleep(receiver.delay)
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                answer = (
                    json.dumps(dict(self.headers)).encode() if receiver.echo_headers else receiver.answer_body
                )
                self.send_response(status)
                for name, value in receiver.answer_headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                with contextlib.suppress(OSError):  # the client stopped reading (capped answers)
                    self.wfile.write(answer)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.scheme = "http"

    def use_tls(self, *, certfile: str, keyfile: str) -> None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(certfile, keyfile)

        def remember_sni(sock: ssl.SSLSocket, server_name: str | None, ctx: ssl.SSLContext) -> None:
            self.server_names.append(server_name)

        context.sni_callback = remember_sni
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.scheme = "https"

    def url(self, host: str = "127.0.0.1", path: str = "/hooks/paycenter?shop=1") -> str:
        return f"{self.scheme}://{host}:{self.port}{path}"

    def start(self) -> None:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    server = Receiver()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def app(onboarded, receiver, settings):
    """The onboarded app, pointed at the receiver (allowed: the receiver is on loopback)."""
    settings.ALLOW_PRIVATE_NOTIFY_URLS = True
    _, app, _ = onboarded
    return point_at(app, receiver.url())


@pytest.fixture
def secret(onboarded):
    return onboarded[2]


@pytest.fixture
def fake_dns(monkeypatch):
    """FAKE_HOST resolves to what the test says, one answer per lookup; lookups are counted."""
    real = socket.getaddrinfo
    answers: list[str] = []
    lookups: list[str] = []

    def getaddrinfo(host, *args, **kwargs):
        if host != FAKE_HOST:
            return real(host, *args, **kwargs)
        lookups.append(host)
        address = answers.pop(0) if len(answers) > 1 else answers[0]
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, 0))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return answers, lookups


def point_at(app: MerchantApp, url: str) -> MerchantApp:
    # A plain UPDATE so a test can store what the onboarding check would refuse today.
    MerchantApp.objects.filter(pk=app.pk).update(notify_url=url)
    app.refresh_from_db()
    return app


def emit_event(app: MerchantApp, *, event_type: str = "payment.succeeded") -> OutboxMessage:
    """What ledger.services.events writes; dispatch follows the commit."""
    with transaction.atomic():
        [message] = outbox.outbox_emit(
            topic=outbox.EVENTS_TOPIC,
            payload={
                "id": f"evt_{uuid.uuid4().hex}",
                "app_pk": app.pk,
                "type": event_type,
                "created_at": timezone.now().isoformat(),
                "data": {"id": "T20260101000001", "amount": "12.30"},
            },
            now=timezone.now(),
        )
    return message


@pytest.fixture
def send(django_capture_on_commit_callbacks):
    """send(app) → the outbox message, after its first dispatch ran (as on commit)."""

    def run(app: MerchantApp, **kwargs: object) -> OutboxMessage:
        with django_capture_on_commit_callbacks(execute=True):
            message = emit_event(app, **kwargs)
        message.refresh_from_db()
        return message

    return run


def expected_signature(secret: str, timestamp: str, body: bytes) -> str:
    # Independent of paycenter.api.signing: what an app's own code would compute.
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


# --- Delivery -------------------------------------------------------------------------


def test_a_paid_out_withdrawal_reaches_the_app_signed(
    onboarded, app, secret, receiver, django_capture_on_commit_callbacks
):
    # Given a funded wallet and a withdrawal the app asked for
    merchant = onboarded[0]
    customer, _ = customer_get_or_create(merchant_id=merchant.pk, external_id="alice", now=timezone.now())
    wallet = customer.accounts.get(currency="CNY")
    fund(account_id=wallet.pk, amount_minor=10_000)
    txn = withdrawal_request(
        merchant_id=merchant.pk,
        account_id=wallet.pk,
        amount_minor=4_000,
        currency="CNY",
        destination={"bank": "ICBC"},
        app_id=app.pk,
        now=timezone.now(),
    )
    withdrawal_approve(transaction_id=txn.pk, actor="fin", now=timezone.now())

    # When finance pays it out (the outbox dispatches on commit)
    before = int(time.time())
    with django_capture_on_commit_callbacks(execute=True):
        withdrawal_pay_out(transaction_id=txn.pk, actor="fin", now=timezone.now())

    # Then the app got one POST, with exactly the documented headers and a valid signature
    message = OutboxMessage.objects.get(subscriber="webhook")
    assert message.status == "delivered" and message.attempts == 1
    [request] = receiver.requests
    headers, body = request["headers"], request["body"]
    assert request["path"] == "/hooks/paycenter?shop=1"
    assert headers["Content-Type"] == "application/json"
    assert headers["Host"] == f"127.0.0.1:{receiver.port}"
    assert headers["X-Paycenter-Event-Id"] == message.payload["id"]
    assert headers["X-Paycenter-Event-Id"].startswith("evt_")
    timestamp = headers["X-Paycenter-Timestamp"]
    assert timestamp.isdigit() and before - 5 <= int(timestamp) <= time.time() + 5
    assert hmac.compare_digest(headers["X-Paycenter-Signature"], expected_signature(secret, timestamp, body))
    event = json.loads(body)
    assert set(event) == {"id", "type", "created_at", "data"}
    assert event["id"] == message.payload["id"] and event["type"] == "withdrawal.paid_out"
    assert event["data"]["id"] == txn.serial and event["created_at"] == message.payload["created_at"]

    # And the attempt is logged
    row = WebhookDelivery.objects.get()
    assert (row.event_id, row.event_type, row.app, row.attempt, row.outcome) == (
        event["id"],
        "withdrawal.paid_out",
        app,
        1,
        "delivered",
    )
    assert row.response_status == 200 and row.response_body == "ok" and row.error == ""
    assert row.url == app.notify_url and row.outbox_message_id == message.pk and row.duration_ms is not None


def test_a_failing_receiver_is_retried_with_backoff_until_it_acknowledges(app, receiver, send):
    # Given a receiver that answers 500 once
    receiver.statuses = [500]

    # When the event is sent
    message = send(app)

    # Then the message waits for its retry, and the failure is logged
    assert message.status == "pending" and message.attempts == 1
    assert message.next_attempt_at > timezone.now()
    assert "500" in message.last_error
    failed = WebhookDelivery.objects.get()
    assert (failed.outcome, failed.response_status, failed.attempt) == ("failed", 500, 1)

    # When dispatched before it is due, nothing happens
    assert outbox.outbox_dispatch(message_id=message.pk, now=timezone.now()) == "skipped"
    assert len(receiver.requests) == 1

    # When it is due, it is delivered under the same event id
    later = message.next_attempt_at + timedelta(seconds=1)
    assert outbox.outbox_dispatch(message_id=message.pk, now=later) == "delivered"
    message.refresh_from_db()
    assert message.status == "delivered" and message.attempts == 2
    assert [r["headers"]["X-Paycenter-Event-Id"] for r in receiver.requests] == [message.payload["id"]] * 2
    assert list(WebhookDelivery.objects.order_by("id").values_list("attempt", "outcome")) == [
        (1, "failed"),
        (2, "delivered"),
    ]


def test_retries_make_at_least_8_tries_over_at_least_24_hours(app, receiver, send):
    handler = outbox.handler_for("events", "webhook")
    assert handler.run is webhooks.webhook_handler
    assert handler.max_attempts >= 8 and sum(handler.backoff_seconds) >= 24 * 3600

    # Given a receiver that never acknowledges, dispatched each time the retry is due
    receiver.statuses = [503] * 100
    message = send(app)
    first_try, last_try = message.created_at, message.created_at
    while message.status == "pending":
        last_try = message.next_attempt_at
        outbox.outbox_dispatch(message_id=message.pk, now=last_try)
        message.refresh_from_db()

    # Then it gave up only after every try, more than a day after the first
    assert message.status == "failed"
    assert message.attempts == handler.max_attempts == len(receiver.requests) >= 8
    assert last_try - first_try >= timedelta(hours=24)
    assert WebhookDelivery.objects.filter(outcome="failed").count() == handler.max_attempts


@pytest.mark.parametrize("status", [301, 302, 400, 404, 500])
def test_anything_but_2xx_is_a_failure_and_redirects_are_not_followed(app, receiver, send, status):
    receiver.statuses = [status]
    receiver.answer_headers = {"Location": "/elsewhere"}
    message = send(app)
    assert message.status == "pending" and len(receiver.requests) == 1
    assert WebhookDelivery.objects.get().outcome == "failed"


@pytest.mark.parametrize("status", [200, 201, 202, 204, 299])
def test_any_2xx_acknowledges(app, receiver, send, status):
    receiver.statuses = [status]
    receiver.answer_body = b"" if status == 204 else b"ok"
    assert send(app).status == "delivered"
    assert WebhookDelivery.objects.get().outcome == "delivered"


def test_a_slow_receiver_times_out_and_is_retried(app, receiver, send, monkeypatch):
    monkeypatch.setattr(webhooks, "TIMEOUT", (5, 0.3))
    receiver.delay = 1.0
    message = send(app)
    assert message.status == "pending"
    row = WebhookDelivery.objects.get()
    assert row.outcome == "failed" and row.response_status is None and "Timeout" in row.error


def test_a_closed_port_is_retried(app, receiver, send):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    point_at(app, f"http://127.0.0.1:{closed_port}/hook")
    message = send(app)
    assert message.status == "pending"
    assert "ConnectionError" in WebhookDelivery.objects.get().error


def test_only_the_first_kilobyte_of_a_large_answer_is_kept(app, receiver, send):
    receiver.answer_body = b"x" * 1_000_000
    assert send(app).status == "delivered"
    assert WebhookDelivery.objects.get().response_body == "x" * 1024


def test_an_app_without_a_notify_url_gets_no_outbox_row(app):
    point_at(app, "")
    with transaction.atomic():
        messages = outbox.outbox_emit(
            topic=outbox.EVENTS_TOPIC,
            payload={"id": "evt_1", "app_pk": app.pk, "type": "payment.succeeded", "data": {}},
            now=timezone.now(),
        )
    assert messages == []
    assert not OutboxMessage.objects.exists()


def test_a_url_removed_or_an_app_disabled_after_the_event_is_skipped_at_delivery(app):
    # Given events queued while the app listened, then its URL removed
    first = emit_event(app)
    point_at(app, "")
    assert outbox.outbox_dispatch(message_id=first.pk, now=timezone.now()) == "delivered"
    # And one queued before the app was disabled
    point_at(app, "http://127.0.0.1:9/hook")
    second = emit_event(app)
    MerchantApp.objects.filter(pk=app.pk).update(enabled=False)
    assert outbox.outbox_dispatch(message_id=second.pk, now=timezone.now()) == "delivered"
    assert list(WebhookDelivery.objects.order_by("id").values_list("outcome", "error")) == [
        ("skipped", "app has no notify URL"),
        ("skipped", "app disabled"),
    ]


# --- SSRF -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "localhost", "127.1", "[::1]", "[::ffff:127.0.0.1]", FAKE_HOST],
)
def test_loopback_notify_urls_are_refused_at_delivery(app, receiver, send, settings, fake_dns, host):
    # Given a notify URL stored while private addresses were allowed, now refused again
    answers, _ = fake_dns
    answers.append("127.0.0.1")  # FAKE_HOST resolves to loopback
    point_at(app, receiver.url(host))
    settings.ALLOW_PRIVATE_NOTIFY_URLS = False

    # When the event is sent
    message = send(app)

    # Then nothing reached the receiver; the attempt failed and will be retried
    assert receiver.requests == []
    assert message.status == "pending" and "NotifyUrlRefused" in message.last_error
    row = WebhookDelivery.objects.get()
    assert row.outcome == "failed" and "NotifyUrlRefused" in row.error and row.response_status is None


def test_a_host_with_any_private_address_is_refused(app, receiver, send, settings, monkeypatch):
    real = socket.getaddrinfo

    def two_answers(host, *args, **kwargs):
        if host != FAKE_HOST:
            return real(host, *args, **kwargs)
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", 0)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.7", 0)),
        ]

    monkeypatch.setattr(socket, "getaddrinfo", two_answers)
    point_at(app, receiver.url(FAKE_HOST))
    settings.ALLOW_PRIVATE_NOTIFY_URLS = False
    assert send(app).status == "pending"
    assert "NotifyUrlRefused" in WebhookDelivery.objects.get().error


def test_the_connection_goes_to_the_checked_address(app, receiver, send, fake_dns):
    """DNS rebinding: the name is resolved once, and the connection uses that answer. Were
    it resolved again, the second answer (a black hole) would be used and time out."""
    answers, lookups = fake_dns
    answers.extend(["127.0.0.1", "192.0.2.1"])
    point_at(app, receiver.url(FAKE_HOST))

    assert send(app).status == "delivered"

    assert lookups == [FAKE_HOST]
    [request] = receiver.requests
    assert request["headers"]["Host"] == f"{FAKE_HOST}:{receiver.port}"


@pytest.fixture
def tls_files(tmp_path):
    """A self-signed certificate for FAKE_HOST (it is its own CA)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, FAKE_HOST)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(FAKE_HOST)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    certfile, keyfile = tmp_path / "cert.pem", tmp_path / "key.pem"
    certfile.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    keyfile.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return str(certfile), str(keyfile)


@pytest.fixture
def tls_receiver(tls_files):
    server = Receiver()
    server.use_tls(certfile=tls_files[0], keyfile=tls_files[1])
    server.start()
    yield server
    server.stop()


def test_https_is_pinned_too_with_sni_and_certificate_checked_for_the_name(
    app, tls_receiver, tls_files, send, fake_dns, monkeypatch
):
    # Given an https notify URL whose name resolves to the receiver, and its CA trusted
    monkeypatch.setattr(webhooks, "TLS_VERIFY", tls_files[0])
    answers, lookups = fake_dns
    answers.extend(["127.0.0.1", "192.0.2.1"])
    point_at(app, tls_receiver.url(FAKE_HOST))

    # When the event is sent, it is delivered to the checked address, over TLS for the name
    assert send(app).status == "delivered"
    assert lookups == [FAKE_HOST]
    assert tls_receiver.server_names == [FAKE_HOST]
    assert tls_receiver.requests[0]["headers"]["Host"] == f"{FAKE_HOST}:{tls_receiver.port}"


def test_https_to_an_address_whose_certificate_does_not_match_fails(
    app, tls_receiver, tls_files, send, monkeypatch
):
    monkeypatch.setattr(webhooks, "TLS_VERIFY", tls_files[0])
    point_at(app, tls_receiver.url("127.0.0.1"))  # the certificate is for FAKE_HOST only
    assert send(app).status == "pending"
    assert tls_receiver.requests == []
    assert "SSLError" in WebhookDelivery.objects.get().error


# --- Resend and secrecy ---------------------------------------------------------------


def staff_client(client, username: str, *groups: str):
    user = get_user_model().objects.create_user(username=username, password="pw-12345-x", is_staff=True)
    user.groups.set(Group.objects.filter(name__in=groups))
    client.force_login(user)
    return client


def test_operations_resend_an_event_from_the_admin_under_the_same_id(
    app, receiver, send, client, django_capture_on_commit_callbacks
):
    # Given an event that failed once, then was delivered: two rows for one event
    receiver.statuses = [500]
    message = send(app)
    outbox.outbox_dispatch(message_id=message.pk, now=message.next_attempt_at)
    rows = list(WebhookDelivery.objects.values_list("pk", flat=True))
    assert len(rows) == 2

    # When operations select both rows and resend
    ops = staff_client(client, "ops", "operations")
    page = ops.get("/admin/accounts/webhookdelivery/").content.decode()
    assert message.payload["id"] in page and 'value="resend"' in page
    with django_capture_on_commit_callbacks(execute=True):
        response = ops.post(
            "/admin/accounts/webhookdelivery/", {"action": "resend", "_selected_action": rows}
        )
    assert response.status_code == 302

    # Then one new outbox message carries the same event, and the app sees the id again
    messages = list(OutboxMessage.objects.filter(subscriber="webhook").order_by("pk"))
    assert len(messages) == 2 and messages[1].payload == message.payload
    assert messages[1].status == "delivered"
    event_ids = [r["headers"]["X-Paycenter-Event-Id"] for r in receiver.requests]
    assert event_ids == [message.payload["id"]] * 3
    audit = AuditEntry.objects.get(action="webhook.resend")
    assert audit.actor == "ops" and audit.data["event_id"] == message.payload["id"]
    assert audit.target_id == str(app.pk)


def test_auditors_see_deliveries_but_cannot_resend(app, receiver, send, client):
    message = send(app)
    auditor = staff_client(client, "aud", "auditor")
    page = auditor.get("/admin/accounts/webhookdelivery/")
    assert page.status_code == 200 and message.payload["id"] in page.content.decode()
    assert 'value="resend"' not in page.content.decode()
    auditor.post(
        "/admin/accounts/webhookdelivery/",
        {"action": "resend", "_selected_action": [WebhookDelivery.objects.get().pk]},
    )
    assert OutboxMessage.objects.filter(subscriber="webhook").count() == 1


def test_resending_an_unknown_event_is_refused():
    with pytest.raises(NotFound):
        webhooks.webhook_resend(event_id="evt_nope", actor="ops", now=timezone.now())


def test_the_secret_and_signature_are_never_stored_or_logged(app, secret, receiver, send, caplog):
    caplog.set_level(logging.DEBUG)
    # Given a receiver that echoes the request headers back: once failing, once acknowledging
    receiver.echo_headers = True
    receiver.statuses = [500]
    message = send(app)
    outbox.outbox_dispatch(message_id=message.pk, now=message.next_attempt_at)
    signatures = [r["headers"]["X-Paycenter-Signature"] for r in receiver.requests]
    assert len(signatures) == 2

    # Then neither appears in the delivery rows, the outbox row or the log
    stored = json.dumps(list(WebhookDelivery.objects.values()), default=str)
    stored += json.dumps(list(OutboxMessage.objects.values()), default=str)
    assert "[redacted]" in stored  # the echo was there, and was cleaned
    for sensitive in (secret, *signatures):
        assert sensitive not in stored
        assert sensitive not in caplog.text
    assert "webhook" in caplog.text  # the log did talk about the deliveries
