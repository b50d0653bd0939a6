"""`manage.py run_periodic`: the embedded default's beat. Without Redis there is no Celery
worker or beat; this runs the beat schedule's tasks in its own process (each task's code
runs here, eagerly), so that lost notifications are queried, expired payments closed,
webhooks retried and hot accounts applied under `make run` too."""

import logging
import signal
import threading

from celery.schedules import crontab, maybe_schedule
from django.conf import settings
from django.core.management.base import BaseCommand

from paycenter.celery import app

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Run CELERY_BEAT_SCHEDULE's tasks in this process (the embedded default has no beat)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--once", action="store_true", help="run every task once, then exit")

    def handle(self, *args: object, once: bool, **options: object) -> None:
        app.loader.import_default_modules()
        # One line per task every few seconds would drown the other processes' output.
        logging.getLogger("celery.app.trace").setLevel(logging.WARNING)
        entries = {
            name: (app.tasks[entry["task"]], maybe_schedule(entry["schedule"], app=app))
            for name, entry in settings.CELERY_BEAT_SCHEDULE.items()
        }
        done = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: done.set())
        # Intervals run at start; a crontab (the nightly ledger proof) only at its hour.
        last_run = {
            name: app.now() if isinstance(when, crontab) and not once else None
            for name, (_, when) in entries.items()
        }
        self.stdout.write(f"Running {len(entries)} periodic tasks in-process. Quit with Ctrl-C.")
        self.stdout.flush()
        while not done.is_set():
            for name, (task, when) in entries.items():
                if last_run[name] is not None and not when.is_due(last_run[name]).is_due:
                    continue
                last_run[name] = app.now()
                try:
                    task.apply(throw=True)
                except Exception:
                    # One failing task must not stop the others; it runs again when due.
                    logger.exception("run_periodic: %s failed", name)
            if once:
                return
            done.wait(1)
