"""The README's quick start runs on the embedded default: SQLite, eager Celery, no Redis.
Real processes over real HTTP, as `make run` starts them — the sandbox platform, the
development server, seed_demo, the in-process beat — then the path a new user takes:
create a customer, recharge through the sandbox, pay from the wallet, refund, read the
statement, and `ledger_verify` proves the ledger (the SQLite journal guards included)."""

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import SignedClient
from tests.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(240)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_up(url: str, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"{url}: the process exited with {process.returncode}")
        try:
            requests.get(url, timeout=1)
            return
        except requests.ConnectionError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not come up")


class Http:
    """SignedClient's signing over real HTTP."""

    def __init__(self, base: str, credentials: dict) -> None:
        self.base = base
        self.signer = SignedClient(
            app_id=credentials["app_id"], secret=credentials["secret"], client=object()
        )

    def post(self, path: str, data: dict, *, key: str | None = None) -> requests.Response:
        body = json.dumps(data).encode()
        headers = {
            **self.signer.headers(method="POST", path=path, body=body),
            "Content-Type": "application/json",
        }
        if key:
            headers["Idempotency-Key"] = key
        return requests.post(self.base + path, data=body, headers=headers, timeout=30)

    def get(self, path: str) -> requests.Response:
        return requests.get(
            self.base + path, headers=self.signer.headers(method="GET", path=path, body=b""), timeout=30
        )


@pytest.fixture
def embedded(tmp_path):
    """The embedded default in processes of its own, with nothing but a SQLite file."""
    web_port, sandbox_port = free_port(), free_port()
    env = {
        k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "CELERY_BROKER_URL", "TEST_DB_SUFFIX"}
    }
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        DEBUG="1",
        ALLOW_PRIVATE_NOTIFY_URLS="1",
        PAYCENTER_PUBLIC_URL=f"http://127.0.0.1:{web_port}",
        SANDBOX_CHANNEL_URL=f"http://127.0.0.1:{sandbox_port}",
        DJANGO_SETTINGS_MODULE="paycenter.settings",
    )
    manage = [sys.executable, str(ROOT / "manage.py")]

    def run(*args: str) -> str:
        done = subprocess.run(
            [*manage, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    run("migrate", "--no-input")
    logs = tmp_path / "logs"
    logs.mkdir()
    processes = []

    def start(name: str, *args: str) -> subprocess.Popen:
        out = open(logs / f"{name}.log", "w")  # noqa: SIM115 (the process owns it)
        process = subprocess.Popen([*manage, *args], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        processes.append(process)
        return process

    try:
        sandbox = start(
            "sandbox", "sandbox_channel", "--port", str(sandbox_port), "--db", str(tmp_path / "sb.db")
        )
        wait_until_up(f"http://127.0.0.1:{sandbox_port}/v1/platform-key", sandbox)
        credentials = json.loads(run("seed_demo", "--json"))
        web = start("web", "runserver", "--noreload", f"127.0.0.1:{web_port}")
        wait_until_up(f"http://127.0.0.1:{web_port}/health", web)
        start("ticker", "run_periodic")
        yield {"api": Http(f"http://127.0.0.1:{web_port}", credentials), "run": run, "logs": logs}
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=10)


def test_the_quick_start_path_on_sqlite(embedded):
    api = embedded["api"]
    customer = api.post("/api/v1/customers", {"external_id": "new-user"}, key="c-1")
    assert customer.status_code == 201, customer.text
    wallet = customer.json()["accounts"][0]["id"]

    # Recharge through the sandbox: pending until the platform's signed notification lands
    recharge = api.post(
        "/api/v1/recharges",
        {
            "account_id": wallet,
            "amount": "100.00",
            "channel": "sandbox",
            "metadata": {"sandbox": {"outcome": "succeed"}},
        },
        key="r-1",
    )
    assert recharge.status_code == 201, recharge.text
    assert recharge.json()["status"] in {"pending", "succeeded"}  # the notification may win the race
    recharged = f"/api/v1/recharges/{recharge.json()['id']}"
    wait_for(lambda: api.get(recharged).json()["status"] == "succeeded", timeout=20)
    assert api.get(f"/api/v1/accounts/{wallet}").json()["available"] == "100.00"

    # Pay from the wallet, then refund part of it
    paid = api.post(
        "/api/v1/payments",
        {
            "out_trade_no": "qs-1",
            "amount": "30.00",
            "subject": "Tea",
            "channel": "balance",
            "payer_account_id": wallet,
        },
        key="p-1",
    )
    assert paid.status_code == 201 and paid.json()["status"] == "succeeded", paid.text
    refund = api.post(f"/api/v1/payments/{paid.json()['id']}/refunds", {"amount": "10.00"}, key="f-1")
    assert refund.status_code == 201 and refund.json()["status"] == "succeeded", refund.text
    assert api.get(f"/api/v1/accounts/{wallet}").json()["available"] == "80.00"

    # The statement: every line with its balance after, newest first
    lines = api.get(f"/api/v1/accounts/{wallet}/statement").json()["lines"]
    assert [(line["reason"], line["amount"], line["balance_after"]) for line in lines] == [
        ("refund", "10.00", "80.00"),
        ("payment", "30.00", "70.00"),
        ("recharge", "100.00", "100.00"),
    ]
    # The merchant's hot account was applied without a Celery worker: no blank balance-after
    shell = embedded["run"]
    unapplied = "from ledger.models import Posting; print(Posting.objects.filter(applied=False).count())"
    assert shell("shell", "--no-imports", "-c", unapplied).strip() == "0"
    # Postings are append-only on SQLite too
    delete = (
        "from django.db import DatabaseError\nfrom ledger.models import Posting\n"
        "try:\n    Posting.objects.all().delete()\nexcept DatabaseError as e:\n    print('refused', e)"
    )
    assert shell("shell", "--no-imports", "-c", delete).startswith("refused postings are append-only")
    out = shell("ledger_verify")
    assert "all invariants hold" in out, out
