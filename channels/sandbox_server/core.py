"""The platform's state shared by the HTTP app and the background dispatcher."""

import json
import secrets
import sqlite3
import threading
import time
from datetime import UTC, datetime

from . import signing
from .errors import SandboxError
from .store import Store


def dumps(payload: object) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(int(epoch), UTC).isoformat()


def new_id(prefix: str) -> str:
    # Time first so ids sort by creation, like a real platform's serials.
    return prefix + datetime.now(UTC).strftime("%Y%m%d%H%M%S") + secrets.token_hex(5).upper()


class Sandbox:
    def __init__(self, *, db_path: str, public_url: str | None = None) -> None:
        self.store = Store(db_path)
        self.private_key = self._platform_key()
        self.public_key_pem = signing.public_key_pem(self.private_key)
        self.public_url = (public_url or "").rstrip("/")
        # Set whenever new background work exists, so the dispatcher need not poll hard.
        self.wakeup = threading.Event()
        # Set on stop: releases held "timeout" responses and the dispatcher.
        self.stopping = threading.Event()

    def _platform_key(self):
        with self.store.transaction() as conn:
            row = conn.execute("SELECT private_pem FROM platform WHERE id = 1").fetchone()
            if row:
                return signing.load_private_key(row["private_pem"])
            key = signing.generate_private_key()
            conn.execute(
                "INSERT INTO platform (id, private_pem) VALUES (1, ?)", (signing.private_key_pem(key),)
            )
            return key

    def signed_headers(self, body: bytes) -> dict[str, str]:
        return signing.response_headers(private_key=self.private_key, body=body)

    def hold(self, seconds: float) -> None:
        if seconds > 0:
            self.stopping.wait(seconds)

    # Merchants -----------------------------------------------------------------------

    def register_merchant(self, *, name: str, public_pem: str) -> str:
        try:
            signing.load_public_key(public_pem)
        except (ValueError, TypeError) as exc:
            raise SandboxError(
                400, "INVALID_PUBLIC_KEY", "public_key must be an RSA public key in PEM"
            ) from exc
        with self.store.transaction() as conn:
            while True:
                merchant_id = "2088" + f"{secrets.randbelow(10**12):012d}"
                if not conn.execute(
                    "SELECT 1 FROM merchants WHERE merchant_id = ?", (merchant_id,)
                ).fetchone():
                    break
            conn.execute(
                "INSERT INTO merchants (merchant_id, name, public_pem, created_at) VALUES (?, ?, ?, ?)",
                (merchant_id, name, public_pem, iso(time.time())),
            )
        return merchant_id

    def merchant_key(self, merchant_id: str | None) -> str | None:
        if not merchant_id:
            return None
        row = self.store.one("SELECT public_pem FROM merchants WHERE merchant_id = ?", (merchant_id,))
        return row["public_pem"] if row else None

    # Notifications -------------------------------------------------------------------

    def enqueue_notification(
        self, conn: sqlite3.Connection, *, url: str | None, payload: dict, times: int, now: float
    ) -> None:
        """Queues `times` deliveries of one event; they share a notify_id, as duplicates do."""
        if not url or times <= 0:
            return
        notify_id = "N" + secrets.token_hex(12)
        body = dumps({"notify_id": notify_id, **payload}).decode()
        conn.executemany(
            "INSERT INTO notifications (notify_id, url, body, next_at) VALUES (?, ?, ?, ?)",
            [(notify_id, url, body, now)] * times,
        )
        self.wakeup.set()
