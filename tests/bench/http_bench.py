"""Payments through the production stack against pgbench (docs/benchmarks.md, "Payments
through the production stack (make bench-http)").

    make bench-http [CONNECTIONS=16] [SECONDS=15] [REPEATS=3]
    python -m tests.bench.http_bench --connections 16 --seconds 15 --repeats 3

1. Drops and creates the database `paycenter_bench` on the server of DATABASE_URL (default
   postgres://postgres@127.0.0.1:5432/postgres) and flushes Redis db 12 (BENCH_REDIS_URL).
2. Starts `make up` (check --deploy, migrate, collectstatic, then honcho: gunicorn with the
   Procfile's defaults, Celery worker and beat, the sandbox) in its own session on a free port
   of 8200-8299 with a fresh SECRET_KEY and Fernet key, and waits for /health.
3. Seeds with the product's own command and services: `onboard_merchant --channel balance`,
   16 customers, each wallet funded by an approved adjustment; counts the SQL statements of
   one signed payment in-process (tests/bench/http_seed.py).
4. Per repeat: pre-signs enough POST /api/v1/payments (balance, captured; each its own nonce,
   order number and Idempotency-Key) for the window, replays them with wrk
   (tests/bench/wrk_payments.lua, each request sent once), then runs pgbench with
   tests/bench/pgbench_payment.sql on the same database with as many clients. CPU time per
   process role is measured over the wrk window (tests/bench/http_stack.py).
5. Stops the stack, then checks: one succeeded payment per 201, the money adds up,
   `manage.py ledger_verify`, no deadlocks, no ERROR in the stack's log. Exit 1 on any error.

The database is left for inspection (dropped by the next run); logs go to --out.
"""

import argparse
import json
import math
import os
import random
import re
import secrets
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import psutil
import redis
from cryptography.fernet import Fernet

from paycenter.api.signing import sign_request
from tests.bench import http_stack
from tests.bench.http_stack import ROLES, ROOT, CpuMeter, Stack

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
ADMIN_URL = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
PATH = "/api/v1/payments"
LUA = Path(__file__).resolve().parent / "wrk_payments.lua"
PYTHON = sys.executable
# Django's, Celery's and gunicorn's formats of an error line.
ERROR_LINE = re.compile(r" ERROR \[|: ERROR/|\[ERROR\]|CRITICAL|WORKER TIMEOUT|Traceback")
# The merchant's settlement account is buffered in the product, so the fair raw-SQL
# counterpart credits it with an unapplied posting too (direct=0); direct=1 locks the hot row.
PGBENCH_DIRECT = 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (one per core)")
    parser.add_argument("--warmup", type=int, default=3, help="seconds of unmeasured wrk load first")
    parser.add_argument("--customers", type=int, default=16)
    parser.add_argument("--max-rate", type=int, default=1500, help="payments/s the pre-signed requests cover")
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "bench-http")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    wrk = http_stack.ensure_wrk()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the finally below

    url = http_stack.bench_url(ADMIN_URL)
    port, sandbox_port = http_stack.pick_ports()
    env = {k: v for k, v in os.environ.items() if k not in http_stack.NOT_INHERITED}
    env.update(
        DATABASE_URL=url,
        REDIS_URL=REDIS_URL,
        SECRET_KEY=secrets.token_urlsafe(50),
        PAYCENTER_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        PORT=str(port),
        SANDBOX_PORT=str(sandbox_port),
        PAYCENTER_PUBLIC_URL=f"http://127.0.0.1:{port}",
        SANDBOX_CHANNEL_URL=f"http://127.0.0.1:{sandbox_port}",
        BENCH_CUSTOMERS=str(args.customers),
    )
    postmaster = http_stack.fresh_database(ADMIN_URL)
    cache = redis.Redis.from_url(REDIS_URL)
    cache.flushdb()
    redis_pid = int(cache.info("server")["process_id"])
    if not psutil.pid_exists(redis_pid):
        redis_pid = 0  # a remote Redis
    pg_log = http_stack.pg_log_path(ADMIN_URL)
    pg_log_offset = pg_log.stat().st_size if pg_log else 0
    stack_log = args.out / "stack.log"
    stack_log.unlink(missing_ok=True)
    (args.out / "django.log").unlink(missing_ok=True)
    load_before = os.getloadavg()
    print(f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, load average {_load(load_before)}; logs in {args.out}")

    stack = Stack(env, port, stack_log)
    runs, expect = [], {"created": [], "sent": [], "in_flight": 0, "pgbench": 0}
    try:
        print(f"make up on port {port} (sandbox {sandbox_port}), database {http_stack.DATABASE}", flush=True)
        stack.start()
        shop = _seed(env, args.out)
        print(
            f"seeded: {args.customers} funded wallets; one payment = {shop['statements']} SQL statements"
            f" in the web request, {shop['statements_with_tasks']} with its after-commit tasks",
            flush=True,
        )
        meter = CpuMeter(stack, postmaster, redis_pid)
        variables = {k: shop[k] for k in ("merchant", "app", "mc", "hot")}
        variables.update(wallet0=shop["wallets"][0], wallets=len(shop["wallets"]), amount=100)
        variables["direct"] = PGBENCH_DIRECT
        plan = [("warm-up", args.warmup)] * (args.warmup > 0)
        plan += [(f"run {n + 1}", args.seconds) for n in range(args.repeats)]
        vacuum = http_stack.pg_query(ADMIN_URL, "SHOW autovacuum")[0][0] == "off"
        for label, seconds in plan:
            if vacuum:  # untimed; what autovacuum would have done since the last window
                http_stack.pg_query(url, "VACUUM (ANALYZE)")
            run = _wrk(wrk, label, seconds, port, shop, meter, args)
            for key in ("created", "sent"):
                expect[key] += run.pop(key)
            expect["in_flight"] += run["in_flight"]
            if label == "warm-up":
                print(f"warm-up: {run['rate']:.1f} payments/s, errors {run['errors']}", flush=True)
                runs.append(run)  # its errors count; it is left out of the figures
                continue
            pg = http_stack.pgbench(url, variables, args.connections, seconds, meter)
            expect["pgbench"] += pg["processed"]
            run.update(pgbench=pg, ratio=run["rate"] / pg["tps"] if pg["tps"] else 0.0)
            runs.append(run)
            print(_line(run), flush=True)
        log_end = stack_log.stat().st_size
    finally:
        stack.stop()

    expect.update(inproc=shop["inproc"], **{k: shop[k] for k in ("hot", "wallets", "funded")})
    problems = _checks(env, args, expect, runs, pg_log, pg_log_offset, stack_log, log_end)
    measured = [run for run in runs if run["label"] != "warm-up"]
    print(_table(measured, shop, args, load_before, os.getloadavg()))
    for problem in problems:
        print(f"PROBLEM: {problem}")
    print("FAILED" if problems else "OK: no errors, ledger verified")
    return 1 if problems else 0


def _seed(env: dict, out: Path) -> dict:
    onboard = [PYTHON, "manage.py", "onboard_merchant", "--name", "Bench", "--channel", "balance", "--json"]
    answer = subprocess.run(onboard, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if answer.returncode != 0:
        sys.exit(f"onboard_merchant failed:\n{answer.stdout}{answer.stderr}")
    (out / "credentials.json").write_text(answer.stdout.strip().splitlines()[-1])
    return _django(env, "seed", out / "credentials.json", out / "shop.json")


def _django(env: dict, command: str, source: Path, target: Path) -> dict:
    target.unlink(missing_ok=True)
    command_line = [PYTHON, "-m", "tests.bench.http_seed", command, str(source), str(target)]
    with (target.parent / "django.log").open("a") as log:  # the in-process payments log their tasks
        done = subprocess.run(command_line, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    if done.returncode != 0 or not target.exists():
        sys.exit(f"tests.bench.http_seed {command} failed ({done.returncode}); see {log.name}")
    return json.loads(target.read_text())


def _presign(label: str, port: int, shop: dict, count: int, threads: int, prefix: Path) -> list[list[str]]:
    """Per wrk thread, a file of raw signed requests, each "<length>\\n<bytes>"; returns the
    order numbers in file order (thread t sends a prefix of its list)."""
    rng = random.Random(label)
    tag = re.sub(r"\W", "", label)
    orders = []
    for thread in range(threads):
        mine = [f"{tag}-{secrets.token_hex(3)}-{thread}-{n}" for n in range(count)]
        with open(f"{prefix}.{thread}", "wb") as out:
            for order in mine:
                request = _signed(order, rng.choice(shop["wallets"]), port, shop)
                out.write(b"%d\n" % len(request) + request)
        orders.append(mine)
    return orders


def _signed(order: str, payer: int, port: int, shop: dict) -> bytes:
    """One balance payment, captured at once, signed as docs/api.md says: a raw HTTP request."""
    data = {"out_trade_no": order, "amount": "1.00", "subject": "bench", "channel": "balance"}
    body = json.dumps({**data, "payer_account_id": payer}, separators=(",", ":")).encode()
    timestamp, nonce = str(int(time.time())), secrets.token_hex(12)
    signature = sign_request(
        secret=shop["secret"], method="POST", path=PATH, timestamp=timestamp, nonce=nonce, body=body
    )
    headers = {
        "Host": f"127.0.0.1:{port}",
        "Content-Type": "application/json",
        "Content-Length": len(body),
        "X-App-Id": shop["app_id"],
        "X-Timestamp": timestamp,
        "X-Nonce": nonce,
        "X-Signature": signature,
        "Idempotency-Key": f"k-{order}",
    }
    head = f"POST {PATH} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    return head.encode() + body


def _wrk(
    wrk: str,
    label: str,
    seconds: int,
    port: int,
    shop: dict,
    meter: CpuMeter,
    args,
    *,
    requests: Callable[[Path], list[list[str]]] | None = None,
    match: str | None = None,
    until_done: Callable[[], bool] | None = None,
) -> dict:
    """One wrk window. `requests(prefix)` writes the pre-signed requests per thread (default:
    payments for the window at --max-rate) and returns their keys; `match` is the Lua pattern
    of the key in a 201 (default: out_trade_no); `until_done`: the window is the requests,
    not the time — wrk is interrupted once it says all are answered (`seconds` is then only
    an upper bound)."""
    prefix, results = args.out / "requests", args.out / f"wrk-{label.replace(' ', '-')}.results"
    if requests is None:
        count = math.ceil(args.max_rate * seconds / args.threads) + args.connections
        orders = _presign(label, port, shop, count, args.threads, prefix)  # just before: timestamps are fresh
    else:
        orders = requests(prefix)
    command = [wrk, "-t", str(args.threads), "-c", str(args.connections), "-d", f"{seconds}s", "--latency"]
    command += ["--timeout", "30s", "-s", str(LUA), f"http://127.0.0.1:{port}{PATH}"]
    env = {**os.environ, "BENCH_WRK_REQUESTS": str(prefix), "BENCH_WRK_RESULTS": str(results)}
    env.update({"BENCH_WRK_MATCH": match} if match else {})
    env.update({"BENCH_WRK_UNTIL_DONE": "1"} if until_done else {})  # spans reported
    before = os.times()
    meter.start()
    with open(results.with_suffix(".txt"), "w") as out:
        proc = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
        http_stack.watch(proc, meter, "wrk", interval=0.2 if until_done else 0.5, finished=until_done)
    settle = meter.settle()
    cpu = meter.stop()
    after = os.times()
    cpu["wrk"] = after.children_user + after.children_system - before.children_user - before.children_system
    for thread in range(args.threads):
        Path(f"{prefix}.{thread}").unlink()
    if proc.returncode != 0 or not results.exists():
        sys.exit(f"wrk exited with {proc.returncode}; see {results.with_suffix('.txt')}")
    run = {"label": label, "statuses": {}, "samples": [], "created": [], "sent": [], "in_flight": 0}
    exhausted, spans = 0, []
    for line in results.read_text().splitlines():
        key, _, rest = line.partition(" ")
        if key == "status":
            status, n = rest.split()
            run["statuses"][int(status)] = run["statuses"].get(int(status), 0) + int(n)
        elif key == "thread":
            thread, sent, answered, spare = (int(x) for x in rest.split())
            run["sent"] += orders[thread][:sent]
            run["in_flight"] += sent + spare - answered  # the spare GETs are answered too
            exhausted += spare
        elif key == "span":
            spans.append(tuple(int(x) for x in rest.split()[1:]))
        elif key in ("created", "sample"):
            run[f"{key}s" if key == "sample" else key].append(rest)
        else:
            run[key] = float(rest)
    ok = run["statuses"].get(201, 0)
    sockets = sum(int(run[f"socket_{kind}"]) for kind in ("connect", "read", "write", "timeout"))
    if until_done:  # from the first request sent to the last answered, over the threads
        run["in_flight"] = sum(unanswered for _, _, unanswered in spans)
        spans = [(first, last) for first, last, _ in spans if first]
        run["duration_us"] = max(last for _, last in spans) - min(first for first, _ in spans)
        run["statuses"].pop(200, None)  # the spare GET /health of threads done early
        exhausted = 0
    run.update(
        ok=ok, rate=ok / (run["duration_us"] / 1e6), exhausted=exhausted, sockets=sockets, settle=settle
    )
    run["errors"] = sum(n for status, n in run["statuses"].items() if status != 201) + sockets
    # The CPU window ends once the stack is idle again: it holds the payments answered and
    # those wrk left in flight, and all of their after-commit work.
    paid = max(ok + run["in_flight"], 1)
    others = cpu["machine"] - sum(cpu.get(role, 0.0) for role in ROLES)
    run["cpu_ms"] = {role: cpu.get(role, 0.0) / paid * 1e3 for role in ROLES}
    run["cpu_ms"].update(other=max(others, 0.0) / paid * 1e3, machine=cpu["machine"] / paid * 1e3)
    return run


def _checks(env, args, expect, runs, pg_log, pg_log_offset, stack_log, log_end) -> list[str]:
    problems = []
    for run in runs:
        if run["errors"]:
            problems.append(
                f"{run['label']}: {run['errors']} errors: {run['statuses']}, {run['sockets']} socket"
            )
            problems += [f"  e.g. {sample}" for sample in run["samples"][:3]]
        if run["exhausted"]:
            problems.append(f"{run['label']}: ran out of pre-signed requests; raise --max-rate")
        pg = run.get("pgbench")
        if pg and pg["failed"]:
            problems.append(f"{run['label']}: pgbench failed: {pg.get('output', pg['failed'])}")
    (args.out / "expect.json").write_text(json.dumps(expect))
    found = _django(env, "check", args.out / "expect.json", args.out / "checked.json")
    problems += found["problems"]
    verify = subprocess.run(
        [PYTHON, "manage.py", "ledger_verify"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    if verify.returncode != 0:
        problems.append(f"ledger_verify:\n{verify.stdout}{verify.stderr}")
    query = f"SELECT deadlocks FROM pg_stat_database WHERE datname = '{http_stack.DATABASE}'"
    deadlocks = http_stack.pg_query(ADMIN_URL, query)[0][0]
    logged = http_stack.pg_log_deadlocks(pg_log, pg_log_offset)
    print(
        f"checks: {found['http_payments']} HTTP payments in the database"
        f" ({found['stragglers']} answered after wrk stopped), deadlocks: {deadlocks} (pg_stat_database),"
        f" {'log not readable' if logged is None else logged} (PostgreSQL log)"
    )
    if deadlocks or logged:
        problems.append(f"deadlocks: {deadlocks} in pg_stat_database, {logged} in the PostgreSQL log")
    with stack_log.open("rb") as log:
        text = log.read(log_end).decode(errors="replace")
    errors = [line for line in text.splitlines() if ERROR_LINE.search(line)]
    if errors:
        problems.append(f"{len(errors)} error lines in {stack_log}, e.g. {errors[:3]}")
    return problems


def _load(load: tuple[float, ...]) -> str:
    return "/".join(f"{x:.2f}" for x in load)


def _line(run: dict) -> str:
    pg = run["pgbench"]
    return (
        f"{run['label']}: {run['rate']:.1f} payments/s (p50 {run['p50_us'] / 1e3:.0f} ms, p99"
        f" {run['p99_us'] / 1e3:.0f} ms, errors {run['errors']}; idle {run['settle']:.1f} s later);"
        f" pgbench {pg['tps']:.0f} TPS (its buffer applied {pg['drained_s']:.1f} s later);"
        f" ratio {run['ratio']:.1%}; CPU ms/payment "
        + ", ".join(f"{role} {ms:.2f}" for role, ms in run["cpu_ms"].items())
    )


CPU_COLUMNS = (*ROLES, "other", "machine")


def _table(runs: list[dict], shop: dict, args, before, after) -> str:
    rows = [
        [
            run["label"],
            f"{run['rate']:.1f}",
            f"{run['pgbench']['tps']:.0f}",
            f"{run['ratio']:.1%}",
            f"{run['p50_us'] / 1e3:.0f}",
            f"{run['p99_us'] / 1e3:.0f}",
            str(run["errors"]),
            *(f"{run['cpu_ms'][role]:.2f}" for role in CPU_COLUMNS),
        ]
        for run in runs
    ]
    if len(runs) > 1:

        def median(get) -> float:
            return statistics.median(get(run) for run in runs)

        rows.append(
            [
                f"**median of {len(runs)}**",
                f"**{median(lambda r: r['rate']):.1f}**",
                f"{median(lambda r: r['pgbench']['tps']):.0f}",
                f"**{median(lambda r: r['ratio']):.1%}**",
                f"{median(lambda r: r['p50_us']) / 1e3:.0f}",
                f"{median(lambda r: r['p99_us']) / 1e3:.0f}",
                str(sum(run["errors"] for run in runs)),
                *(f"{median(lambda r, role=role: r['cpu_ms'][role]):.2f}" for role in CPU_COLUMNS),
            ]
        )
    head = ["run", "payments/s", "pgbench TPS", "ratio", "p50 ms", "p99 ms", "errors"]
    head += [f"{role} CPU ms" for role in CPU_COLUMNS]
    lines = [
        "",
        f"{args.connections} connections, {args.seconds} s per run, wrk -t {args.threads}; pgbench -c"
        f" {args.connections} -j 2 -T {args.seconds} (merchant credit buffered); CPU ms per payment;"
        f" load average {_load(before)} before, {_load(after)} after",
        "| " + " | ".join(head) + " |",
        "|---|" + "---:|" * (len(head) - 1),
        *("| " + " | ".join(row) + " |" for row in rows),
        f"statements per payment: {shop['statements']} in the web request ({shop['statement_kinds']}),"
        f" {shop['statements_with_tasks']} with its after-commit tasks run in-process; pgbench: 6",
        f"one payment in-process (Django test client, one client): {shop['inproc_cpu_ms']:.1f} ms of CPU",
        "pgbench CPU ms per transaction: "
        + ", ".join(
            f"postgres {r['pgbench']['postgres_ms']:.2f} + pgbench {r['pgbench']['pgbench_ms']:.2f}"
            for r in runs
        ),
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
