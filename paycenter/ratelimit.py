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


def _key(*, scope: str, subject: str, who: str, rate: Rate | None, now: float) -> str:
    """The counter of `who` in the current window (any key when there is no limit)."""
    return f"rl:{scope}:{subject}:{who}:{_window(rate, now)[0] if rate else 0}"


def _hit(*, scope: str, subject: str, who: str, now: float) -> float | None:
    rate = _rate(scope, subject)
    if rate is None:
        return None
    left = _window(rate, now)[1]
    key = _key(scope=scope, subject=subject, who=who, rate=rate, now=now)
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
    key = _key(scope=FAILED_SIGNATURE, subject="ip", who=address, rate=rate, now=now)
    count = _store(lambda cache: cache.get(key))
    left = _window(rate, now)[1]
    return left if count is not None and count >= rate.count else None


def failed_signature_note(*, address: str, now: float) -> None:
    _hit(scope=FAILED_SIGNATURE, subject="ip", who=address, now=now)


# One round trip for what a signed request needs after its signature is verified, in the
# order the checks run one by one: refused when the address's failed signatures are at the
# limit; otherwise the nonce remembered (refused when seen); then both counters counted.
_ADMIT = """
local limit = tonumber(ARGV[1])
if limit >= 0 and tonumber(redis.call('GET', KEYS[1]) or '0') >= limit then return {1, 0, 0, 0} end
if not redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[2]) then return {0, 0, 0, 0} end
local counts = {0, 1, 0, 0}
for i = 3, 4 do
  if ARGV[i] ~= '0' then
    counts[i] = redis.call('INCR', KEYS[i])
    if counts[i] == 1 then redis.call('EXPIRE', KEYS[i], ARGV[i]) end
  end
end
return counts
"""


@dataclass(frozen=True)
class Admission:
    blocked_for: float | None  # the address's failed signatures: seconds to wait
    fresh_nonce: bool
    limited_for: float | None  # the rate limits: seconds to wait


def admit(
    *, scope: str, app_id: str, address: str, nonce_key: str, nonce_ttl: int, now: float
) -> Admission | None:
    """`failed_signature_wait`, remembering the nonce in the default cache and
    `rate_limit_hit` in one Redis round trip; None when that cannot be done (the two caches
    are not the same Redis, or it failed): the caller then makes the three calls."""
    nonce_cache, counters = caches["default"], caches[settings.PAYCENTER_RATE_LIMIT_CACHE]
    locations = {
        settings.CACHES[name].get("LOCATION") for name in ("default", settings.PAYCENTER_RATE_LIMIT_CACHE)
    }
    same_store = len(locations) == 1
    if not same_store or not hasattr(counters, "client") or time.monotonic() < _paused_until:
        return None
    failed, app_rate, ip_rate = _rate(FAILED_SIGNATURE, "ip"), _rate(scope, "app"), _rate(scope, "ip")
    counted = [
        (FAILED_SIGNATURE, "ip", address, failed),
        (scope, "app", app_id, app_rate),
        (scope, "ip", address, ip_rate),
    ]
    keys = [
        counters.make_key(_key(scope=name, subject=subject, who=who, rate=rate, now=now))
        for name, subject, who, rate in counted
    ]
    keys.insert(1, nonce_cache.make_key(nonce_key))
    ttls = [rate.seconds + 1 if rate else 0 for rate in (app_rate, ip_rate)]
    args = [failed.count if failed else -1, nonce_ttl, *ttls]
    try:
        client = counters.client.get_client(write=True)
        # register_script only computes the SHA; EVALSHA loads the script once per server.
        script = client.register_script(_ADMIT)
        blocked, fresh, app_count, ip_count = script(keys=keys, args=args)
    except Exception:
        logger.warning("rate limits: the one-trip admission failed; checking one by one", exc_info=True)
        return None
    waits = [
        _window(rate, now)[1]
        for rate, count in ((app_rate, app_count), (ip_rate, ip_count))
        if rate is not None and count > rate.count
    ]
    return Admission(
        blocked_for=_window(failed, now)[1] if blocked else None,
        fresh_nonce=bool(fresh),
        limited_for=max(waits, default=None),
    )
