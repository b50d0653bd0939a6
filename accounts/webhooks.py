"""Webhooks to apps (docs/api.md, "Webhooks to apps"): the outbox subscriber "webhook".

ledger.services.events emits each event to the outbox's events topic, in the transaction
of the change it reports; this subscriber takes the ones of an app with a notify URL. Each dispatch
signs the event with the app's secret and POSTs it to the app's notify URL. Any 2xx
acknowledges; anything else (status, timeout, connection error, refused address) raises,
and the outbox retries with BACKOFF — 11 tries over ~46 h — then marks the message failed.
Every attempt leaves a WebhookDelivery row. `webhook_resend` (admin) queues the same event
again under the same event id, so an app can drop a copy.

SSRF: every attempt resolves the host and checks every address it gets
(paycenter.netguard.notify_address), then connects to that checked address only
(_PinnedAdapter), so DNS rebinding between the check and the connection cannot redirect it.
"""

import json
import logging
import time
from datetime import datetime
from urllib.parse import SplitResult, urlsplit, urlunsplit

import requests
from django.db import transaction
from django.utils import timezone
from requests.adapters import HTTPAdapter
from urllib3.connectionpool import HTTPConnectionPool

from accounts.models import MerchantApp, WebhookDelivery
from paycenter import outbox
from paycenter.api.signing import sign_webhook
from paycenter.audit import audit_record
from paycenter.errors import NotFound, PaycenterError
from paycenter.memo import Recent
from paycenter.models import OutboxMessage
from paycenter.netguard import notify_address, notify_url_check

logger = logging.getLogger(__name__)

WEBHOOK_SUBSCRIBER = "webhook"  # its name on the outbox rows
# Retry delays after attempts 1…10: 11 tries spread over ~46 h (docs/api.md: at least 8 over at least 24 h).
BACKOFF = (15, 30, 180, 600, 1800, 3600, 10800, 21600, 43200, 86400)
TIMEOUT = (5, 10)  # seconds: connect, read
MAX_RESPONSE_BYTES = 64 * 1024  # read no more of an answer than this
EXCERPT_BYTES = 1024  # …and keep this much of it on the delivery row
# Trust store for https notify URLs: True is requests' bundle (certifi). Tests point it at
# a CA of their own.
TLS_VERIFY: bool | str = True
USER_AGENT = "Paycenter-Webhooks/1"


class WebhookNotAcknowledged(PaycenterError):
    """The app's receiver did not answer 2xx; the outbox tries again later."""

    code = "webhook_not_acknowledged"
    status = 502


_recent_notify_urls: Recent[bool] = Recent()


def _app_listens(payload: dict) -> bool:
    """Events of an app that has a notify URL. The platform's own transactions tell nobody,
    and an app without a URL costs no row and no dispatch per payment; the handler still
    checks again at delivery (a URL removed or an app disabled meanwhile is skipped)."""
    app_pk = payload.get("app_pk")
    if app_pk is None:
        return False
    return _recent_notify_urls.get(
        app_pk, lambda: MerchantApp.objects.filter(pk=app_pk).exclude(notify_url="").exists()
    )


@outbox.register(outbox.EVENTS_TOPIC, name=WEBHOOK_SUBSCRIBER, backoff_seconds=BACKOFF, wants=_app_listens)
def webhook_handler(*, payload: dict, message: OutboxMessage) -> None:
    webhook_deliver(payload=payload, attempt=message.attempts, now=timezone.now(), message_id=message.pk)


def webhook_deliver(
    *, payload: dict, attempt: int, now: datetime, message_id: int | None = None
) -> WebhookDelivery:
    """One attempt: the delivery row when the app acknowledged or there was nothing to do;
    WebhookNotAcknowledged (after writing a failed row) otherwise."""
    event = {key: payload[key] for key in ("id", "type", "created_at", "data")}
    common = {
        "event_id": event["id"],
        "event_type": event["type"],
        "attempt": attempt,
        "outbox_message_id": message_id,
        "created_at": now,
    }
    app = MerchantApp.objects.filter(pk=payload.get("app_pk")).first()
    skip_reason = _skip_reason(app)
    if app is None or skip_reason:
        logger.info("webhook %s (%s) skipped: %s", event["id"], event["type"], skip_reason)
        return WebhookDelivery.objects.create(
            **common,
            app=app,
            url=_loggable_url(app.notify_url) if app else "",
            outcome=WebhookDelivery.Outcome.SKIPPED,
            error=skip_reason,
        )

    body = json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode()
    timestamp = str(int(now.timestamp()))
    signature = sign_webhook(secret=app.secret, timestamp=timestamp, body=body)
    headers = {
        "Content-Type": "application/json",
        "X-Paycenter-Event-Id": event["id"],
        "X-Paycenter-Timestamp": timestamp,
        "X-Paycenter-Signature": signature,
    }
    started = time.monotonic()
    status, excerpt, error = None, b"", ""
    try:
        status, excerpt, error = _post(app.notify_url, body=body, headers=headers)
    except Exception as exc:  # refused address, DNS, timeouts, TLS, resets: all are "try again"
        error = f"{type(exc).__name__}: {exc}"
    duration_ms = int((time.monotonic() - started) * 1000)

    def clean(text: str) -> str:
        # A receiver may echo what it got; the secret and the signature are never kept.
        for sensitive in (app.secret, signature):
            if sensitive:
                text = text.replace(sensitive, "[redacted]")
        return text.replace("\x00", "\ufffd")  # PostgreSQL text cannot hold NUL

    delivered = status is not None and 200 <= status < 300
    row = WebhookDelivery.objects.create(
        **common,
        app=app,
        url=_loggable_url(app.notify_url),
        outcome=WebhookDelivery.Outcome.DELIVERED if delivered else WebhookDelivery.Outcome.FAILED,
        response_status=status,
        response_body=clean(excerpt.decode("utf-8", errors="replace")),
        error=clean(error)[:2000],
        duration_ms=duration_ms,
    )
    if not delivered:
        reason = row.error if status is None else f"the receiver answered {status}"
        logger.warning(
            "webhook %s (%s) to app %s attempt %s not acknowledged: %s",
            event["id"],
            event["type"],
            app.app_id,
            attempt,
            reason,
        )
        raise WebhookNotAcknowledged(reason)
    logger.info(
        "webhook %s (%s) delivered to app %s: %s in %s ms",
        event["id"],
        event["type"],
        app.app_id,
        status,
        duration_ms,
    )
    return row


@transaction.atomic(durable=True)
def webhook_resend(*, event_id: str, actor: str, now: datetime) -> OutboxMessage:
    """Queue the event again: a new outbox message with the same payload and event id."""
    original = _original_message(event_id=event_id)
    [message] = outbox.outbox_emit(
        topic=outbox.EVENTS_TOPIC, payload=original.payload, now=now, only=WEBHOOK_SUBSCRIBER
    )
    app = MerchantApp.objects.filter(pk=original.payload.get("app_pk")).first()
    audit_record(
        actor=actor,
        action="webhook.resend",
        target=app or message,
        now=now,
        data={"event_id": event_id, "type": original.payload.get("type"), "outbox_message_id": message.pk},
    )
    return message


def _original_message(*, event_id: str) -> OutboxMessage:
    # Through the deliveries (indexed by event id) first; the JSON lookup scans the outbox.
    pks = WebhookDelivery.objects.filter(event_id=event_id, outbox_message_id__isnull=False).values_list(
        "outbox_message_id", flat=True
    )
    messages = OutboxMessage.objects.filter(subscriber=WEBHOOK_SUBSCRIBER)
    original = messages.filter(pk__in=list(pks)).order_by("-pk").first()
    if original is None:
        original = messages.filter(payload__id=event_id).order_by("-pk").first()
    if original is None or original.payload.get("id") != event_id:
        raise NotFound("No such webhook event (or its outbox message was purged).")
    return original


def _skip_reason(app: MerchantApp | None) -> str:
    if app is None:
        return "no such app"
    if not app.enabled:
        return "app disabled"
    if not app.notify_url:
        return "app has no notify URL"
    return ""


def _loggable_url(url: str) -> str:
    """The URL without any user:password part."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


# --- The HTTP call --------------------------------------------------------------------


class _PinnedAdapter(HTTPAdapter):
    """A requests transport that connects to one fixed address, whatever the URL's host
    resolves to by then. Everything else stays tied to the URL's hostname: the caller sends
    it in the Host header, and for https it is the SNI name and the name the certificate
    must be valid for (urllib3's `server_hostname` / `assert_hostname`), so pinning never
    weakens TLS verification."""

    def __init__(self, address: str) -> None:
        self._address = address
        super().__init__(max_retries=0)

    def get_connection_with_tls_context(
        self,
        request: requests.PreparedRequest,
        verify: bool | str,
        proxies: object = None,
        cert: object = None,
    ) -> HTTPConnectionPool:
        # Proxies are ignored on purpose: the pinned address is the route (trust_env is off too).
        host_params, pool_kwargs = self.build_connection_pool_key_attributes(request, verify, cert)
        if host_params["scheme"] == "https":
            pool_kwargs["server_hostname"] = host_params["host"]
            pool_kwargs["assert_hostname"] = host_params["host"]
        return self.poolmanager.connection_from_host(
            host=self._address,
            port=host_params["port"],
            scheme=host_params["scheme"],
            pool_kwargs=pool_kwargs,
        )


def _host_header(parts: SplitResult) -> str:
    host = parts.hostname
    if ":" in host:
        host = f"[{host}]"
    default_port = 443 if parts.scheme == "https" else 80
    return host if parts.port in (None, default_port) else f"{host}:{parts.port}"


def _post(url: str, *, body: bytes, headers: dict) -> tuple[int, bytes, str]:
    """(status, the first bytes of the answer, a note when reading the answer failed)."""
    notify_url_check(url, resolve=False)  # http(s) only; names like localhost / *.internal
    parts = urlsplit(url)
    address = notify_address(parts.hostname)  # resolved and checked once; we connect to this
    with requests.Session() as session:
        session.trust_env = False  # no proxy or .netrc from the environment
        adapter = _PinnedAdapter(address)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        response = session.post(
            url,
            data=body,
            headers={
                **headers,
                "Host": _host_header(parts),
                "User-Agent": USER_AGENT,
                "Accept-Encoding": "identity",  # what we read is what they sent
            },
            timeout=TIMEOUT,
            allow_redirects=False,
            stream=True,
            verify=TLS_VERIFY,
        )
        with response:
            content, note = _read_capped(response)
    return response.status_code, content[:EXCERPT_BYTES], note


def _read_capped(response: requests.Response) -> tuple[bytes, str]:
    """At most MAX_RESPONSE_BYTES, within about the read timeout in all (a receiver that
    trickles a byte at a time cannot hold the worker). The status is already in: a body
    that breaks off is noted, not a failure."""
    chunks: list[bytes] = []
    size, deadline = 0, time.monotonic() + TIMEOUT[1]
    try:
        while size < MAX_RESPONSE_BYTES and time.monotonic() < deadline:
            chunk = response.raw.read1(MAX_RESPONSE_BYTES - size, decode_content=False)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except Exception as exc:  # read timeout, reset: keep what arrived
        return b"".join(chunks), f"reading the answer: {type(exc).__name__}: {exc}"
    return b"".join(chunks), ""
