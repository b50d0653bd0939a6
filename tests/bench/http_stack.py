"""The machinery of tests/bench/http_bench.py: a fresh database, `make up` in its own process
group, CPU time per process role, pgbench, the PostgreSQL log. No Django in here: the harness
only starts, watches and stops what it measures."""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from urllib.parse import urlsplit

import psutil
import psycopg

ROOT = Path(__file__).resolve().parents[2]
DATABASE = "paycenter_bench"  # other engineers use other databases on the same server
# The caller's shell must not turn the stack into something else than `make up` with the
# Procfile's defaults (eager Celery, other worker counts, a test database name, debug).
NOT_INHERITED = (
    "DEBUG",
    "CELERY_TASK_ALWAYS_EAGER",
    "LEDGER_APPLY_AT_ONCE",
    "TEST_DB_SUFFIX",
    "CACHE_KEY_PREFIX",
    "CELERY_BROKER_URL",
    "WEB_CONCURRENCY",
    "CELERY_CONCURRENCY",
    "DB_CONN_MAX_AGE",
    "DJANGO_SETTINGS_MODULE",
)


def ensure_wrk() -> str:
    """Debian's wrk; installed when missing (the harness runs as root on the bench machine)."""
    if found := shutil.which("wrk"):
        return found
    print("wrk is missing: apt-get install -y wrk", flush=True)
    if subprocess.run(["apt-get", "install", "-y", "wrk"], check=False).returncode != 0:
        subprocess.run(["apt-get", "update"], check=True)
        subprocess.run(["apt-get", "install", "-y", "wrk"], check=True)
    return shutil.which("wrk") or sys.exit("wrk: still not on PATH after apt-get install")


def pick_ports(low: int = 8200, high: int = 8300) -> tuple[int, int]:
    """A free web port in the lower half of the range and the sandbox's 50 above it."""
    half = (high - low) // 2
    for port in range(low, low + half):
        if _free(port) and _free(port + half):
            return port, port + half
    sys.exit(f"no free pair of ports in {low}-{high - 1}")


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("0.0.0.0", port))
        except OSError:
            return False
    return True


def bench_url(admin_url: str) -> str:
    return urlsplit(admin_url)._replace(path=f"/{DATABASE}").geturl()


def fresh_database(admin_url: str) -> int:
    """Drops and creates the bench database; returns the postmaster's pid (0 if not local)."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DATABASE}")
        backend = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
        with suppress(psutil.Error):  # while the backend still exists
            proc = psutil.Process(backend)
            if "postgres" in " ".join(proc.cmdline()):
                return proc.ppid()
    return 0  # a remote server: its CPU cannot be measured from here


def pg_query(url: str, sql: str) -> list[tuple]:
    with psycopg.connect(url, autocommit=True) as conn:
        cursor = conn.execute(sql)
        return cursor.fetchall() if cursor.description else []


def pg_log_path(admin_url: str) -> Path | None:
    """Debian's pg_ctlcluster writes the server's stderr to /var/log/postgresql/."""
    cluster = pg_query(admin_url, "SHOW cluster_name")[0][0]
    path = Path("/var/log/postgresql") / f"postgresql-{cluster.replace('/', '-')}.log"
    return path if cluster and os.access(path, os.R_OK) else None


def pg_log_deadlocks(path: Path | None, offset: int) -> int | None:
    """Deadlocks logged for the bench database since `offset` (None: no readable log)."""
    if path is None:
        return None
    with path.open("rb") as log:
        log.seek(offset)
        text = log.read().decode(errors="replace")
    return sum(1 for line in text.splitlines() if "deadlock detected" in line and f"@{DATABASE} " in line)


# --- make up -------------------------------------------------------------------------------


class Stack:
    """`make up` (checks, migrate, collectstatic, then honcho with the Procfile) in its own
    session, so that Ctrl-C on the harness does not reach it and stop() can end exactly it."""

    def __init__(self, env: dict[str, str], port: int, log: Path) -> None:
        self.env, self.port, self.log = env, port, log
        self.proc: subprocess.Popen | None = None
        self.known: dict[int, psutil.Process] = {}

    def start(self, timeout: float = 300) -> None:
        # -o: `make bench-http` brought the virtualenv up to date; the stack must not run pip.
        command = ["make", "--no-print-directory", "-o", ".venv/.runtime", "up", f"PORT={self.port}"]
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                command, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + timeout
        # /health answers before the Celery worker is ready; payments before then would queue
        # their after-commit tasks and have the worker's start-up land in the first window.
        while not (self._healthy() and re.search(rb"worker\.1 .*celery@\S+ ready\.", self.log.read_bytes())):
            if self.proc.poll() is not None:
                sys.exit(f"make up exited with {self.proc.returncode}; see {self.log}")
            if time.monotonic() > deadline:
                sys.exit(
                    f"make up: no /health or no ready Celery worker after {timeout:.0f} s; see {self.log}"
                )
            time.sleep(0.5)

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=2) as answer:
                return answer.status == 200
        except OSError:
            return False

    def processes(self) -> dict[psutil.Process, str]:
        """Every process of the stack, by role; remembered for stop()."""
        if self.proc is None:
            return {}
        with suppress(psutil.Error):
            root = psutil.Process(self.proc.pid)
            for proc in [root, *root.children(recursive=True)]:
                self.known.setdefault(proc.pid, proc)
        found = {}
        for proc in self.known.values():
            with suppress(psutil.Error):
                found[proc] = _role(" ".join(proc.cmdline()))
        return found

    def stop(self, grace: float = 40) -> None:
        if self.proc is None:
            return
        self.processes()  # whatever honcho started since the last look
        if self.proc.poll() is None:
            with suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)  # make and honcho; honcho stops the rest
        else:  # make is gone already: what it left behind, one by one
            for proc in self.known.values():
                with suppress(psutil.Error):
                    proc.terminate()
        deadline = time.monotonic() + grace
        alive = list(self.known.values())
        while alive and time.monotonic() < deadline:
            time.sleep(0.5)
            alive = [proc for proc in alive if _running(proc)]
        for proc in alive:  # by pid, only what this stack started
            print(f"stack: {proc.pid} still running after {grace:.0f} s: killed", flush=True)
            with suppress(psutil.Error):
                proc.kill()
        with suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=10)


def _running(proc: psutil.Process) -> bool:
    try:
        return proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _role(cmdline: str) -> str:
    if "gunicorn" in cmdline:
        return "gunicorn"
    if "celery" in cmdline:
        return "beat" if " beat" in cmdline else "worker"
    if "sandbox_channel" in cmdline:
        return "sandbox"
    return "honcho"  # make, honcho and the shells between them: the cost of `make up` itself


# --- CPU time ------------------------------------------------------------------------------

ROLES = ("gunicorn", "worker", "beat", "sandbox", "honcho", "postgres", "pg-shared", "redis", "wrk")
PG_AUXILIARY = (
    "checkpointer",
    "background writer",
    "walwriter",
    "autovacuum launcher",
    "replication launcher",
)


class CpuMeter:
    """CPU seconds per role over a window. Processes are polled (poll() while waiting), so a
    PostgreSQL backend or worker that exits inside the window still counts up to its last
    poll, and one that starts inside it counts from zero. Backends of other databases on the
    same server are not ours and are left to "other", with the rest of the machine. The
    server's auxiliary processes (WAL writer, checkpointer: "pg-shared") and Redis also work
    for the other databases (a CREATE DATABASE elsewhere forces a checkpoint)."""

    def __init__(self, stack: Stack, postmaster: int, redis_pid: int) -> None:
        self.stack, self.postmaster, self.redis_pid = stack, postmaster, redis_pid
        self.extra: dict[int, str] = {}  # pid → role, e.g. wrk or pgbench while they run
        self.first: dict[tuple[int, float], tuple[str, float]] = {}
        self.last: dict[tuple[int, float], tuple[str, float]] = {}
        self.machine = 0.0
        self.wall = 0.0

    def _roles(self) -> dict[psutil.Process, str]:
        found = self.stack.processes()
        with suppress(psutil.Error):
            if self.postmaster:
                master = psutil.Process(self.postmaster)
                found[master] = "pg-shared"
                for child in master.children():
                    with suppress(psutil.Error):
                        title = " ".join(child.cmdline())
                        if f" {DATABASE} " in f"{title} ":
                            found[child] = "postgres"
                        elif any(aux in title for aux in PG_AUXILIARY):
                            found[child] = "pg-shared"
        for pid, role in [(self.redis_pid, "redis"), *self.extra.items()]:
            with suppress(psutil.Error):
                found[psutil.Process(pid)] = role
        return found

    def poll(self) -> None:
        for proc, role in self._roles().items():
            with suppress(psutil.Error):
                times = proc.cpu_times()
                key = (proc.pid, proc.create_time())  # a reused pid is another process
                self.last[key] = (role, times.user + times.system)

    def start(self) -> None:
        self.last = {}
        self.poll()
        self.first = dict(self.last)
        self.machine, self.wall = _machine_busy(), time.monotonic()

    def settle(self, roles: tuple[str, ...] = ("gunicorn", "worker"), limit: float = 120.0) -> float:
        """Polls until `roles` use less than 4% of a core: the requests wrk left in flight are
        answered and the Celery worker's backlog of after-commit tasks is done, so that their
        CPU counts in this window and not in the next one. Returns the seconds it took."""
        began, previous = time.monotonic(), self._total(roles)
        while time.monotonic() - began < limit:
            time.sleep(0.5)
            self.poll()
            current = self._total(roles)
            if current - previous < 0.02:
                break
            previous = current
        return time.monotonic() - began

    def _total(self, roles: tuple[str, ...]) -> float:
        return sum(cpu for role, cpu in self.last.values() if role in roles)

    def stop(self) -> dict[str, float]:
        """CPU seconds by role since start(), plus "machine" (all CPUs) and "wall"."""
        self.poll()
        spent = dict.fromkeys(ROLES, 0.0)
        for key, (role, cpu) in self.last.items():
            spent[role] = spent.get(role, 0.0) + cpu - self.first.get(key, (role, 0.0))[1]
        spent["machine"] = _machine_busy() - self.machine
        spent["wall"] = time.monotonic() - self.wall
        return spent


def _machine_busy() -> float:
    times = psutil.cpu_times()
    return sum(getattr(times, name, 0.0) for name in ("user", "nice", "system", "irq", "softirq", "steal"))


def watch(
    proc: subprocess.Popen,
    meter: CpuMeter,
    role: str,
    interval: float = 0.5,
    finished: Callable[[], bool] | None = None,
) -> None:
    """Wait for `proc`, polling the meter; its own CPU time is read while it still exists.
    `finished`: asked at each poll; once true, `proc` is interrupted (wrk then reports)."""
    meter.extra[proc.pid] = role
    try:
        while proc.poll() is None:
            meter.poll()
            if finished is not None and finished():
                proc.send_signal(signal.SIGINT)
                finished = None
            time.sleep(interval)
    except BaseException:  # Ctrl-C or SIGTERM of the harness: no load left running behind it
        proc.terminate()
        raise
    finally:
        meter.extra.pop(proc.pid, None)


# --- pgbench -------------------------------------------------------------------------------

PGBENCH_SCRIPT = Path(__file__).resolve().parent / "pgbench_payment.sql"


def pgbench(url: str, variables: dict[str, int], clients: int, seconds: int, meter: CpuMeter) -> dict:
    """One run of the payment-like script; TPS, mean latency, failures, CPU per transaction."""
    command = ["pgbench", "-n", "-f", str(PGBENCH_SCRIPT), "-c", str(clients), "-j", "2", "-T", str(seconds)]
    for name, value in variables.items():
        command += ["-D", f"{name}={value}"]
    command.append(url)
    before = os.times()
    meter.start()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    watch(proc, meter, "pgbench")
    spent = meter.stop()
    out, err = proc.communicate()
    after = os.times()
    tps = re.search(r"tps = ([\d.]+) \(without initial connection time\)", out)
    processed = re.search(r"number of transactions actually processed: (\d+)", out)
    failed = re.search(r"number of failed transactions: (\d+)", out)
    latency = re.search(r"latency average = ([\d.]+) ms", out)
    if proc.returncode != 0 or not (tps and processed):
        failure = {"tps": 0.0, "processed": 0, "failed": -1, "latency_ms": 0.0, "output": out + err}
        return failure | {"postgres_ms": 0.0, "pgbench_ms": 0.0, "drained_s": 0.0}
    done = int(processed.group(1))
    # Untimed: the stack folds pgbench's buffered credits in (beat's sweep); without this wait
    # that work, tens of seconds of it, lands in the next wrk window.
    began = time.monotonic()
    while pg_query(url, "SELECT count(*) FROM ledger_posting WHERE NOT applied")[0][0] and (
        time.monotonic() - began < 300
    ):
        time.sleep(0.5)
    meter.start()
    meter.settle()
    meter.stop()
    own = after.children_user + after.children_system - before.children_user - before.children_system
    return {
        "tps": float(tps.group(1)),
        "processed": done,
        "failed": int(failed.group(1)) if failed else 0,
        "latency_ms": float(latency.group(1)) if latency else 0.0,
        "postgres_ms": spent["postgres"] / max(done, 1) * 1e3,
        "pgbench_ms": own / max(done, 1) * 1e3,
        "drained_s": time.monotonic() - began,
    }
