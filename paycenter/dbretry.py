"""Retry a whole top-level transaction when PostgreSQL aborts it as a deadlock victim or a
serialization failure. Lock ordering makes these rare; when one happens anyway the caller
should see a slower success, not an error. Only wrap durable (outermost) use cases."""

import functools
import logging
import random
import time
from collections.abc import Callable
from typing import TypeVar

from django.db import OperationalError

logger = logging.getLogger(__name__)
T = TypeVar("T")
RETRYABLE_SQLSTATES = {"40P01", "40001"}  # deadlock_detected, serialization_failure


def _sqlstate(exc: BaseException) -> str | None:
    cause = exc.__cause__ or exc
    return getattr(cause, "sqlstate", None) or getattr(cause, "pgcode", None)


def retry_on_conflict(func: Callable[..., T], *, attempts: int = 4) -> Callable[..., T]:
    @functools.wraps(func)
    def wrapper(*args: object, **kwargs: object) -> T:
        for attempt in range(1, attempts + 1):
            try:
                return func(*args, **kwargs)
            except OperationalError as exc:
                if _sqlstate(exc) not in RETRYABLE_SQLSTATES or attempt == attempts:
                    raise
                logger.warning("%s: %s, retry %s", func.__name__, _sqlstate(exc), attempt)
                time.sleep(random.uniform(0, 0.02 * attempt))  # noqa: S311 (jitter, not crypto)
        raise AssertionError("unreachable")

    return wrapper
