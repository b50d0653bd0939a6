"""Start a real `celery worker` process for tests: the real Redis broker, the test database."""

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def start_celery_worker(*, app: str, log_name: str, env: dict | None = None) -> subprocess.Popen:
    from paycenter.celery import app as celery_app

    # Tasks an earlier test left on the broker (a sweep in a wait loop re-queues whatever is
    # due, again and again) would all be worked off — and skipped — before this test's own.
    celery_app.control.purge()
    url = urlsplit(os.environ["DATABASE_URL"])
    worker_env = {
        **os.environ,
        # The test database, not the one DATABASE_URL names: the worker must see the test's rows.
        "DATABASE_URL": urlunsplit(url._replace(path="/" + connection.settings_dict["NAME"])),
        "CELERY_TASK_ALWAYS_EAGER": "0",
        **(env or {}),
    }
    (ROOT / "var").mkdir(exist_ok=True)
    log = open(ROOT / "var" / log_name, "w")  # noqa: SIM115 (the process owns it)
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        app,
        "worker",
        "--pool",
        "solo",
        "--loglevel",
        "INFO",
        "--without-heartbeat",
        "--without-mingle",
        "--without-gossip",
    ]
    return subprocess.Popen(command, cwd=ROOT, env=worker_env, stdout=log, stderr=subprocess.STDOUT)


def worker_log(log_name: str) -> str:
    return (ROOT / "var" / log_name).read_text()[-3000:]
