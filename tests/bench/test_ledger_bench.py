"""Ledger throughput in postings per second (docs/benchmarks.md), on PostgreSQL:

- random: transfer_create between two random distinct customer wallets;
- hot: transfer_create from a random wallet into the merchant's ONE settlement account,
  which is buffered (credits are unapplied postings, folded in about once a second);
- hot-naive: the same payments with the settlement account's buffering switched off, so
  every payment updates (and queues on) the hot row: what buffering buys.

Each case runs with 1 and 4 worker *processes* (forked after closing the connections, each
with its own connection to the test database; threads would measure the GIL), for
BENCH_SECONDS, BENCH_REPEATS times, interleaved so a noisy neighbour hurts every case alike.
Every operation writes 2 postings. pgbench then runs the equivalent raw SQL transaction
(tests/bench/pgbench_*.sql) on the same tables, clients and duration.

After the runs the ledger must verify clean and the money must add up: a benchmark that
loses a posting is not a benchmark. Run with `make bench` (see docs/benchmarks.md).
"""

import logging
import multiprocessing
import os
import random
import re
import shutil
import statistics
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.apps import apps
from django.core.cache import cache
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.choices import AccountKind
from accounts.models import Account
from accounts.services import customer_get_or_create, merchant_onboard
from ledger.models import Posting
from ledger.selectors import accounts_with_pending
from ledger.services.journal import account_apply_pending
from ledger.services.transfers import transfer_create
from ledger.verify import ledger_verify
from tests.funding import fund

SECONDS = int(os.environ.get("BENCH_SECONDS", "8"))
REPEATS = int(os.environ.get("BENCH_REPEATS", "3"))
WALLETS = int(os.environ.get("BENCH_WALLETS", "200"))
WORKERS = (1, 4)
CASES = ("random", "hot", "hot-naive")
FUNDS = 10**10  # minor units per wallet: the hot case drains wallets, never to refusal
AMOUNT_MAX = 1000
POSTINGS_PER_OP = 2
HERE = Path(__file__).resolve().parent
SCRIPTS = {
    "random": HERE / "pgbench_transfer.sql",
    "hot": HERE / "pgbench_hot_buffered.sql",
    "hot-naive": HERE / "pgbench_hot_naive.sql",
}
# Warnings that mean contention: a retried deadlock/serialization failure, a failed apply.
WATCHED_LOGGERS = ("paycenter.dbretry", "ledger.services.journal")
# Each test runs its cases x workers x repeats, each about SECONDS plus process start-up.
TIMEOUT = 120 + len(CASES) * len(WORKERS) * REPEATS * (SECONDS + 10)

pytestmark = [
    pytest.mark.bench,
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(TIMEOUT),
]


@dataclass
class Ledger:
    merchant_id: int
    hot_id: int
    wallet_ids: list[int]
    funded: int


@dataclass
class Results:
    """Postings per second of each run, by (engine, case, workers)."""

    runs: dict[tuple[str, str, int], list[float]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    # (postings applied, seconds) of each apply of the hot buffer, by the code that applied
    applies: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    cpu: dict[str, list[float]] = field(default_factory=dict)  # worker CPU seconds per op

    def add(self, engine: str, case: str, workers: int, rate: float) -> None:
        self.runs.setdefault((engine, case, workers), []).append(rate)

    def applied(self, how: str, count: int, seconds: float) -> None:
        if count:
            self.applies.setdefault(how, []).append((count, seconds))

    def median(self, engine: str, case: str, workers: int) -> float | None:
        rates = self.runs.get((engine, case, workers))
        return statistics.median(rates) if rates else None


@pytest.fixture(scope="module")
def results():
    # One INFO line per eager apply task would drown the table.
    trace = logging.getLogger("celery.app.trace")
    level = trace.level
    trace.setLevel(logging.WARNING)
    collected = Results()
    yield collected
    trace.setLevel(level)
    print(_summary(collected))


@pytest.fixture
def ledger(transactional_db) -> Ledger:
    if connection.vendor != "postgresql":
        pytest.fail("The ledger benchmark measures PostgreSQL; set DATABASE_URL (make bench does).")
    now = timezone.now()
    merchant, _, _ = merchant_onboard(name="Bench", actor="bench", now=now)
    hot = merchant.accounts.get(kind=AccountKind.MERCHANT_SETTLEMENT)
    assert hot.buffered
    # All wallets first, then the funding: the wallet ids are contiguous, for pgbench.
    wallet_ids = []
    for n in range(WALLETS):
        customer, _ = customer_get_or_create(merchant_id=merchant.pk, external_id=f"bench-{n}", now=now)
        wallet_ids.append(customer.accounts.get(currency="CNY").pk)
    assert wallet_ids == list(range(wallet_ids[0], wallet_ids[0] + WALLETS)), "wallet ids not contiguous"
    assert hot.pk < wallet_ids[0], "the naive pgbench script locks the hot row first, as the lower id"
    for wallet_id in wallet_ids:
        fund(account_id=wallet_id, amount_minor=FUNDS)
    return Ledger(merchant_id=merchant.pk, hot_id=hot.pk, wallet_ids=wallet_ids, funded=FUNDS * WALLETS)


# --- Django: transfer_create in forked worker processes -------------------------------


class _WarningCounter(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(f"{record.name}: {record.getMessage()}")


def _one_op(ledger: Ledger, case: str, rng: random.Random) -> None:
    if case == "random":
        payer, payee = rng.sample(ledger.wallet_ids, 2)
    else:
        payer, payee = rng.choice(ledger.wallet_ids), ledger.hot_id
    transfer_create(
        merchant_id=ledger.merchant_id,
        from_account_id=payer,
        to_account_id=payee,
        amount_minor=rng.randint(1, AMOUNT_MAX),
        currency="CNY",
        now=timezone.now(),
    )


def _worker(ledger: Ledger, case: str, seconds: float, barrier, queue) -> None:
    """In a forked child: its own connection, then transfers until the time is up."""
    rng = random.Random(os.getpid() ^ time.time_ns())  # forked children share the parent's state
    counter = _WarningCounter()
    for name in WATCHED_LOGGERS:
        logging.getLogger(name).addHandler(counter)
    report = {"ops": 0, "elapsed": 0.0, "cpu": 0.0, "error": None, "warnings": counter.messages}
    try:
        connection.ensure_connection()
        barrier.wait(timeout=120)
        start, cpu = time.monotonic(), time.process_time()
        deadline = start + seconds
        while time.monotonic() < deadline:
            _one_op(ledger, case, rng)
            report["ops"] += 1
        report["elapsed"] = time.monotonic() - start
        report["cpu"] = time.process_time() - cpu
    except Exception as exc:
        report["error"] = repr(exc)
    finally:
        connections.close_all()
        queue.put(report)


def _run_django(ledger: Ledger, case: str, workers: int, results: Results) -> tuple[float, int, list[str]]:
    """Postings per second of `workers` processes running `case` for SECONDS."""
    connections.close_all()  # a forked child must never share the parent's socket
    ctx = multiprocessing.get_context("fork")
    barrier, queue = ctx.Barrier(workers + 1), ctx.Queue()
    args = (ledger, case, SECONDS, barrier, queue)
    procs = [ctx.Process(target=_worker, args=args) for _ in range(workers)]
    for proc in procs:
        proc.start()
    barrier.wait(timeout=120)
    reports = [queue.get(timeout=SECONDS + 120) for _ in procs]
    for proc in procs:
        proc.join(timeout=30)
        assert proc.exitcode == 0, f"a {case} worker exited with {proc.exitcode}"
    errors = [r["error"] for r in reports if r["error"]]
    assert not errors, f"{case} x {workers}: {errors}"
    ops = sum(r["ops"] for r in reports)
    elapsed = max(r["elapsed"] for r in reports)
    warnings = [w for r in reports for w in r["warnings"]]
    results.cpu.setdefault(case, []).append(sum(r["cpu"] for r in reports) / ops)
    return ops * POSTINGS_PER_OP / elapsed, ops, warnings


def _set_hot_buffered(ledger: Ledger, buffered: bool, results: Results) -> None:
    """Switch the hot account between buffered and naive, its buffer empty either way
    (what a run left in it is applied here, untimed, and its cost recorded)."""
    start = time.perf_counter()
    applied = account_apply_pending(account_id=ledger.hot_id)
    results.applied("account_apply_pending", applied, time.perf_counter() - start)
    Account.objects.filter(pk=ledger.hot_id).update(buffered=buffered)


def _queries_per_op(ledger: Ledger, case: str) -> int:
    """SQL statements of one transfer_create (the after-commit apply debounced away)."""
    cache.set(f"ledger:apply:{ledger.hot_id}", 1, timeout=5)
    with CaptureQueriesContext(connection) as queries:
        _one_op(ledger, case, random.Random(1))
    return len(queries)


def _background_load() -> str:
    """The load average before a test's runs start: how busy the shared machine was."""
    return "/".join(f"{load:.2f}" for load in os.getloadavg())


def test_transfer_create_postings_per_second(ledger, results):
    results.notes.append(f"django: load average (1/5/15 min) before the runs: {_background_load()}")
    for case in CASES:
        _set_hot_buffered(ledger, case != "hot-naive", results)
        statements = _queries_per_op(ledger, case)
        results.notes.append(f"SQL statements per {case} op (transfer_create): {statements}")
    postings_before = Posting.objects.count()
    deadlocks_before = _deadlocks()
    total_ops, warnings = 0, []
    for repeat in range(REPEATS):
        for workers in WORKERS:
            for case in CASES:
                _set_hot_buffered(ledger, case != "hot-naive", results)
                rate, ops, run_warnings = _run_django(ledger, case, workers, results)
                total_ops += ops
                warnings += run_warnings
                results.add("django", case, workers, rate)
                print(f"django  {case:<9} x {workers} run {repeat + 1}: {rate:8.0f} postings/s ({ops} ops)")
    _set_hot_buffered(ledger, True, results)
    results.notes.append(f"django: deadlocks reported by PostgreSQL: {_deadlocks() - deadlocks_before}")
    results.notes.append(f"django: contention warnings (retries, failed applies): {len(warnings)}")
    results.notes.extend(f"  {w}" for w in sorted(set(warnings))[:10])
    assert Posting.objects.count() - postings_before == total_ops * POSTINGS_PER_OP
    _assert_money_adds_up(ledger)


# --- pgbench: the equivalent raw SQL transaction --------------------------------------


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


# The raw SQL equivalent of ledger.balances.apply_pending, for the pgbench runs: number the
# account's unapplied postings in id order, give each its running balance, move the row.
RAW_APPLY_LOCK = f"SELECT 1 FROM {Account._meta.db_table} WHERE id = %(account)s FOR UPDATE"
RAW_APPLY = """
WITH pending AS (
    SELECT id, ROW_NUMBER() OVER (ORDER BY id) AS n,
           SUM(CASE WHEN direction = 'credit' THEN amount_minor ELSE -amount_minor END)
               OVER (ORDER BY id) AS running
      FROM ledger_posting WHERE account_id = %(account)s AND NOT applied
), lines AS (
    UPDATE ledger_posting p
       SET applied = true, seq = a.seq + q.n, balance_after_minor = a.total_minor + q.running
      FROM pending q, accounts_account a
     WHERE p.id = q.id AND a.id = %(account)s
    RETURNING q.n, q.running
)
UPDATE accounts_account a
   SET seq = a.seq + t.n, total_minor = a.total_minor + t.net, available_minor = a.available_minor + t.net
  FROM (SELECT n, running AS net FROM lines ORDER BY n DESC LIMIT 1) t
 WHERE a.id = %(account)s
RETURNING t.n
"""


def _raw_apply(account_id: int, results: Results) -> None:
    start = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(RAW_APPLY_LOCK, {"account": account_id})
        cursor.execute(RAW_APPLY, {"account": account_id})
        row = cursor.fetchone()
    results.applied(
        "raw SQL apply (one UPDATE ... FROM window)", row[0] if row else 0, time.perf_counter() - start
    )


FILL = re.compile(r"/\*\+(\w+) (?:columns|values)\*/")


def _render(script: Path, out_dir: Path) -> Path:
    """The script with each INSERT's /*+table columns*/ and /*+table values*/ markers
    replaced by the table's other NOT NULL columns and the defaults Django writes there."""
    text = script.read_text()
    models = {model._meta.db_table: model for model in apps.get_models()}
    for table in {match.group(1) for match in FILL.finditer(text)}:
        named = re.search(rf"INSERT INTO {table} \(([^)]*)/\*\+{table} columns\*/\)", text)
        assert named, f"{script.name}: no INSERT INTO {table} (... /*+{table} columns*/)"
        explicit = {column.strip() for column in named.group(1).split(",")}
        rest = [
            f
            for f in models[table]._meta.concrete_fields
            if not (f.primary_key or f.null or f.column in explicit)
        ]
        defaults = [f.get_db_prep_save(f.get_default(), connection) for f in rest]
        columns = "".join(f", {connection.ops.quote_name(f.column)}" for f in rest)
        values = "".join(f", {connection.ops.compose_sql('%s', [value])}" for value in defaults)
        text = text.replace(f"/*+{table} columns*/", columns).replace(f"/*+{table} values*/", values)
    rendered = out_dir / script.name
    rendered.write_text(text)
    return rendered


def _pgbench(ledger: Ledger, script: Path, clients: int, results: Results) -> tuple[float, int]:
    """Run one pgbench script; meanwhile the hot buffer is applied about once a second, in
    raw SQL, as the debounced task does for the Django runs. Returns (postings/s, txns)."""
    settings = connection.settings_dict
    command = [_pgbench_binary(), "-n", "-f", str(script), "-c", str(clients), "-j", str(clients)]
    command += ["-T", str(SECONDS)]
    for name, value in {
        "merchant": ledger.merchant_id,
        "wallet0": ledger.wallet_ids[0],
        "wallets": len(ledger.wallet_ids),
        "hot": ledger.hot_id,
    }.items():
        command += ["-D", f"{name}={value}"]
    for flag, key in (("-h", "HOST"), ("-p", "PORT"), ("-U", "USER")):
        if settings.get(key):
            command += [flag, str(settings[key])]
    command.append(settings["NAME"])
    env = {**os.environ, "PGPASSWORD": settings.get("PASSWORD") or ""}
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True}
    with subprocess.Popen(command, env=env, **pipes) as proc:
        while proc.poll() is None:
            time.sleep(1)
            if script.name == SCRIPTS["hot"].name:
                _raw_apply(ledger.hot_id, results)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, f"pgbench {script.name} -c {clients} failed:\n{out}\n{err}"
    tps = re.search(r"tps = ([\d.]+) \(without initial connection time\)", out)
    processed = re.search(r"number of transactions actually processed: (\d+)", out)
    failed = re.search(r"number of failed transactions: (\d+)", out)
    assert tps and processed, out
    assert failed is None or failed.group(1) == "0", out
    return float(tps.group(1)) * POSTINGS_PER_OP, int(processed.group(1))


def test_pgbench_equivalent_sql_postings_per_second(ledger, results, tmp_path):
    scripts = {case: _render(script, tmp_path) for case, script in SCRIPTS.items()}
    results.notes.append(f"pgbench: load average (1/5/15 min) before the runs: {_background_load()}")
    postings_before = Posting.objects.count()
    deadlocks_before = _deadlocks()
    total_txns = 0
    for repeat in range(REPEATS):
        for clients in WORKERS:
            for case in CASES:
                _set_hot_buffered(ledger, case != "hot-naive", results)
                rate, txns = _pgbench(ledger, scripts[case], clients, results)
                total_txns += txns
                results.add("pgbench", case, clients, rate)
                print(f"pgbench {case:<9} x {clients} run {repeat + 1}: {rate:8.0f} postings/s ({txns} txns)")
    _set_hot_buffered(ledger, True, results)
    results.notes.append(f"pgbench: deadlocks reported by PostgreSQL: {_deadlocks() - deadlocks_before}")
    assert Posting.objects.count() - postings_before == total_txns * POSTINGS_PER_OP
    _assert_money_adds_up(ledger)  # the raw SQL wrote a ledger that verifies too


# --- Honesty checks and the report -----------------------------------------------------


def _deadlocks() -> int:
    with connection.cursor() as cursor:
        if connection.pg_version >= 150000:  # statistics are flushed lazily since 15
            cursor.execute("SELECT pg_stat_force_next_flush()")
        cursor.execute("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")
        return int(cursor.fetchone()[0])


def _assert_money_adds_up(ledger: Ledger) -> None:
    for account_id in accounts_with_pending():
        account_apply_pending(account_id=account_id)
    assert not Posting.objects.filter(applied=False).exists()
    report = ledger_verify()
    assert report.clean, "\n".join(report.lines())
    totals = dict(Account.objects.values_list("pk", "total_minor"))
    wallets = sum(totals[pk] for pk in ledger.wallet_ids)
    assert wallets + totals[ledger.hot_id] == ledger.funded
    assert sum(totals.values()) == 0  # the funding account is the other side of every recharge


def _ratio(numerator: float | None, denominator: float | None) -> str:
    return f"{numerator / denominator:6.0%}" if numerator and denominator else "     —"


def _summary(results: Results) -> str:
    def rate(engine: str, case: str, workers: int) -> str:
        value = results.median(engine, case, workers)
        return f"{value:8.0f}" if value else "       —"

    lines = [
        "",
        f"Ledger benchmark: postings/s, median of {REPEATS} runs of {SECONDS} s, {WALLETS} wallets,"
        f" {os.cpu_count()} CPUs",
        "case       workers   django  pgbench  django/pgbench",
    ]
    for case in CASES:
        for workers in WORKERS:
            ours, raw = results.median("django", case, workers), results.median("pgbench", case, workers)
            lines.append(
                f"{case:<10} {workers:>7} {rate('django', case, workers)} {rate('pgbench', case, workers)}"
                f"  {_ratio(ours, raw)}"
            )
    for engine in ("django", "pgbench"):
        for workers in WORKERS:
            random_rate = results.median(engine, "random", workers)
            hot_rate = results.median(engine, "hot", workers)
            naive_rate = results.median(engine, "hot-naive", workers)
            if random_rate and hot_rate:
                # Each repeat ran its cases back to back: its own hot/random pair saw about
                # the same background load, so the median of the pairs is the steadier ratio.
                hots, randoms = (
                    results.runs[(engine, "hot", workers)],
                    results.runs[(engine, "random", workers)],
                )
                paired = statistics.median(hot / rnd for hot, rnd in zip(hots, randoms, strict=True))
                verdict = "met" if min(paired, hot_rate / random_rate) >= 0.7 else "NOT met"
                lines.append(
                    f"{engine} x {workers}: hot/random {_ratio(hot_rate, random_rate)} of medians,"
                    f" {paired:.0%} median of paired runs (target >= 70%: {verdict});"
                    f" hot-naive/random {_ratio(naive_rate, random_rate)}"
                )
    lines += results.notes
    for case, per_op in results.cpu.items():
        lines.append(f"django worker CPU per {case} op: {statistics.median(per_op) * 1e3:.2f} ms (median)")
    for how, applies in results.applies.items():
        count, seconds = sum(n for n, _ in applies), sum(t for _, t in applies)
        lines.append(
            f"{how}: {count} postings in {len(applies)} applies, {seconds / count * 1e6:.0f} µs per posting"
        )
    lines.append("all runs: " + "; ".join(f"{k}: {[round(r) for r in v]}" for k, v in results.runs.items()))
    return "\n".join(lines)
