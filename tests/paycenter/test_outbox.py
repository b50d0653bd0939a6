"""The transactional outbox: written with the business transaction, delivered at least once."""

import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import transaction
from django.utils import timezone

from paycenter import outbox
from paycenter.models import OutboxMessage
from paycenter.tasks import outbox_sweep_task
from paycenter.trace import reset_trace_id, set_trace_id
from tests.workers import start_celery_worker

ROOT = Path(__file__).resolve().parents[2]
delivered: list[dict] = []
failures = {"left": 0}


@outbox.register("tests.unit", name="unit", backoff_seconds=(15, 30))
def _unit_handler(*, payload: dict, message: OutboxMessage) -> None:
    if failures["left"] > 0:
        failures["left"] -= 1
        raise ConnectionError("receiver down")
    delivered.append(payload)


@pytest.fixture(autouse=True)
def _reset():
    delivered.clear()
    failures["left"] = 0


def emit(payload: dict, *, topic: str = "tests.unit") -> OutboxMessage:
    with transaction.atomic():
        [message] = outbox.outbox_emit(topic=topic, payload=payload, now=timezone.now())
    return message


@pytest.mark.django_db(transaction=True)
def test_a_committed_message_is_dispatched_after_commit():
    message = emit({"n": 1})
    assert delivered == [{"n": 1}]
    message.refresh_from_db()
    assert message.status == "delivered" and message.attempts == 1 and message.delivered_at


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_transaction_leaves_no_message_and_sends_nothing():
    with pytest.raises(RuntimeError), transaction.atomic():
        outbox.outbox_emit(topic="tests.unit", payload={"n": 2}, now=timezone.now())
        raise RuntimeError("business rule failed")
    assert not OutboxMessage.objects.exists()
    assert delivered == []


@pytest.mark.django_db(transaction=True)
def test_emit_outside_a_transaction_is_a_programming_error():
    with pytest.raises(RuntimeError, match=r"inside transaction\.atomic"):
        outbox.outbox_emit(topic="tests.unit", payload={}, now=timezone.now())


@pytest.mark.django_db(transaction=True)
def test_a_failing_handler_is_retried_with_backoff_then_marked_failed():
    failures["left"] = 10
    message = emit({"n": 3})
    message.refresh_from_db()
    assert message.status == "pending" and message.attempts == 1
    assert "receiver down" in message.last_error
    first_retry_at = message.next_attempt_at
    assert timedelta(seconds=14) < first_retry_at - message.created_at < timedelta(seconds=16)

    # Not due yet: nothing happens.
    assert outbox.outbox_dispatch(message_id=message.pk, now=timezone.now()) == "skipped"
    assert outbox.outbox_dispatch(message_id=message.pk, now=first_retry_at) == "retry"
    message.refresh_from_db()
    assert outbox.outbox_dispatch(message_id=message.pk, now=message.next_attempt_at) == "failed"
    message.refresh_from_db()
    assert message.status == "failed" and message.attempts == 3


@pytest.mark.django_db(transaction=True)
def test_the_sweep_redelivers_after_a_retry_comes_due():
    failures["left"] = 1
    message = emit({"n": 4})
    OutboxMessage.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    assert outbox_sweep_task() == 1
    message.refresh_from_db()
    assert message.status == "delivered" and delivered == [{"n": 4}]


@pytest.mark.django_db(transaction=True)
def test_a_lease_left_by_a_dead_worker_expires_and_the_sweep_takes_it():
    """Given a worker that claimed a message and died, when its lease runs out, then the
    sweep delivers it; while the lease holds, nobody else does."""
    now = timezone.now()
    with transaction.atomic():
        message = OutboxMessage.objects.create(
            topic="tests.unit",
            subscriber="unit",
            payload={"n": 5},
            next_attempt_at=now,
            created_at=now,
            attempts=1,
            locked_until=now + timedelta(minutes=5),
        )
    assert outbox_sweep_task() == 0
    OutboxMessage.objects.filter(pk=message.pk).update(locked_until=now - timedelta(seconds=1))
    assert outbox_sweep_task() == 1
    message.refresh_from_db()
    assert message.status == "delivered" and message.attempts == 2


@pytest.mark.django_db(transaction=True)
def test_a_late_result_from_an_expired_lease_does_not_overwrite_the_new_owner():
    now = timezone.now()
    message = OutboxMessage.objects.create(
        topic="tests.unit", subscriber="unit", payload={"n": 6}, next_attempt_at=now, created_at=now
    )
    stale = outbox._claim(message_id=message.pk, now=now)
    later = now + outbox.lease() + timedelta(seconds=1)
    assert outbox.outbox_dispatch(message_id=message.pk, now=later) == "delivered"
    failures["left"] = 1
    outbox._run(stale, now=later)  # the first worker wakes up and fails
    message.refresh_from_db()
    assert message.status == "delivered"


@pytest.mark.django_db(transaction=True)
def test_a_topic_nobody_subscribes_to_writes_nothing():
    with transaction.atomic():
        assert outbox.outbox_emit(topic="tests.nobody-listens", payload={}, now=timezone.now()) == []
    assert not OutboxMessage.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_row_whose_subscriber_is_gone_is_failed_not_retried_forever():
    now = timezone.now()
    message = OutboxMessage.objects.create(
        topic="tests.unit", subscriber="removed", payload={}, next_attempt_at=now, created_at=now
    )
    assert outbox.outbox_dispatch(message_id=message.pk, now=now) == "failed"
    message.refresh_from_db()
    assert message.status == "failed" and message.last_error == "no such subscriber"


fanned: list[tuple[str, dict]] = []


@outbox.register("tests.fan", name="first")
def _first(*, payload: dict, message: OutboxMessage) -> None:
    fanned.append(("first", payload))


@outbox.register("tests.fan", name="flaky", backoff_seconds=(5,))
def _flaky(*, payload: dict, message: OutboxMessage) -> None:
    if message.attempts == 1:
        raise ConnectionError("down once")
    fanned.append(("flaky", payload))


@outbox.register("tests.fan", name="picky", wants=lambda payload: payload.get("n") == 2)
def _picky(*, payload: dict, message: OutboxMessage) -> None:
    fanned.append(("picky", payload))


def test_a_second_subscriber_of_a_topic_is_added_not_swapped_in():
    assert {h.name for h in outbox.subscribers("tests.fan")} == {"first", "flaky", "picky"}
    with pytest.raises(ValueError, match="already subscribes"):
        outbox.register("tests.fan", name="first")(lambda **kwargs: None)


@pytest.mark.django_db(transaction=True)
def test_each_subscriber_gets_its_own_row_and_retries_alone():
    """Given three subscribers, one of which fails once and one of which wants only n=2,
    when n=1 is emitted, then two rows are written; the failing one retries without the
    other running again."""
    fanned.clear()
    with transaction.atomic():
        rows = outbox.outbox_emit(topic="tests.fan", payload={"n": 1}, now=timezone.now())
    assert sorted(r.subscriber for r in rows) == ["first", "flaky"]
    assert fanned == [("first", {"n": 1})]
    flaky = OutboxMessage.objects.get(subscriber="flaky")
    assert flaky.status == "pending" and flaky.attempts == 1
    assert outbox.outbox_dispatch(message_id=flaky.pk, now=flaky.next_attempt_at) == "delivered"
    assert fanned == [("first", {"n": 1}), ("flaky", {"n": 1})]


@pytest.mark.django_db(transaction=True)
def test_only_addresses_one_subscriber():
    fanned.clear()
    with transaction.atomic():
        rows = outbox.outbox_emit(topic="tests.fan", payload={"n": 2}, now=timezone.now(), only="picky")
    assert [r.subscriber for r in rows] == ["picky"]
    assert fanned == [("picky", {"n": 2})]


@pytest.mark.django_db(transaction=True)
def test_the_message_keeps_the_trace_id_of_its_request():
    token = set_trace_id("trace-outbox-1")
    try:
        message = emit({"n": 7})
    finally:
        reset_trace_id(token)
    assert OutboxMessage.objects.get(pk=message.pk).trace_id == "trace-outbox-1"


@pytest.fixture
def real_worker():
    """A `celery worker` process on the real Redis broker and the test database."""
    process = start_celery_worker(app="tests.worker_app", log_name="test-worker.log")
    yield process
    process.terminate()
    process.wait(timeout=20)


def _wait_for(condition, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_delivers_every_message_and_carries_the_trace_id(real_worker, settings):
    from paycenter.celery import app as celery_app
    from tests.worker_app import PROBE_TOPIC, probe_redis, record_trace

    celery_app.conf.task_always_eager = False
    redis = probe_redis()
    probe_set, trace_key = f"probe:{uuid.uuid4().hex}", f"trace:{uuid.uuid4().hex}"
    for n in range(20):
        emit({"set": probe_set, "n": n}, topic=PROBE_TOPIC)

    token = set_trace_id("trace-through-redis")
    try:
        record_trace.delay(key=trace_key)
    finally:
        reset_trace_id(token)

    assert _wait_for(lambda: redis.scard(probe_set) == 20), (ROOT / "var" / "test-worker.log").read_text()[
        -3000:
    ]
    assert _wait_for(lambda: not OutboxMessage.objects.exclude(status="delivered").exists())
    assert _wait_for(lambda: redis.get(trace_key) == b"trace-through-redis")
    redis.delete(probe_set, trace_key)
