"""The background side of the fake: delayed settlements and callback delivery with WeChat
Pay's retry habit — 15 retries over about 24 hours — compressed by the platform's speed."""

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests

from .platform import Delivery, Platform

logger = logging.getLogger(__name__)

# Seconds before each retry: 15s/15s/30s/3m/10m/20m/30m/30m/30m/60m/3h/3h/3h/6h/6h.
RETRY_DELAYS = (15, 15, 30, 180, 600, 1200, 1800, 1800, 1800, 3600, 10800, 10800, 10800, 21600, 21600)
REQUEST_TIMEOUT = 5.0
IDLE_POLL = 0.5


class Notifier:
    def __init__(self, platform: Platform, *, workers: int = 8) -> None:
        self.platform = platform
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="wechatpay-notify")
        self._thread = threading.Thread(target=self._run, name="wechatpay-scheduler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.platform.stopping.set()
        self.platform.wakeup.set()
        self._thread.join(timeout=5)
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _run(self) -> None:
        platform = self.platform
        while not platform.stopping.is_set():
            platform.wakeup.clear()  # before the work, so a wakeup raised during it is kept
            now = time.time()
            try:
                platform.settle_due(now)
                with platform.lock:
                    due = [d for d in platform.deliveries if d.state == "pending" and d.next_at <= now]
                    for delivery in due:
                        delivery.state = "sending"
                    waiting = [d.next_at for d in platform.deliveries if d.state == "pending"]
                for delivery in due:
                    self._pool.submit(self._deliver, delivery)
                upcoming = [t for t in (*waiting, platform.next_settlement()) if t is not None]
                wait = max(0.0, min([*upcoming, now + IDLE_POLL]) - now)
            except Exception:
                if platform.stopping.is_set():
                    return
                logger.exception("wechatpay fake scheduler pass failed")
                wait = IDLE_POLL
            platform.wakeup.wait(wait)

    def _deliver(self, delivery: Delivery) -> None:
        if self.platform.stopping.is_set():
            return
        # Signed afresh on every attempt, as WeChat does: the timestamp is the sending time.
        headers = {"Content-Type": "application/json", **self.platform.signed_headers(delivery.body)}
        error = ""
        try:
            response = requests.post(
                delivery.url, data=delivery.body, headers=headers, timeout=REQUEST_TIMEOUT
            )
            if response.status_code not in (200, 204):
                error = f"HTTP {response.status_code}: {response.text[:200]}"
        except requests.RequestException as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
        with self.platform.lock:
            delivery.attempts += 1
            delivery.last_error = error
            if not error:
                delivery.state = "delivered"
            elif delivery.attempts > len(RETRY_DELAYS):
                delivery.state = "failed"
            else:
                delivery.state = "pending"
                delivery.next_at = time.time() + RETRY_DELAYS[delivery.attempts - 1] / self.platform.speed
        self.platform.wakeup.set()
