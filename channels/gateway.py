"""Every call to a channel goes through `call`: it is timed, logged with secrets redacted
(D3), and counted for the channel's health (D6)."""

import contextvars
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, is_dataclass
from datetime import datetime, timedelta
from typing import TypeVar

import requests
from django.db.models import F
from django.utils import timezone

from channels.base import ChannelError, ChannelTimeout, ChannelUnreachable
from channels.models import ChannelRequestLog, MerchantChannel
from paycenter.trace import get_trace_id

logger = logging.getLogger(__name__)
T = TypeVar("T")

SECRET_WORDS = ("secret", "private", "password", "sign", "key", "token", "card", "cvv", "pan")
UNHEALTHY_AFTER = 3
UNHEALTHY_FOR = timedelta(seconds=60)


@dataclass
class CallRecord:
    request: dict = field(default_factory=dict)
    response_status: int | None = None
    response: dict = field(default_factory=dict)


_current: contextvars.ContextVar[CallRecord | None] = contextvars.ContextVar("channel_call", default=None)


def record(*, request: dict | None = None, status: int | None = None, response: dict | None = None) -> None:
    """Plugins report what went over the wire; outside `call` this does nothing."""
    current = _current.get()
    if current is None:
        return
    if request is not None:
        current.request = request
    if status is not None:
        current.response_status = status
    if response is not None:
        current.response = response


def redact(value: object) -> object:
    if isinstance(value, dict):
        return {
            k: "***" if any(word in str(k).lower() for word in SECRET_WORDS) else redact(v)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def call(*, mc: MerchantChannel, operation: str, reference: str, fn: Callable[[], T]) -> T:
    current = CallRecord()
    token = _current.set(current)
    started = time.monotonic()
    outcome, error, result = "ok", "", None
    try:
        result = fn()
        return result
    except ChannelTimeout as exc:
        outcome, error = "timeout", str(exc)
        raise
    except ChannelUnreachable as exc:
        outcome, error = "unreachable", str(exc)
        raise
    except ChannelError as exc:
        outcome, error = "rejected", str(exc)
        raise
    except Exception as exc:
        outcome, error = "error", f"{type(exc).__name__}: {exc}"
        raise
    finally:
        _current.reset(token)
        response = current.response or (asdict(result) if is_dataclass(result) else {})
        ChannelRequestLog.objects.create(
            merchant_channel=mc,
            operation=operation,
            reference=reference,
            request=redact(current.request),
            response_status=current.response_status,
            response=redact(response),
            outcome=outcome,
            error=error[:2000],
            duration_ms=int((time.monotonic() - started) * 1000),
            trace_id=get_trace_id(),
            created_at=timezone.now(),
        )
        _count_health(mc, ok=outcome in {"ok", "rejected"})


def _count_health(mc: MerchantChannel, *, ok: bool) -> None:
    """A channel that fails or times out repeatedly is skipped by routing for a while."""
    channels = MerchantChannel.objects.filter(pk=mc.pk)
    if ok:
        if mc.consecutive_failures:
            channels.update(consecutive_failures=0, unhealthy_until=None)
        return
    channels.update(consecutive_failures=F("consecutive_failures") + 1)
    channels.filter(consecutive_failures__gte=UNHEALTHY_AFTER).update(
        unhealthy_until=timezone.now() + UNHEALTHY_FOR
    )
    logger.warning("channel %s of merchant %s failed (%s)", mc.channel, mc.merchant_id, "health counted")


def http_request(
    method: str, url: str, *, timeout: float | tuple[float, float], **kwargs: object
) -> requests.Response:
    """A plugin's HTTP request to its platform. What failed decides what may be done next:
    a connection refused (or a bad URL) took nothing, so another channel may be tried
    (ChannelUnreachable); anything after the request may have left — a read timeout, a
    connection cut — may have taken the order, so only a query may tell (ChannelTimeout)."""
    try:
        return requests.request(method, url, timeout=timeout, **kwargs)
    except (requests.ConnectTimeout, requests.exceptions.InvalidURL) as exc:
        raise ChannelUnreachable(str(exc)) from exc
    except requests.ConnectionError as exc:
        if "refused" in str(exc).lower() or "NewConnectionError" in repr(exc):
            raise ChannelUnreachable(str(exc)) from exc
        raise ChannelTimeout(str(exc)) from exc
    except requests.Timeout as exc:
        raise ChannelTimeout(str(exc)) from exc
