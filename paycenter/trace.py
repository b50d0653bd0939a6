"""One trace id per request, carried into every log line and every Celery task (G4)."""

import contextvars
import logging
import re
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

TRACE_HEADER = "X-Request-Id"
_VALID_TRACE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
_trace_id: contextvars.ContextVar[str] = contextvars.ContextVar("trace_id", default="-")


def new_trace_id() -> str:
    return uuid.uuid4().hex


def get_trace_id() -> str:
    return _trace_id.get()


def set_trace_id(value: str) -> contextvars.Token:
    return _trace_id.set(value)


def reset_trace_id(token: contextvars.Token) -> None:
    _trace_id.reset(token)


def accept_trace_id(value: str | None) -> str:
    """A caller's id is kept only when it is short and plain, so it is safe in logs."""
    if value and _VALID_TRACE_ID.match(value):
        return value
    return new_trace_id()


class TraceIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        trace_id = accept_trace_id(request.headers.get(TRACE_HEADER))
        request.trace_id = trace_id
        token = set_trace_id(trace_id)
        try:
            response = self.get_response(request)
        finally:
            reset_trace_id(token)
        response[TRACE_HEADER] = trace_id
        return response


class TraceIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.trace_id = get_trace_id()
        return True


def connect_celery_signals() -> None:
    """Publishing a task copies the current trace id into its headers; running it restores it."""
    from celery.signals import before_task_publish, task_postrun, task_prerun

    @before_task_publish.connect(weak=False)
    def _put_trace_id(headers: dict | None = None, **_: object) -> None:
        if headers is not None and "trace_id" not in headers:
            headers["trace_id"] = get_trace_id()

    @task_prerun.connect(weak=False)
    def _restore_trace_id(task: object = None, **_: object) -> None:
        request = getattr(task, "request", None)
        trace_id = getattr(request, "trace_id", None) if request is not None else None
        if trace_id is None and request is not None:
            trace_id = (getattr(request, "headers", None) or {}).get("trace_id")
        if trace_id:
            task._paycenter_trace_token = set_trace_id(trace_id)  # type: ignore[attr-defined]

    @task_postrun.connect(weak=False)
    def _forget_trace_id(task: object = None, **_: object) -> None:
        token = getattr(task, "_paycenter_trace_token", None)
        if token is not None:
            task._paycenter_trace_token = None  # type: ignore[attr-defined]
            reset_trace_id(token)
