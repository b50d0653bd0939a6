"""RELIABILITY 11: a real Celery worker is killed while it delivers webhooks; a new one
finishes the job. Every event arrives at least once and the outbox is left empty."""

import signal
import subprocess
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.db import transaction
from django.utils import timezone

from accounts.services import app_update
from paycenter.celery import app as celery_app
from paycenter.models import OutboxMessage
from paycenter.outbox import outbox_emit
from paycenter.tasks import outbox_sweep_task
from tests.workers import start_celery_worker

ROOT = Path(__file__).resolve().parents[2]
EVENTS = 30


class SlowReceiver:
    """An app's notify endpoint that takes a while to answer, so a kill lands mid-delivery."""

    def __init__(self, delay: float) -> None:
        self.event_ids: list[str] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                time.sleep(delay)
                receiver.event_ids.append(self.headers["X-Paycenter-Event-Id"])
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def start_worker(log_name: str) -> subprocess.Popen:
    return start_celery_worker(
        app="paycenter",
        log_name=log_name,
        env={"ALLOW_PRIVATE_NOTIFY_URLS": "1", "OUTBOX_LEASE_SECONDS": "2"},
    )


def wait_until(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


@pytest.mark.django_db(transaction=True)
def test_killing_the_worker_mid_delivery_loses_no_webhook(onboarded, settings):
    _, app, _ = onboarded
    settings.ALLOW_PRIVATE_NOTIFY_URLS = True
    settings.OUTBOX_LEASE_SECONDS = 2
    receiver = SlowReceiver(delay=0.2)
    app_update(
        app_pk=app.pk,
        name=app.name,
        notify_url=receiver.url,
        ip_allowlist="",
        enabled=True,
        actor="t",
        now=timezone.now(),
    )
    celery_app.conf.task_always_eager = False
    first = start_worker("kill-worker-1.log")
    second = None
    try:
        ids = [f"evt_{uuid.uuid4().hex}" for _ in range(EVENTS)]
        with transaction.atomic():
            for event_id in ids:
                outbox_emit(
                    topic="events",
                    payload={
                        "id": event_id,
                        "app_pk": app.pk,
                        "type": "test.event",
                        "created_at": timezone.now().isoformat(),
                        "data": {},
                    },
                    now=timezone.now(),
                )
        assert wait_until(lambda: len(receiver.event_ids) >= 5, timeout=60), (
            "the first worker delivered nothing"
        )
        first.send_signal(signal.SIGKILL)  # mid-delivery: no clean shutdown, no ack
        first.wait(timeout=10)
        in_flight = OutboxMessage.objects.filter(status="pending", locked_until__isnull=False).count()

        second = start_worker("kill-worker-2.log")

        def all_delivered() -> bool:
            outbox_sweep_task()  # what beat does every 15 s: re-queue everything due
            return not OutboxMessage.objects.exclude(status="delivered").exists()

        assert wait_until(all_delivered, timeout=120), (ROOT / "var" / "kill-worker-2.log").read_text()[
            -2000:
        ]
        assert set(ids) <= set(receiver.event_ids)
        print(
            f"killed with {in_flight} message(s) in flight; "
            f"{len(receiver.event_ids)} deliveries for {EVENTS} events"
        )
    finally:
        for worker in (first, second):
            if worker is not None and worker.poll() is None:
                worker.terminate()
                worker.wait(timeout=20)
        receiver.server.shutdown()
        celery_app.control.purge()  # the sweeps above queued copies nobody will work off
