"""A small local webhook receiver for the embedded demo: what an app's notify endpoint does.

`make run` starts it (`manage.py webhook_receiver`) and `seed_demo` points the demo app's
notify URL at it, so a new user sees every webhook Paycenter sends. For each POST it checks
`X-Paycenter-Signature = hex(HMAC-SHA256(app secret, X-Paycenter-Timestamp + "." + body))`
(in constant time) and that the timestamp is within 300 s, prints the event and answers
200 — or 401 when it does not verify, so Paycenter retries it like any unacknowledged event.
It is the receiving side written from the contract (docs/api.md, "Webhooks to apps"); apps
should do the same and also drop an event id they have already handled.
"""

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TextIO

from paycenter.api.signing import sign_webhook, signatures_match

MAX_BODY_BYTES = 1024 * 1024
TOLERANCE_SECONDS = 300


@dataclass(frozen=True)
class ReceivedEvent:
    event_id: str
    type: str
    verified: bool
    reason: str = ""
    data: dict = field(default_factory=dict)
    duplicate: bool = False


def webhook_verify(*, secret: str, timestamp: str, body: bytes, signature: str, now: float) -> str:
    """Why the webhook does not verify, or "" when it does."""
    if not timestamp.isascii() or not timestamp.isdigit():
        return "missing or malformed X-Paycenter-Timestamp"
    if abs(now - int(timestamp)) > TOLERANCE_SECONDS:
        return "X-Paycenter-Timestamp more than 300 s away"
    expected = sign_webhook(secret=secret, timestamp=timestamp, body=body)
    if not signatures_match(expected, signature):
        return "bad X-Paycenter-Signature"
    return ""


def describe(event: ReceivedEvent) -> str:
    """One line per event: type, the object's id, status and amount, and the verdict."""
    data = event.data
    what = " ".join(
        str(part)
        for part in (
            data.get("id"),
            data.get("status"),
            f"{data['amount']} {data.get('currency', '')}".strip() if data.get("amount") else None,
        )
        if part
    )
    verdict = "signature ok" if event.verified else f"REFUSED: {event.reason}"
    if event.duplicate:
        verdict += "; seen before: an app handles each event id once"
    return f"webhook {event.type or '?'} {event.event_id or '?'} {what} ({verdict})".replace("  ", " ")


class WebhookReceiver:
    """Serves POSTs on (host, port) in a thread. `secret` is asked for each request, so the
    receiver can start before the app it listens for exists (`make run` seeds in parallel)."""

    def __init__(
        self,
        *,
        secret: Callable[[], str | list[str] | None],
        out: TextIO,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.received: list[ReceivedEvent] = []
        self._seen: set[str] = set()
        self._lock = threading.Lock()
        self._secret, self._out, self._clock = secret, out, clock
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length > MAX_BODY_BYTES:
                    self._answer(413, "too large")
                    return
                event = receiver.receive(headers=self.headers, body=self.rfile.read(length))
                self._answer(200 if event.verified else 401, "ok" if event.verified else event.reason)

            def _answer(self, status: int, text: str) -> None:
                payload = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                pass  # one line per event is printed by receive()

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self.host, self.port = host, self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/webhooks"

    def start(self) -> "WebhookReceiver":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def receive(self, *, headers: object, body: bytes) -> ReceivedEvent:
        try:
            payload = json.loads(body)
        except ValueError:
            payload = {}
        if not isinstance(payload, dict):
            payload = {}
        secrets = self._secret()
        secrets = [secrets] if isinstance(secrets, str) else list(secrets or [])
        reasons = [
            webhook_verify(
                secret=secret,
                timestamp=headers.get("X-Paycenter-Timestamp", ""),
                body=body,
                signature=headers.get("X-Paycenter-Signature", ""),
                now=self._clock(),
            )
            for secret in secrets
        ]
        if not reasons:
            reason = "no app secret to verify with (is the demo app seeded?)"
        else:
            reason = "" if "" in reasons else reasons[0]
        data = payload.get("data")
        event_id = headers.get("X-Paycenter-Event-Id", "") or str(payload.get("id", ""))
        with self._lock:
            event = ReceivedEvent(
                event_id=event_id,
                type=str(payload.get("type", "")),
                verified=not reason,
                reason=reason,
                data=data if isinstance(data, dict) else {},
                duplicate=not reason and event_id in self._seen,
            )
            if event.verified:
                self._seen.add(event_id)
            self.received.append(event)
            self._out.write(describe(event) + "\n")
            self._out.flush()
        return event
