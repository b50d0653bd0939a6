"""A per-process memo of small reads every request makes (an app's credentials, whether it
wants webhooks), kept for `PAYCENTER_HOT_CACHE_SECONDS`.

A short time to live rather than invalidation: a change takes effect in every worker within
that time however it was made (the admin, a service's conditional update, SQL by hand), with
nothing to keep in step across processes. At half a second a worker reloads an app at most
twice a second while it serves thousands of requests.
"""

import threading
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from django.conf import settings

T = TypeVar("T")
MAX_ENTRIES = 10_000


class Recent(Generic[T]):
    def __init__(self) -> None:
        self._items: dict[Hashable, tuple[float, T]] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable, load: Callable[[], T]) -> T:
        ttl = settings.PAYCENTER_HOT_CACHE_SECONDS
        now = time.monotonic()
        hit = self._items.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        value = load()
        if ttl > 0:
            with self._lock:
                if len(self._items) >= MAX_ENTRIES:
                    self._items.clear()
                self._items[key] = (now + ttl, value)
        return value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
