"""Transactional outbox: work that must follow a commit (webhooks, follow-up work of
other apps).

A topic has any number of subscribers. `outbox_emit` writes one row per interested
subscriber inside the caller's transaction and, once that commits, hands the rows to the
dispatcher (Celery, registered by PaycenterConfig.ready). Dispatch claims a row with a lease
(a conditional UPDATE), runs its subscriber outside any transaction, then marks it
delivered. Each subscriber's row retries on its own, so one failing subscriber never makes
another run twice. A worker that dies mid-handler leaves the lease to expire and the
periodic sweep hands the row out again: delivery is at least once, so subscribers must be
idempotent.

Higher apps subscribe in `AppConfig.ready`; the kernel never imports them.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q

from paycenter.models import OutboxMessage
from paycenter.trace import get_trace_id, reset_trace_id, set_trace_id

logger = logging.getLogger(__name__)


def lease() -> timedelta:
    """How long a dispatcher may hold a message before others may take it: longer than any
    handler runs (webhooks time out after 15 s), short enough that a dead worker's message
    is soon delivered again."""
    return timedelta(seconds=settings.OUTBOX_LEASE_SECONDS)


DEFAULT_BACKOFF = (15, 30, 180, 600, 1800, 3600, 10800, 21600, 43200, 86400)


# Business events of transactions (payments, refunds, recharges, withdrawals, …): the
# ledger emits them, with or without an app; webhooks, orders and reconciliation subscribe.
EVENTS_TOPIC = "events"


@dataclass(frozen=True)
class Handler:
    topic: str
    name: str
    run: Callable[..., None]
    backoff_seconds: tuple[int, ...]
    wants: Callable[[dict], bool] | None = None

    @property
    def max_attempts(self) -> int:
        return len(self.backoff_seconds) + 1


_handlers: dict[str, dict[str, Handler]] = {}
_dispatcher: Callable[[int], None] | None = None


def register(
    topic: str,
    *,
    name: str | None = None,
    backoff_seconds: tuple[int, ...] = DEFAULT_BACKOFF,
    wants: Callable[[dict], bool] | None = None,
) -> Callable:
    """Decorator: `handler(*, payload, message)` runs for every message of `topic` that it
    `wants` (all when None). `name` (default: the function's dotted path) is stored on
    each row, so it must stay stable while rows are pending."""

    def decorate(func: Callable[..., None]) -> Callable[..., None]:
        key = name or f"{func.__module__}.{func.__qualname__}"
        subscribers = _handlers.setdefault(topic, {})
        known = subscribers.get(key)
        if known is not None and known.run is not func:
            raise ValueError(f"outbox: {key!r} already subscribes to {topic!r}")
        subscribers[key] = Handler(
            topic=topic, name=key, run=func, backoff_seconds=backoff_seconds, wants=wants
        )
        return func

    return decorate


def handler_for(topic: str, name: str) -> Handler | None:
    return _handlers.get(topic, {}).get(name)


def subscribers(topic: str) -> list[Handler]:
    return list(_handlers.get(topic, {}).values())


def dispatch_with(dispatcher: Callable[[int], None]) -> None:
    """How a committed message is handed over (PaycenterConfig.ready: a Celery task). Kept
    as a hook so that the kernel's outbox does not import its own task module."""
    global _dispatcher
    _dispatcher = dispatcher


def outbox_rows(*, topic: str, payload: dict, now: datetime, only: str | None = None) -> list[OutboxMessage]:
    """The unsaved rows of a message: one per subscriber of `topic` that wants it (or just
    `only`, e.g. a resend)."""
    chosen = [
        h
        for h in subscribers(topic)
        if (only is None or h.name == only) and (h.wants is None or h.wants(payload))
    ]
    if only is not None and not chosen:
        raise ValueError(f"outbox: nobody named {only!r} subscribes to {topic!r}")
    trace_id = get_trace_id()
    return [
        OutboxMessage(
            topic=topic,
            subscriber=h.name,
            payload=payload,
            trace_id=trace_id,
            next_attempt_at=now,
            created_at=now,
        )
        for h in chosen
    ]


def outbox_emit(*, topic: str, payload: dict, now: datetime, only: str | None = None) -> list[OutboxMessage]:
    """Writes `outbox_rows` and hands them over once the caller's transaction commits. Must
    run inside the business transaction whose commit it follows."""
    if not connection.in_atomic_block:
        raise RuntimeError("outbox_emit must be called inside transaction.atomic()")
    messages = outbox_rows(topic=topic, payload=payload, now=now, only=only)
    if not messages:
        logger.debug("outbox: nobody subscribes to %s", topic)
        return []
    OutboxMessage.objects.bulk_create(messages)  # sets the ids on PostgreSQL and SQLite
    transaction.on_commit(lambda: outbox_enqueue([m.pk for m in messages]))
    return messages


def outbox_enqueue(message_ids: list[int]) -> None:
    """Hand committed rows to the dispatcher (a writer that committed them itself calls this
    after its commit)."""
    for message_id in message_ids:
        try:
            if _dispatcher is None:
                raise RuntimeError("no dispatcher registered")
            _dispatcher(message_id)
        except Exception:
            # The row is committed; the sweep will deliver it. Never fail the caller here.
            logger.warning("outbox: could not queue message %s; the sweep will", message_id, exc_info=True)


_TABLE = OutboxMessage._meta.db_table
# One statement claims and reads the message (the ORM's update() returns no rows); both
# PostgreSQL and SQLite (3.35+) have UPDATE … RETURNING.
_CLAIM = (
    f"UPDATE {_TABLE} SET locked_until = %s, attempts = attempts + 1"  # noqa: S608 (our table name)
    " WHERE id = %s AND status = %s AND next_attempt_at <= %s"
    " AND (locked_until IS NULL OR locked_until < %s) RETURNING *"
)


def _claim(*, message_id: int, now: datetime) -> OutboxMessage | None:
    params = [now + lease(), message_id, OutboxMessage.Status.PENDING.value, now, now]
    claimed = list(OutboxMessage.objects.raw(_CLAIM, params))
    return claimed[0] if claimed else None


def outbox_dispatch(*, message_id: int, now: datetime) -> str:
    """Deliver one message if it is due and nobody else holds it. Returns what happened."""
    message = _claim(message_id=message_id, now=now)
    if message is None:
        return "skipped"
    token = set_trace_id(message.trace_id or get_trace_id())
    try:
        return _run(message, now=now)
    finally:
        reset_trace_id(token)


def _run(message: OutboxMessage, *, now: datetime) -> str:
    # Fencing on `attempts`: if our lease ran out and someone else took the row, our late
    # result must not overwrite theirs.
    mine = OutboxMessage.objects.filter(
        pk=message.pk, attempts=message.attempts, status=OutboxMessage.Status.PENDING
    )
    handler = handler_for(message.topic, message.subscriber)
    if handler is None:
        mine.update(status=OutboxMessage.Status.FAILED, locked_until=None, last_error="no such subscriber")
        logger.error(
            "outbox: no subscriber %s of %s (message %s)", message.subscriber, message.topic, message.pk
        )
        return "failed"
    try:
        handler.run(payload=message.payload, message=message)
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"[:2000]
        if message.attempts >= handler.max_attempts:
            mine.update(status=OutboxMessage.Status.FAILED, locked_until=None, last_error=error)
            logger.error(
                "outbox: message %s failed for good after %s attempts: %s",
                message.pk,
                message.attempts,
                error,
            )
            return "failed"
        delay = handler.backoff_seconds[min(message.attempts, len(handler.backoff_seconds)) - 1]
        mine.update(locked_until=None, last_error=error, next_attempt_at=now + timedelta(seconds=delay))
        logger.warning(
            "outbox: message %s attempt %s failed, retry in %ss: %s",
            message.pk,
            message.attempts,
            delay,
            error,
        )
        return "retry"
    mine.update(status=OutboxMessage.Status.DELIVERED, locked_until=None, delivered_at=now, last_error="")
    return "delivered"


def outbox_due_ids(*, now: datetime, limit: int = 500) -> list[int]:
    claimable = Q(locked_until__isnull=True) | Q(locked_until__lt=now)
    return list(
        OutboxMessage.objects.filter(claimable, status=OutboxMessage.Status.PENDING, next_attempt_at__lte=now)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
