import logging

import pytest

from paycenter.trace import TraceIdFilter, get_trace_id, reset_trace_id, set_trace_id

pytestmark = pytest.mark.django_db


def test_a_request_gets_a_trace_id_when_it_brings_none(client):
    response = client.get("/health")
    assert len(response["X-Request-Id"]) == 32


def test_a_plain_caller_trace_id_is_kept(client):
    response = client.get("/health", headers={"X-Request-Id": "order-42.retry-1"})
    assert response["X-Request-Id"] == "order-42.retry-1"


@pytest.mark.parametrize("bad", ["has space", "x" * 65, "new\nline", "ü"])
def test_an_unsafe_trace_id_is_replaced(client, bad):
    response = client.get("/health", headers={"X-Request-Id": bad})
    assert response["X-Request-Id"] != bad


def test_log_records_carry_the_trace_id():
    token = set_trace_id("trace-abc")
    try:
        record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello", None, None)
        TraceIdFilter().filter(record)
        assert record.trace_id == "trace-abc"
    finally:
        reset_trace_id(token)
    assert get_trace_id() == "-"


def test_publishing_a_task_puts_the_trace_id_in_its_headers():
    from celery.signals import before_task_publish

    token = set_trace_id("trace-into-task")
    try:
        headers = {}
        before_task_publish.send(sender="any.task", headers=headers, body=None)
        assert headers["trace_id"] == "trace-into-task"
    finally:
        reset_trace_id(token)
