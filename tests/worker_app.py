"""A Celery app for tests that start a real `celery worker`: the project's app plus two
probes that leave their traces in Redis, where the test process can read them."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "paycenter.settings")
django.setup()

import redis  # noqa: E402
from django.conf import settings  # noqa: E402

from paycenter.celery import app  # noqa: E402
from paycenter.outbox import register  # noqa: E402
from paycenter.trace import get_trace_id  # noqa: E402

PROBE_TOPIC = "tests.probe"


def probe_redis() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL)


@register(PROBE_TOPIC, backoff_seconds=(1, 1, 1))
def deliver_probe(*, payload: dict, message: object) -> None:
    probe_redis().sadd(payload["set"], payload["n"])


@app.task(name="tests.record_trace")
def record_trace(*, key: str) -> None:
    probe_redis().set(key, get_trace_id(), ex=300)
