"""Balance payments through HTTP against the raw SQL floor (docs/benchmarks.md, "Payments
through HTTP (gunicorn vs pgbench)"), on PostgreSQL and Redis, in one run:

1. In-process, before any load: the SQL statements, Redis commands and single-client
   latency of ONE signed POST /api/v1/payments (balance, succeeds at once).
2. gunicorn, started here on a free port against the test database, with each worker
   configuration of BENCH_PAY_GUNICORN for BENCH_PAY_SWEEP_SECONDS; the best is then
   measured BENCH_PAY_REPEATS times for BENCH_PAY_SECONDS after BENCH_PAY_WARMUP seconds of
   warm-up, at 16 keep-alive connections (tests/bench/payments_load.py: 4 processes x 4
   threads, every request freshly signed, its own nonce, out_trade_no and Idempotency-Key,
   a random payer among BENCH_PAY_WALLETS funded wallets). TPS counts 201s only; every other
   answer is an error and must not happen. Then, on the same server, the ceilings: the same
   load sending a signed balance read and a plain GET /health (CEILINGS).
3. With py-spy installed, one more loaded window while py-spy samples every worker: where
   the server's CPU goes.
4. pgbench, same database, same 16 clients and duration, tests/bench/pgbench_payment.sql in
   both variants (merchant credit buffered / merchant row updated), repeated alike.

The CPU of the server, PostgreSQL, the generator and pgbench is measured over every window
(psutil): on a 2-core machine they all compete, and the split says why the figures are
what they are. Afterwards the ledger must verify, the money add up, and the database hold
exactly one payment per 201 — a benchmark that loses or doubles a payment is not one.

gunicorn is terminated at the end of each phase; the test database is pytest-django's,
dropped at the end of the session (kept with --reuse-db). Run with `make bench`.
"""

import http.client
import json
import logging
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections import Counter
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import pytest
from cryptography.fernet import Fernet
from django.core.cache import cache
from django.db import connection, connections
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.choices import AccountKind
from accounts.models import Account
from accounts.services import customer_get_or_create, merchant_onboard
from channels.services import merchant_channel_activate
from ledger.choices import TransactionKind, TransactionStatus
from ledger.models import Transaction
from ledger.selectors import accounts_with_pending
from ledger.services.journal import account_apply_pending
from ledger.verify import ledger_verify
from paycenter import crypto
from tests.bench.payments_load import PATH, LoadResult, Target, run_load
from tests.conftest import SignedClient
from tests.funding import fund

try:
    import psutil
except ImportError:  # the CPU split is then left out; the figures are not
    psutil = None

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "pgbench_payment.sql"

SECONDS = float(os.environ.get("BENCH_PAY_SECONDS", "20"))
WARMUP = float(os.environ.get("BENCH_PAY_WARMUP", "5"))
REPEATS = int(os.environ.get("BENCH_PAY_REPEATS", "3"))
WALLETS = int(os.environ.get("BENCH_PAY_WALLETS", "500"))
SWEEP_SECONDS = float(os.environ.get("BENCH_PAY_SWEEP_SECONDS", "10"))
PROFILE_SECONDS = float(os.environ.get("BENCH_PAY_PROFILE_SECONDS", "10"))
# sync:N = N sync workers; gthread:NxT = N workers of T threads. One entry: no sweep.
GUNICORN = os.environ.get("BENCH_PAY_GUNICORN", "sync:2,sync:3,sync:4,gthread:2x4")
PROCESSES, THREADS = 4, 4  # the generator: 16 connections
CONNECTIONS = PROCESSES * THREADS
AMOUNT_MINOR, AMOUNT = 100, "1.00"
FUNDS = 10**9  # minor units per wallet: never the limit
PGBENCH_VARIANTS = {"pgbench, merchant credit buffered": 0, "pgbench, merchant row updated": 1}
HTTP = "HTTP (gunicorn)"
# The ceilings: what a request that writes nothing reaches on the same server and machine.
CEILINGS = {"signed read (GET /accounts/{id})": "read", "GET /health (no DRF, no signature)": "health"}

_configs = [c.strip() for c in GUNICORN.split(",") if c.strip()]
TIMEOUT = int(
    300
    + len(_configs) * (SWEEP_SECONDS + WARMUP + 20) * (len(_configs) > 1)
    + REPEATS * (SECONDS + WARMUP + 5)
    + PROFILE_SECONDS
    + 30
    + REPEATS * len(PGBENCH_VARIANTS) * (SECONDS + 10)
)

pytestmark = [
    pytest.mark.bench,
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(TIMEOUT),
]


@dataclass
class Shop:
    merchant_id: int
    app_pk: int
    app_id: str
    secret: str
    mc_id: int
    hot_id: int
    wallet_ids: list[int]
    funded: int
    encryption_key: str  # the app secret is encrypted at rest: gunicorn needs the same key


@dataclass
class Run:
    tps: float
    p50: float  # ms
    p95: float
    p99: float
    errors: int
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds per transaction, by who
    foreign: str = ""  # the busiest other processes of the window, if any


@dataclass
class Report:
    lines: list[str] = field(default_factory=list)
    runs: dict[str, list[Run]] = field(default_factory=dict)
    sweep: dict[str, Run] = field(default_factory=dict)

    def note(self, line: str) -> None:
        self.lines.append(line)
        print(line, flush=True)


# --- the shop: one merchant, its balance channel, many funded wallets --------------------


@pytest.fixture
def encryption_key(settings):
    """A fresh Fernet key for this process and the gunicorn it starts."""
    key = Fernet.generate_key().decode()
    settings.PAYCENTER_ENCRYPTION_KEYS = [key]
    crypto._fernet.cache_clear()
    yield key
    crypto._fernet.cache_clear()  # settings are restored after this fixture


@pytest.fixture
def shop(transactional_db, encryption_key) -> Shop:
    if connection.vendor != "postgresql":
        pytest.fail("This benchmark measures PostgreSQL; set DATABASE_URL (make bench does).")
    if not os.environ.get("REDIS_URL"):
        pytest.fail("gunicorn workers share nonces through Redis; set REDIS_URL (make bench does).")
    now = timezone.now()
    merchant, app, secret = merchant_onboard(name="Bench Shop", actor="bench", now=now)
    mc = merchant_channel_activate(merchant_id=merchant.pk, channel="balance", actor="bench", now=now)
    hot = merchant.accounts.get(kind=AccountKind.MERCHANT_SETTLEMENT)
    assert hot.buffered
    wallet_ids = []
    for n in range(WALLETS):  # all wallets first: their ids are contiguous, for pgbench
        customer, _ = customer_get_or_create(merchant_id=merchant.pk, external_id=f"payer-{n}", now=now)
        wallet_ids.append(customer.accounts.get(currency="CNY").pk)
    assert wallet_ids == list(range(wallet_ids[0], wallet_ids[0] + WALLETS)), "wallet ids not contiguous"
    assert hot.pk < wallet_ids[0], "pgbench's direct variant locks the merchant first, as the lower id"
    for wallet_id in wallet_ids:
        fund(account_id=wallet_id, amount_minor=FUNDS)
    return Shop(
        merchant_id=merchant.pk,
        app_pk=app.pk,
        app_id=app.app_id,
        secret=secret,
        mc_id=mc.pk,
        hot_id=hot.pk,
        wallet_ids=wallet_ids,
        funded=FUNDS * WALLETS,
        encryption_key=encryption_key,
    )


def _target(shop: Shop, port: int, kind: str = "pay") -> Target:
    return Target(
        kind=kind,
        host="127.0.0.1",
        port=port,
        app_id=shop.app_id,
        secret=shop.secret,
        wallet_ids=tuple(shop.wallet_ids),
        amount=AMOUNT,
    )


# --- CPU accounting ------------------------------------------------------------------------


def _tree_cpu(root: "psutil.Process") -> float:
    """CPU seconds of a process, its live descendants and every child it has reaped (so a
    PostgreSQL backend or gunicorn worker that exited between two snapshots still counts)."""
    total = 0.0
    try:
        times = root.cpu_times()
        total += times.user + times.system + times.children_user + times.children_system
        for child in root.children(recursive=True):
            try:
                times = child.cpu_times()
                total += times.user + times.system
            except psutil.Error:
                pass
    except psutil.Error:
        pass
    return total


SERVERS: dict[str, int] = {}  # "postgres" / "redis": the pid of the server this test talks to


def _find_servers() -> None:
    """The postmaster behind our connection and the Redis behind our cache, when they run
    on this machine (several may: the machine's and an embedded one). Called once, early:
    the generator forks later, with no connection open."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    if psutil is None:
        return
    with suppress(psutil.Error):  # a remote server's pid means nothing here: check the name
        proc = psutil.Process(backend)
        if "postgres" in proc.name() or "postgres" in " ".join(proc.cmdline()):
            SERVERS["postgres"] = proc.ppid()
    with suppress(Exception):
        pid = int(cache.client.get_client(write=True).info("server")["process_id"])
        if "redis" in psutil.Process(pid).name():
            SERVERS["redis"] = pid


def _server(name: str) -> "psutil.Process | None":
    with suppress(psutil.Error, KeyError):
        return psutil.Process(SERVERS[name])
    return None


class CpuMeter:
    """CPU seconds spent by the server, PostgreSQL, Redis and the whole machine between two
    edges, and the busiest processes that are none of these nor ours (a shared machine)."""

    def __init__(self, server_pid: int | None = None) -> None:
        self.server = psutil.Process(server_pid) if psutil and server_pid else None
        self.postgres = _server("postgres") if psutil else None
        self.redis = _server("redis") if psutil else None
        self.marks: dict[str, dict[str, float]] = {}
        self.processes: dict[str, dict[int, tuple[str, float]]] = {}
        self.ours: set[int] = set()

    def _sample(self) -> dict[str, float]:
        sample = {"wall": time.monotonic()}
        if psutil is None:
            return sample
        machine = psutil.cpu_times()
        busy = ("user", "nice", "system", "irq", "softirq", "steal")
        sample["machine"] = sum(getattr(machine, name, 0.0) for name in busy)
        if self.server is not None:
            sample["gunicorn"] = _tree_cpu(self.server)
        if self.postgres is not None:
            sample["postgres"] = _tree_cpu(self.postgres)
        if self.redis is not None:
            sample["redis"] = _tree_cpu(self.redis)
        return sample

    def _processes(self) -> dict[int, tuple[str, float]]:
        found = {}
        for proc in psutil.process_iter(["name", "cpu_times"]):
            times = proc.info["cpu_times"]
            if times is not None:
                found[proc.pid] = (proc.info["name"], times.user + times.system)
        return found

    def _ours(self) -> set[int]:
        """This process and its children (generator, pgbench, py-spy), the server, the
        database and Redis with theirs."""
        ours = {os.getpid()}
        for root in (psutil.Process(), self.server, self.postgres, self.redis):
            if root is not None:
                with suppress(psutil.Error):
                    ours |= {root.pid} | {child.pid for child in root.children(recursive=True)}
        return ours

    def __call__(self, edge: str) -> None:
        self.marks[edge] = self._sample()
        if psutil is not None:
            self.processes[edge] = self._processes()
            if edge == "end":  # before pgbench and its backends exit
                self.ours = self._ours()

    def spent(self) -> dict[str, float]:
        start, end = self.marks["start"], self.marks["end"]
        return {key: end[key] - start[key] for key in end if key in start}

    def foreign(self, top: int = 3) -> str:
        """The busiest processes of the window that are not the measured parties."""
        if psutil is None or "end" not in self.processes:
            return ""
        ours = self.ours
        start, end = self.processes["start"], self.processes["end"]
        deltas = [
            (cpu - start[pid][1], name, pid)
            for pid, (name, cpu) in end.items()
            if pid in start and pid not in ours and cpu - start[pid][1] > 0.05
        ]
        wall = self.spent()["wall"]
        return ", ".join(f"{name}[{pid}] {cpu / wall:.0%}" for cpu, name, pid in sorted(deltas)[::-1][:top])


def _cpu_split(spent: dict[str, float], transactions: int, extra: dict[str, float]) -> dict[str, float]:
    """CPU seconds per transaction: each measured party, and what is left of the machine's."""
    split = {k: v for k, v in {**spent, **extra}.items() if k not in {"wall", "machine"}}
    if "machine" in spent:
        split["other"] = max(0.0, spent["machine"] - sum(split.values()))
        split["machine"] = spent["machine"]
    return {k: v / max(transactions, 1) for k, v in split.items()}


# --- gunicorn ------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _database_url() -> str:
    s = connection.settings_dict
    auth = quote(s.get("USER") or "", safe="")
    if s.get("PASSWORD"):
        auth += ":" + quote(s["PASSWORD"], safe="")
    host = quote(s.get("HOST") or "", safe="")
    port = f":{s['PORT']}" if s.get("PORT") else ""
    return f"postgres://{auth}@{host}{port}/{quote(s['NAME'], safe='')}"


def _gunicorn_args(config: str) -> list[str]:
    kind, _, size = config.partition(":")
    if kind == "sync":
        return ["--worker-class", "sync", "--workers", size]
    if kind == "gthread":
        workers, _, threads = size.partition("x")
        return ["--worker-class", "gthread", "--workers", workers, "--threads", threads]
    raise ValueError(f"BENCH_PAY_GUNICORN: {config!r} is neither sync:N nor gthread:NxT")


def _get(port: int, path: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


@contextmanager
def gunicorn(config: str, shop: Shop, log: Path):
    """gunicorn with `config` on a free port against the test database; terminated after."""
    port = _free_port()
    binary = Path(sys.executable).parent / "gunicorn"
    command = [str(binary), "paycenter.wsgi", "--bind", f"127.0.0.1:{port}", *_gunicorn_args(config)]
    command += ["--timeout", "60", "--graceful-timeout", "10", "--keep-alive", "5", "--backlog", "2048"]
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "REDIS_URL": os.environ["REDIS_URL"],
        "SECRET_KEY": secrets.token_urlsafe(50),
        "PAYCENTER_ENCRYPTION_KEYS": shop.encryption_key,
        "CELERY_TASK_ALWAYS_EAGER": "1",
        "DEBUG": "0",
        "DJANGO_SETTINGS_MODULE": "paycenter.settings",
    }
    env.pop("TEST_DB_SUFFIX", None)  # the URL names the test database already
    with open(log, "ab") as out:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, f"gunicorn {config} exited with {proc.returncode}; see {log}"
            try:
                if _get(port, "/health") == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, f"gunicorn {config} did not answer /health; see {log}"
            time.sleep(0.2)
        yield proc, port
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def _http_run(
    shop: Shop, proc: subprocess.Popen, port: int, seconds: float, kind: str = "pay"
) -> tuple[LoadResult, Run]:
    connections.close_all()  # the generator forks: no child may inherit our socket
    meter = CpuMeter(proc.pid)
    result = run_load(
        _target(shop, port, kind),
        seconds=seconds,
        warmup=WARMUP,
        processes=PROCESSES,
        threads=THREADS,
        on_window=meter,
    )
    summary = result.summary()
    run = Run(
        tps=summary["tps"],
        p50=summary["p50_ms"],
        p95=summary["p95_ms"],
        p99=summary["p99_ms"],
        errors=summary["errors"],
        cpu=_cpu_split(meter.spent(), result.ok, {"generator": result.client_cpu}),
        foreign=meter.foreign(),
    )
    return result, run


# --- pgbench -------------------------------------------------------------------------------


def _pgbench_binary() -> str:
    candidates = [os.environ.get("PGBENCH"), shutil.which("pgbench")]
    try:
        import pgserver  # the embedded server of tests.services ships its own

        candidates.append(str(Path(pgserver.__file__).parent / "pginstall" / "bin" / "pgbench"))
    except ImportError:
        pass
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    pytest.fail("pgbench not found: install postgresql-client or set PGBENCH=/path/to/pgbench")


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))]


def _pgbench(shop: Shop, direct: int, log_dir: Path) -> tuple[Run, int]:
    """One pgbench run of the payment script; while it runs, the merchant's buffer is folded
    in about once a second by the same code the eager task runs for the HTTP side."""
    for old in log_dir.glob("pgb.*"):
        old.unlink()
    s = connection.settings_dict
    command = [_pgbench_binary(), "-n", "-f", str(SCRIPT), "-c", str(CONNECTIONS), "-j", "2"]
    command += ["-T", str(int(SECONDS)), "-l", f"--log-prefix={log_dir / 'pgb'}"]
    variables = {
        "merchant": shop.merchant_id,
        "app": shop.app_pk,
        "mc": shop.mc_id,
        "hot": shop.hot_id,
        "wallet0": shop.wallet_ids[0],
        "wallets": len(shop.wallet_ids),
        "amount": AMOUNT_MINOR,
        "direct": direct,
    }
    for name, value in variables.items():
        command += ["-D", f"{name}={value}"]
    for flag, key in (("-h", "HOST"), ("-p", "PORT"), ("-U", "USER")):
        if s.get(key):
            command += [flag, str(s[key])]
    command.append(s["NAME"])
    env = {**os.environ, "PGPASSWORD": s.get("PASSWORD") or ""}
    meter = CpuMeter()
    children_before = os.times()
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True}
    with subprocess.Popen(command, env=env, **pipes) as proc:
        time.sleep(1)  # clients connected: the window opens
        meter("start")
        while proc.poll() is None and meter.marks["start"]["wall"] + SECONDS - 2 > time.monotonic():
            time.sleep(1)
            if not direct:
                account_apply_pending(account_id=shop.hot_id)
        meter("end")
        out, err = proc.communicate(timeout=SECONDS + 60)
    children_after = os.times()
    assert proc.returncode == 0, f"pgbench direct={direct} failed:\n{out}\n{err}"
    tps = re.search(r"tps = ([\d.]+) \(without initial connection time\)", out)
    processed = re.search(r"number of transactions actually processed: (\d+)", out)
    failed = re.search(r"number of failed transactions: (\d+)", out)
    assert tps and processed, out
    errors = int(failed.group(1)) if failed else 0
    latencies = []
    for path in log_dir.glob("pgb.*"):
        for line in path.read_text().splitlines():
            latencies.append(int(line.split()[2]) / 1000)  # µs → ms
    pgbench_cpu = (children_after.children_user + children_after.children_system) - (
        children_before.children_user + children_before.children_system
    )
    spent = meter.spent()
    window = spent["wall"]
    share = window / SECONDS  # pgbench's own CPU is for the whole run; scale it to the window
    txns_in_window = float(tps.group(1)) * window
    run = Run(
        tps=float(tps.group(1)),
        p50=_percentile(latencies, 50),
        p95=_percentile(latencies, 95),
        p99=_percentile(latencies, 99),
        errors=errors,
        cpu=_cpu_split(spent, round(txns_in_window), {"pgbench": pgbench_cpu * share}),
        foreign=meter.foreign(),
    )
    return run, int(processed.group(1))


# --- one request, in-process: statements, Redis commands, single-client latency ------------


def _redis_commands() -> int:
    client = cache.client.get_client(write=True)
    return int(client.info("stats")["total_commands_processed"])


def _one_request(shop: Shop, report: Report) -> int:
    """Returns the number of payments it created (for the final count)."""
    api = SignedClient(app_id=shop.app_id, secret=shop.secret, client=Client())

    def pay(n: int):
        out_trade_no = f"inproc-{n}-{secrets.token_hex(4)}"
        data = {
            "out_trade_no": out_trade_no,
            "amount": AMOUNT,
            "subject": "bench",
            "channel": "balance",
            "payer_account_id": shop.wallet_ids[n % len(shop.wallet_ids)],
        }
        response = api.post(PATH, data, idempotency_key=f"k-{out_trade_no}")
        assert response.status_code == 201, response.content
        assert response.json()["status"] == "succeeded"

    pay(0)  # warm: imports, connection, caches
    cache.set(f"ledger:apply:{shop.hot_id}", 1, timeout=30)  # the debounced apply is not per request
    commands = _redis_commands()
    with CaptureQueriesContext(connection) as queries:
        pay(1)
    redis_commands = _redis_commands() - commands - 1  # the INFO itself
    kinds = Counter(q["sql"].split(None, 1)[0].upper() for q in queries.captured_queries)
    by_kind = ", ".join(f"{n} {k}" for k, n in kinds.most_common())
    report.note(
        f"one payment: {len(queries)} SQL statements ({by_kind}),"
        f" {redis_commands} Redis commands (eager Celery, the debounced buffer apply excluded)"
    )
    for q in queries.captured_queries:
        print(f"    {q['time']}s  {q['sql'][:150]}")
    started, n = time.perf_counter(), 200
    for i in range(n):
        pay(2 + i)
    report.note(
        f"one client, in-process (Django test client, no HTTP server): "
        f"{(time.perf_counter() - started) / n * 1e3:.2f} ms per payment"
    )
    return 2 + n


# --- py-spy: where a loaded worker's CPU goes -----------------------------------------------

# Inclusive shares: a sample counts for every rule one of its frames matches. py-spy names a
# frame "function (path:line)", the path relative to its sys.path entry.
F = r"\((?:.*/)?"  # the start of a frame's path
PROFILE_RULES = (
    ("request signature check (app lookup, HMAC, nonce)", rf"_authenticate {F}paycenter/api/auth\.py"),
    ("  app credentials query", r"app_credentials_get "),
    ("Redis SET NX (the nonce, the buffer-apply debounce)", rf"\badd {F}django_redis/"),
    ("Idempotency-Key claim + complete", r"idempotency_(claim|complete) "),
    ("DRF input validation (PaymentInput)", rf"is_valid {F}rest_framework/serializers"),
    ("payment_create (the use case, after-commit eager tasks included)", r"payment_create "),
    (
        "  checks: attempt_existing + route",
        rf"(attempt_existing {F}ledger/services/records|route {F}channels/services)",
    ),
    ("  one local transaction (accounts, record, journal, outbox row)", r"_pay_from_balance_commit "),
    ("    journal_post (entry, payer debit, postings)", r"journal_post "),
    ("  outbox dispatch (eager Celery after commit: webhook skipped)", r"outbox_dispatch "),
    ("  buffered apply (eager, debounced to ~1/s)", r"apply_pending "),
    ("response render + JSON", r"(payment_data|render) \("),
    ("logging (INFO lines of eager tasks, webhooks)", rf"{F}logging/"),
    ("psycopg (client side of every statement)", rf"{F}psycopg/"),
    ("Django ORM: building SQL (as_sql)", r"as_sql \("),
    ("Django ORM: rows to model instances", rf"(from_db|__init__) {F}django/db/models/base\.py"),
    (
        "transaction.atomic enter/exit (on_commit hooks, i.e. the eager tasks, included)",
        rf"__(enter|exit)__ {F}django/db/transaction\.py",
    ),
    ("Celery eager apply_async (task body included)", rf"apply_async {F}celery/"),
    ("outside Django (gunicorn: accept, parse, write)", rf"__call__ {F}django/core/handlers/wsgi\.py", True),
)
SITE_PACKAGES = Path(psutil.__file__).resolve().parents[1] if psutil else None


def _leaf_package(frame: str) -> str:
    """Who the innermost frame belongs to: a distribution, the project, or the stdlib."""
    match = re.search(r"\((.*?):\d+\)", frame)
    path = match.group(1) if match else frame
    if "site-packages/" in path:
        path = path.split("site-packages/")[1]
    first = path.split("/")[0]
    if (ROOT / first).is_dir() or path.startswith(str(ROOT)):
        return "project code"
    if SITE_PACKAGES and "/" in path and (SITE_PACKAGES / first).is_dir():
        return first
    return "stdlib/interpreter"


def _profile(shop: Shop, proc: subprocess.Popen, port: int, tmp: Path, report: Report) -> int:
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not os.access(spy, os.X_OK):
        report.note("profile: py-spy not installed (pip install py-spy); skipped")
        return 0
    raw = tmp / "profile.txt"
    # --gil: only samples holding the GIL, i.e. Python running on a CPU, not a worker waiting
    # for PostgreSQL (without it, threads woken but not yet scheduled count as busy).
    command = [spy, "record", "--pid", str(proc.pid), "--subprocesses", "--gil", "--rate", "100"]
    command += ["--format", "raw", "--duration", str(int(PROFILE_SECONDS)), "--output", str(raw)]
    connections.close_all()
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT) as spy_proc:
        result = run_load(
            _target(shop, port),
            seconds=PROFILE_SECONDS,
            warmup=1,
            processes=PROCESSES,
            threads=THREADS,
        )
        out, _ = spy_proc.communicate(timeout=60)
    if spy_proc.returncode != 0 or not raw.exists():
        report.note(f"profile: py-spy failed ({spy_proc.returncode}): {out.decode(errors='replace')[-300:]}")
        return result.created
    stacks: list[tuple[list[str], int]] = []
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            stacks.append((stack.split(";"), int(count)))
    total = sum(count for _, count in stacks) or 1
    report.note(
        f"profile: py-spy --gil, {total} samples of the workers' Python CPU over {PROFILE_SECONDS:.0f} s"
        f" of load ({result.ok / PROFILE_SECONDS:.0f} payments/s while sampled); inclusive shares:"
    )
    for label, pattern, *negate in PROFILE_RULES:
        rule = re.compile(pattern)
        hits = sum(count for frames, count in stacks if any(rule.search(f) for f in frames) != bool(negate))
        report.note(f"  {hits / total:6.1%}  {label}")
    by_package = Counter()
    for frames, count in stacks:
        by_package[_leaf_package(frames[-1])] += count
    report.note(
        "profile: self time by package: "
        + ", ".join(f"{package} {n / total:.0%}" for package, n in by_package.most_common(8))
    )
    leaves = Counter()
    for frames, count in stacks:
        leaves[frames[-1]] += count
    report.note("profile: hottest leaf frames:")
    for frame, n in leaves.most_common(12):
        report.note(f"  {n / total:6.1%}  {frame[:140]}")
    return result.created


# --- the test ------------------------------------------------------------------------------


def _median_run(runs: list[Run]) -> Run:
    cpu_keys = {k for run in runs for k in run.cpu}
    return Run(
        tps=statistics.median(r.tps for r in runs),
        p50=statistics.median(r.p50 for r in runs),
        p95=statistics.median(r.p95 for r in runs),
        p99=statistics.median(r.p99 for r in runs),
        errors=sum(r.errors for r in runs),
        cpu={k: statistics.median(r.cpu.get(k, 0.0) for r in runs) for k in cpu_keys},
    )


def _fmt_cpu(cpu: dict[str, float]) -> str:
    order = ["gunicorn", "generator", "pgbench", "postgres", "redis", "other", "machine"]
    return ", ".join(f"{k} {cpu[k] * 1e3:.2f}" for k in order if k in cpu)


def _others(run: Run) -> str:
    return f"  [busy others: {run.foreign}]" if run.foreign else ""


def _deadlocks() -> int:
    with connection.cursor() as cursor:
        if connection.pg_version >= 150000:
            cursor.execute("SELECT pg_stat_force_next_flush()")
        cursor.execute("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")
        return int(cursor.fetchone()[0])


def test_payments_http_vs_pgbench(shop, tmp_path):
    report = Report()
    trace = logging.getLogger("celery.app.trace")
    level = trace.level
    trace.setLevel(logging.WARNING)  # one INFO line per eager task in-process
    try:
        _run_everything(shop, tmp_path, report)
    finally:
        trace.setLevel(level)


def _run_everything(shop: Shop, tmp_path: Path, report: Report) -> None:
    report.note(
        f"\nPayments benchmark: {os.cpu_count()} CPUs, load average before: "
        + "/".join(f"{x:.2f}" for x in os.getloadavg())
        + f"; {WALLETS} wallets, {CONNECTIONS} connections, {REPEATS} x {SECONDS:.0f} s"
        f" after {WARMUP:.0f} s warm-up"
    )
    _find_servers()
    created = _one_request(shop, report)
    deadlocks = _deadlocks()
    log = tmp_path / "gunicorn.log"

    # 1. Which worker configuration serves a 2-core box best.
    configs = _configs
    if len(configs) > 1:
        for config in configs:
            with gunicorn(config, shop, log) as (proc, port):
                result, run = _http_run(shop, proc, port, SWEEP_SECONDS)
            created += result.created
            report.sweep[config] = run
            report.note(
                f"sweep {config:<12} {run.tps:7.1f} TPS  p50 {run.p50:6.1f}  p99 {run.p99:6.1f} ms"
                f"  errors {run.errors}  connects {result.connects}"
                f"  CPU ms/txn: {_fmt_cpu(run.cpu)}{_others(run)}"
            )
            assert run.errors == 0, result.messages
    best = max(configs, key=lambda c: report.sweep[c].tps) if len(configs) > 1 else configs[0]
    report.note(f"gunicorn configuration measured: {best}")

    # 2. The measured HTTP runs, then the profile, on one server.
    with gunicorn(best, shop, log) as (proc, port):
        for repeat in range(REPEATS):
            result, run = _http_run(shop, proc, port, SECONDS)
            created += result.created
            report.runs.setdefault(HTTP, []).append(run)
            report.note(
                f"http    run {repeat + 1}: {run.tps:7.1f} TPS  p50 {run.p50:6.1f}  p95 {run.p95:6.1f}"
                f"  p99 {run.p99:6.1f} ms  errors {run.errors}  CPU ms/txn: {_fmt_cpu(run.cpu)}{_others(run)}"
            )
            assert run.errors == 0, result.messages
        for label, kind in CEILINGS.items():
            for repeat in range(REPEATS):
                result, run = _http_run(shop, proc, port, SECONDS, kind)
                report.runs.setdefault(label, []).append(run)
                report.note(
                    f"{label} run {repeat + 1}: {run.tps:7.1f} req/s  p50 {run.p50:6.1f}"
                    f"  p99 {run.p99:6.1f} ms  errors {run.errors}"
                    f"  CPU ms/req: {_fmt_cpu(run.cpu)}{_others(run)}"
                )
                assert run.errors == 0, result.messages
        created += _profile(shop, proc, port, tmp_path, report)
    errors_logged = [
        line
        for line in log.read_text(errors="replace").splitlines()
        if re.search(r" ERROR |\[(ERROR|CRITICAL)\]|WORKER TIMEOUT", line)
    ]
    assert not errors_logged, errors_logged[:5]

    # 3. pgbench, same clients and duration, both variants interleaved.
    pgbench_txns = 0
    for repeat in range(REPEATS):
        for label, direct in PGBENCH_VARIANTS.items():
            account_apply_pending(account_id=shop.hot_id)  # untimed: each run starts with an empty buffer
            run, txns = _pgbench(shop, direct, tmp_path)
            pgbench_txns += txns
            report.runs.setdefault(label, []).append(run)
            report.note(
                f"{label} run {repeat + 1}: {run.tps:7.1f} TPS  p50 {run.p50:6.2f}  p95 {run.p95:6.2f}"
                f"  p99 {run.p99:6.2f} ms  errors {run.errors}  CPU ms/txn: {_fmt_cpu(run.cpu)}{_others(run)}"
            )
            assert run.errors == 0

    # 4. Honesty: nothing lost, nothing doubled, the ledger proves itself.
    report.note(f"deadlocks reported by PostgreSQL during the runs: {_deadlocks() - deadlocks}")
    payments = Transaction.objects.filter(kind=TransactionKind.PAYMENT)
    ours = payments.exclude(serial__startswith="PGB")
    assert ours.count() == created, "one payment per 201, no more, no less"
    assert ours.filter(status=TransactionStatus.SUCCEEDED).count() == created
    assert payments.filter(serial__startswith="PGB").count() == pgbench_txns
    for account_id in accounts_with_pending():
        account_apply_pending(account_id=account_id)
    verified = ledger_verify()
    assert verified.clean, "\n".join(verified.lines())
    totals = dict(Account.objects.values_list("pk", "total_minor"))
    wallets = sum(totals[pk] for pk in shop.wallet_ids)
    assert wallets + totals[shop.hot_id] == shop.funded
    assert totals[shop.hot_id] == (created + pgbench_txns) * AMOUNT_MINOR
    _summary(report)


def _summary(report: Report) -> None:
    medians = {label: _median_run(runs) for label, runs in report.runs.items()}
    lines = [
        "",
        f"| run (median of {REPEATS} x {SECONDS:.0f} s, {CONNECTIONS} connections) | TPS | p50 ms | p95 ms"
        " | p99 ms | errors |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for label, run in medians.items():
        lines.append(
            f"| {label} | {run.tps:.0f} | {run.p50:.2f} | {run.p95:.2f} | {run.p99:.2f} | {run.errors} |"
        )
    http = medians.get(HTTP)
    for label in PGBENCH_VARIANTS:
        if http and label in medians:
            ratio = http.tps / medians[label].tps
            verdict = "met" if ratio >= 0.6 else "NOT met"
            lines.append(f"HTTP / {label}: {ratio:.1%} (target >= 60%: {verdict})")
    floor = medians.get(next(iter(PGBENCH_VARIANTS)))
    for label in CEILINGS:
        if floor and label in medians:
            lines.append(f"{label} / pgbench buffered: {medians[label].tps / floor.tps:.1%}")
            if http:
                lines.append(f"HTTP payment / {label}: {http.tps / medians[label].tps:.1%}")
    lines.append("CPU ms per transaction (median):")
    for label, run in medians.items():
        lines.append(f"  {label}: {_fmt_cpu(run.cpu)}")
    lines.append(
        "all runs: "
        + json.dumps({label: [round(r.tps, 1) for r in runs] for label, runs in report.runs.items()})
    )
    for line in lines:
        report.note(line)
