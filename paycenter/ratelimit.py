"""Rate limits: fixed-window counters per app and per client address, per class of endpoint
(`PAYCENTER_RATE_LIMITS`), kept in the `PAYCENTER_RATE_LIMIT_CACHE` cache — Redis when
REDIS_URL is set, so every gunicorn worker counts against the same numbers.

A window's counter is one atomic INCR; a fixed window lets a client send up to twice the
limit across a window boundary, which is acceptable for limits meant to stop runaways and
guessing, not to meter. The limits protect the service, not the money: when the counter
store fails they are skipped (and logged), so an outage of it never stops a payment.
"""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from django.conf import settings
from django.core.cache import BaseCache, caches

logger = logging.getLogger(__name__)
T = TypeVar("T")

FAILED_SIGNATURE = "failed_signature"
# After a failure the store is left alone this long: an outage then costs one slow request
# per worker every few seconds instead of a connection timeout on every request.
OUTAGE_PAUSE_SECONDS = 5.0
_paused_until = 0.0


@dataclass(frozen=True)
class Rate:
    count: int
    seconds: int

    @classmethod
    def parse(cls, text: str) -> "Rate":
        """ "600/10" → 600 requests per 10 s."""
        count, _, seconds = text.partition("/")
        return cls(count=int(count), seconds=int(seconds or 1))


def _rate(scope: str, subject: str) -> Rate | None:
    text = settings.PAYCENTER_RATE_LIMITS.get(scope, {}).get(subject)
    return Rate.parse(text) if text else None


def _store(operation: Callable[[BaseCache], T]) -> T | None:
    global _paused_until
    if time.monotonic() < _paused_until:
        return None
    try:
        return operation(caches[settings.PAYCENTER_RATE_LIMIT_CACHE])
    except Exception:
        _paused_until = time.monotonic() + OUTAGE_PAUSE_SECONDS
        logger.warning(
            "rate limits are not enforced for %s s: their counter store failed",
            OUTAGE_PAUSE_SECONDS,
            exc_info=True,
        )
        return None


def _increment(cache: BaseCache, key: str, timeout: int) -> int:
    try:
        return cache.incr(key)
    except ValueError:  # the window's first request
        if cache.add(key, 1, timeout=timeout):
            return 1
        return cache.incr(key)


def _window(rate: Rate, now: float) -> tuple[int, float]:
    """The window's number and the seconds left in it."""
    number = int(now // rate.seconds)
    return number, (number + 1) * rate.seconds - now


def _hit(*, scope: str, subject: str, who: str, now: float) -> float | None:
    rate = _rate(scope, subject)
    if rate is None:
        return None
    number, left = _window(rate, now)
    key = f"rl:{scope}:{subject}:{who}:{number}"
    count = _store(lambda cache: _increment(cache, key, rate.seconds + 1))
    return left if count is not None and count > rate.count else None


def rate_limit_hit(*, scope: str, app_id: str, address: str, now: float) -> float | None:
    """Counts one request of the app from the address; the seconds to wait when either is over."""
    waits = [
        _hit(scope=scope, subject="app", who=app_id, now=now),
        _hit(scope=scope, subject="ip", who=address, now=now),
    ]
    return max((wait for wait in waits if wait is not None), default=None)


def failed_signature_wait(*, address: str, now: float) -> float | None:
    """The seconds an address must wait because of its failed signatures, if it must."""
    rate = _rate(FAILED_SIGNATURE, "ip")
    if rate is None:
        return None
    number, left = _window(rate, now)
    count = _store(lambda cache: cache.get(f"rl:{FAILED_SIGNATURE}:ip:{address}:{number}"))
    return left if count is not None and count >= rate.count else None


def failed_signature_note(*, address: str, now: float) -> None:
    _hit(scope=FAILED_SIGNATURE, subject="ip", who=address, now=now)
