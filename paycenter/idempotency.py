"""Idempotency-Key for every POST (docs/api.md): the first request with a key runs, later ones
with the same key get its response back, and a concurrent one is told to wait.

The unique row (app, key) is the lock. It is inserted in its own committed transaction
before the request runs, so exactly one of any number of concurrent requests wins.
"""

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction

from paycenter.errors import IdempotencyKeyReused, InvalidRequest, RequestInProgress
from paycenter.models import IdempotencyRecord

MAX_KEY_LENGTH = 255
# An in-progress claim older than this belongs to a process that died mid-request; any
# worker's request timeout is far shorter, so taking it over cannot run a live request twice.
STALE_CLAIM = timedelta(minutes=5)


@dataclass(frozen=True)
class StoredResponse:
    status: int
    body: str


def key_acceptable(key: str) -> bool:
    return 0 < len(key) <= MAX_KEY_LENGTH and key.isprintable()


def request_fingerprint(*, method: str, path: str, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (method.upper().encode(), path.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def _ttl() -> timedelta:
    return timedelta(seconds=settings.PAYCENTER_IDEMPOTENCY_TTL_SECONDS)


def idempotency_claim(
    *, app_id: str, key: str, fingerprint: str, now: datetime
) -> IdempotencyRecord | StoredResponse:
    """The claimed record when this request must run, or the stored response to replay."""
    if not key_acceptable(key):
        raise InvalidRequest(
            "Idempotency-Key must be 1 to 255 printable characters.", field="Idempotency-Key"
        )
    for _ in range(3):
        try:
            return _insert(IdempotencyRecord(app_id=app_id, key=key, fingerprint=fingerprint, created_at=now))
        except IntegrityError:
            pass
        existing = IdempotencyRecord.objects.filter(app_id=app_id, key=key).first()
        if existing is None:
            continue  # purged between our insert and our read
        if existing.created_at <= now - _ttl():
            _forget(existing)
            continue
        if existing.fingerprint != fingerprint:
            raise IdempotencyKeyReused()
        if existing.status == IdempotencyRecord.Status.COMPLETED:
            return StoredResponse(status=existing.response_status, body=existing.response_body)
        if existing.created_at <= now - STALE_CLAIM and _take_over(existing, now=now):
            existing.created_at = now
            return existing
        raise RequestInProgress()
    raise RequestInProgress()


def _insert(record: IdempotencyRecord) -> IdempotencyRecord:
    """In autocommit the INSERT is its own transaction (one round trip, no BEGIN/COMMIT);
    inside an outer transaction a savepoint keeps a refused insert from aborting it."""
    if connection.in_atomic_block:
        with transaction.atomic():
            record.save(force_insert=True)
    else:
        record.save(force_insert=True)
    return record


def idempotency_complete(*, record: IdempotencyRecord, status: int, body: str, now: datetime) -> None:
    IdempotencyRecord.objects.filter(
        pk=record.pk, status=IdempotencyRecord.Status.IN_PROGRESS, created_at=record.created_at
    ).update(
        status=IdempotencyRecord.Status.COMPLETED,
        response_status=status,
        response_body=body,
        completed_at=now,
    )


def idempotency_release(*, record: IdempotencyRecord) -> None:
    """The request failed on our side (5xx): let the client retry with the same key."""
    IdempotencyRecord.objects.filter(
        pk=record.pk, status=IdempotencyRecord.Status.IN_PROGRESS, created_at=record.created_at
    ).delete()


def idempotency_purge(*, now: datetime) -> int:
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lte=now - _ttl()).delete()
    return deleted


def _forget(record: IdempotencyRecord) -> None:
    IdempotencyRecord.objects.filter(pk=record.pk, created_at=record.created_at).delete()


def _take_over(record: IdempotencyRecord, *, now: datetime) -> bool:
    return bool(
        IdempotencyRecord.objects.filter(
            pk=record.pk, status=IdempotencyRecord.Status.IN_PROGRESS, created_at=record.created_at
        ).update(created_at=now)
    )
