"""The background side of the platform: delayed settlements, expiry, and notification
delivery with retries after 1, 2, 4, 8 and 16 s.

One scheduler thread finds due work in the database (so nothing is lost across a
restart); deliveries run on a small pool so one slow receiver does not hold up others.
"""

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests

from .core import Sandbox
from .payments import expire_due, next_settlement, settle_due

logger = logging.getLogger(__name__)

RETRY_DELAYS = (1, 2, 4, 8, 16)
REQUEST_TIMEOUT = 5.0
IDLE_POLL = 0.5


class Dispatcher:
    def __init__(self, sandbox: Sandbox, *, workers: int = 8) -> None:
        self.sandbox = sandbox
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sandbox-notify")
        self._thread = threading.Thread(target=self._run, name="sandbox-scheduler", daemon=True)

    def start(self) -> None:
        with self.sandbox.store.transaction() as conn:
            # Deliveries cut short by a stop are simply sent again: receivers dedupe by notify_id.
            conn.execute("UPDATE notifications SET state = 'pending' WHERE state = 'sending'")
        self._thread.start()

    def stop(self) -> None:
        self.sandbox.stopping.set()
        self.sandbox.wakeup.set()
        self._thread.join(timeout=5)
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _run(self) -> None:
        sandbox = self.sandbox
        while not sandbox.stopping.is_set():
            # Cleared before the work, so a wakeup raised during it is not lost.
            sandbox.wakeup.clear()
            now = time.time()
            try:
                settle_due(sandbox, now=now)
                expire_due(sandbox, now=now)
                for row in self._claim_due(now):
                    self._pool.submit(self._deliver, row["id"], row["url"], row["body"], row["attempts"])
                wait = self._seconds_to_next(now)
            except Exception:
                if sandbox.stopping.is_set():
                    return
                logger.exception("sandbox scheduler pass failed")
                wait = IDLE_POLL
            sandbox.wakeup.wait(wait)

    def _claim_due(self, now: float):
        with self.sandbox.store.transaction() as conn:
            rows = conn.execute(
                "SELECT id, url, body, attempts FROM notifications WHERE state = 'pending' AND next_at <= ?"
                " ORDER BY next_at, id",
                (now,),
            ).fetchall()
            conn.executemany(
                "UPDATE notifications SET state = 'sending' WHERE id = ?", [(r["id"],) for r in rows]
            )
        return rows

    def _seconds_to_next(self, now: float) -> float:
        row = self.sandbox.store.one("SELECT MIN(next_at) FROM notifications WHERE state = 'pending'")
        candidates = [t for t in (row[0] if row else None, next_settlement(self.sandbox)) if t is not None]
        return max(0.0, min([*candidates, now + IDLE_POLL]) - now)

    def _deliver(self, notification_id: int, url: str, body: str, attempts: int) -> None:
        if self.sandbox.stopping.is_set():
            return
        payload = body.encode()
        # Signed afresh on every attempt so the timestamp stays inside the receiver's window.
        headers = {"Content-Type": "application/json", **self.sandbox.signed_headers(payload)}
        error = None
        try:
            response = requests.post(url, data=payload, headers=headers, timeout=REQUEST_TIMEOUT)
            if response.status_code != 200 or response.text.strip() != "success":
                error = f"HTTP {response.status_code}: {response.text[:200]}"
        except requests.RequestException as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
        self._record(notification_id, attempts + 1, error)

    def _record(self, notification_id: int, attempts: int, error: str | None) -> None:
        if self.sandbox.stopping.is_set():
            return
        if error is None:
            state, next_at = "delivered", None
        elif attempts > len(RETRY_DELAYS):
            state, next_at = "failed", None
            logger.info("sandbox notification %s given up after %s attempts", notification_id, attempts)
        else:
            state, next_at = "pending", time.time() + RETRY_DELAYS[attempts - 1]
        with self.sandbox.store.transaction() as conn:
            conn.execute(
                "UPDATE notifications SET state = ?, attempts = ?, next_at = ?, last_error = ? WHERE id = ?",
                (state, attempts, next_at, error, notification_id),
            )
        self.sandbox.wakeup.set()
