"""On a running gunicorn with the production cache settings (app credentials kept per worker
for PAYCENTER_HOT_CACHE_SECONDS, 0.5 s by default), a rotated secret, a disabled app and a
disabled channel take effect in every worker within a second."""

import http.client
import json
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.db import connection
from django.utils import timezone

from accounts.services import app_secret_rotate, app_update
from channels.services import merchant_channel_activate, merchant_channel_disable
from paycenter.api.signing import sign_request
from tests.paycenter.test_server_limits import free_port
from tests.waiting import wait_for

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]
PATH = "/api/v1/payments"
WITHIN = 1.0  # seconds


@pytest.fixture
def server():
    """gunicorn with two workers on the test database, the cache settings left at their defaults."""
    url = urlsplit(os.environ["DATABASE_URL"])
    env = {k: v for k, v in os.environ.items() if k != "PAYCENTER_HOT_CACHE_SECONDS"}
    env["DATABASE_URL"] = urlunsplit(url._replace(path="/" + connection.settings_dict["NAME"]))
    # Its own Redis keys and no failed-signature limit: the 401s this test asks for must not
    # count against 127.0.0.1 for the tests after it (or for itself).
    env["CACHE_KEY_PREFIX"] = f"{os.environ.get('CACHE_KEY_PREFIX', 'paycenter')}-live"
    env["RATE_LIMIT_FAILED_SIGNATURE_IP"] = ""
    port = free_port()
    gunicorn = Path(sys.executable).with_name("gunicorn")
    command = [str(gunicorn), "paycenter.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "2"]
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: _healthy(port), timeout=30, every=0.1)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def _healthy(port: int) -> bool:
    try:
        return _request(port, "GET", "/health", b"", {})[0] == 200
    except OSError:
        return False


def _request(port: int, method: str, path: str, body: bytes, headers: dict) -> tuple[int, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        raw = response.read()
        return response.status, json.loads(raw) if raw.startswith(b"{") else {}
    finally:
        conn.close()


class Payer:
    def __init__(self, port: int, app_id: str, wallet_id: int) -> None:
        self.port, self.app_id, self.wallet_id, self.n = port, app_id, wallet_id, 0

    def pay(self, secret: str) -> tuple[int, str]:
        self.n += 1
        body = json.dumps(
            {"out_trade_no": f"live-{secrets.token_hex(6)}", "amount": "0.01", "subject": "Tea",
             "channel": "balance", "payer_account_id": self.wallet_id}
        ).encode()  # fmt: skip
        timestamp, nonce = str(int(time.time())), secrets.token_hex(12)
        headers = {
            "Content-Type": "application/json",
            "X-App-Id": self.app_id,
            "X-Timestamp": timestamp,
            "X-Nonce": nonce,
            "X-Signature": sign_request(
                secret=secret, method="POST", path=PATH, timestamp=timestamp, nonce=nonce, body=body
            ),
            "Idempotency-Key": f"k-{nonce}",
        }
        status, answer = _request(self.port, "POST", PATH, body, headers)
        return status, answer.get("status") or answer.get("error", {}).get("code", "")

    def settles(self, secret: str, expected: tuple[int, str]) -> float:
        """Seconds until every worker answers `expected` (ten answers in a row), asking
        from the moment of the change."""
        changed, streak, settled = time.monotonic(), 0, 0.0
        while streak < 10:
            elapsed = time.monotonic() - changed
            assert elapsed < 3 * WITHIN, f"still not {expected} after {elapsed:.2f} s"
            if self.pay(secret) == expected:
                settled = elapsed if streak == 0 else settled
                streak += 1
            else:
                streak = 0
        return settled


def test_a_rotated_secret_a_disabled_app_and_channel_take_effect_within_a_second(
    server, onboarded, wallet_of
):
    merchant, app, secret = onboarded
    now = timezone.now()
    channel = merchant_channel_activate(merchant_id=merchant.pk, channel="balance", actor="test", now=now)
    payer = Payer(server, app.app_id, wallet_of("alice", balance=100_00).pk)
    assert payer.settles(secret, (201, "succeeded")) < 3 * WITHIN  # both workers warm, caches filled

    new_secret = app_secret_rotate(app_pk=app.pk, actor="test", now=timezone.now())
    assert payer.settles(secret, (401, "invalid_signature")) < WITHIN
    assert payer.settles(new_secret, (201, "succeeded")) < WITHIN

    def enable(enabled: bool) -> None:
        app_update(app_pk=app.pk, name=app.name, notify_url="", ip_allowlist="", enabled=enabled,
                   actor="test", now=timezone.now())  # fmt: skip

    enable(False)
    assert payer.settles(new_secret, (401, "invalid_app")) < WITHIN
    enable(True)
    assert payer.settles(new_secret, (201, "succeeded")) < WITHIN

    merchant_channel_disable(mc_id=channel.pk, actor="test", now=timezone.now())
    assert payer.settles(new_secret, (422, "channel_unavailable")) < WITHIN
