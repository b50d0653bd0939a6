"""Transactional outbox: work that must follow a commit (webhooks, follow-up tasks).

`outbox_emit` writes a row inside the caller's transaction and, once that commits, queues
`outbox_dispatch_task`. Dispatch claims the row with a lease (a conditional UPDATE), runs
the topic's handler outside any transaction, then marks it delivered. A worker that dies
mid-handler leaves the lease to expire and the periodic sweep hands the row out again:
delivery is at least once, so handlers must be idempotent.

Higher apps register handlers for their topics in `AppConfig.ready`; the kernel never
imports them.
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


@dataclass(frozen=True)
class Handler:
    topic: str
    run: Callable[..., None]
    backoff_seconds: tuple[int, ...]

    @property
    def max_attempts(self) -> int:
        return len(self.backoff_seconds) + 1


_handlers: dict[str, Handler] = {}


def register(topic: str, *, backoff_seconds: tuple[int, ...] = DEFAULT_BACKOFF) -> Callable:
    """Decorator: `handler(*, payload, message)` runs for every message of `topic`."""

    def decorate(func: Callable[..., None]) -> Callable[..., None]:
        _handlers[topic] = Handler(topic=topic, run=func, backoff_seconds=backoff_seconds)
        return func

    return decorate


def handler_for(topic: str) -> Handler | None:
    return _handlers.get(topic)


def outbox_emit(*, topic: str, payload: dict, now: datetime) -> OutboxMessage:
    """Must run inside the business transaction whose commit it follows."""
    if not connection.in_atomic_block:
        raise RuntimeError("outbox_emit must be called inside transaction.atomic()")
    message = OutboxMessage.objects.create(
        topic=topic,
        payload=payload,
        trace_id=get_trace_id(),
        next_attempt_at=now,
        created_at=now,
    )
    transaction.on_commit(lambda: _enqueue(message.pk))
    return message


def _enqueue(message_id: int) -> None:
    from paycenter.tasks import outbox_dispatch_task

    try:
        outbox_dispatch_task.delay(message_id=message_id)
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
    handler = handler_for(message.topic)
    if handler is None:
        mine.update(status=OutboxMessage.Status.FAILED, locked_until=None, last_error="no handler for topic")
        logger.error("outbox: no handler for topic %s (message %s)", message.topic, message.pk)
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
