"""Thin Celery wrappers around kernel services; each is safe to run twice."""

from celery import shared_task
from django.utils import timezone

from paycenter.idempotency import idempotency_purge
from paycenter.outbox import outbox_dispatch, outbox_due_ids


@shared_task(acks_late=True)
def outbox_dispatch_task(*, message_id: int) -> str:
    return outbox_dispatch(message_id=message_id, now=timezone.now())


def outbox_dispatch_enqueue(message_id: int) -> None:
    """The outbox's dispatcher (registered in PaycenterConfig.ready)."""
    outbox_dispatch_task.delay(message_id=message_id)


@shared_task(acks_late=True)
def outbox_sweep_task() -> int:
    """Re-queue everything due: retries, and rows whose first queueing or worker was lost."""
    ids = outbox_due_ids(now=timezone.now())
    for message_id in ids:
        outbox_dispatch_task.delay(message_id=message_id)
    return len(ids)


@shared_task(acks_late=True)
def idempotency_purge_task() -> int:
    return idempotency_purge(now=timezone.now())
