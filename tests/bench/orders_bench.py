"""Orders through the production stack against plain payments (docs/benchmarks.md, "Orders
through the production stack (make bench-orders)").

    make bench-orders [CONNECTIONS=16] [SECONDS=15] [REPEATS=3]
    python -m tests.bench.orders_bench --connections 16 --seconds 15 --repeats 3

The stack as for `make bench-http` (tests/bench/http_bench.py: a fresh database
paycenter_bench, `make up`, Redis db 12). The onboarded merchant is made a marketplace of two
sellers with a platform coupon and a seller coupon (tests/bench/orders_seed.py). Per repeat,
three wrk windows, one after the other, each replaying pre-signed requests once:

1. plain payments: POST /api/v1/payments (balance, captured) for SECONDS, as bench-http;
2. orders: POST /api/v1/orders — 3 lines from 2 sellers, 2 coupons (each order its own
   claimed pair) — for SECONDS;
3. their payments: POST /api/v1/orders/{id}/pay (balance) for every order window 2 created,
   until all are answered.

An order bought and paid costs 1/orders_rate + 1/pay_rate seconds of the stack; its rate is
the inverse, compared with the plain payments' rate of the same repeat. Then: every order
created is paid by one split payment, each coupon used once, `ledger_verify`, no deadlocks,
no ERROR in the stack's log. Exit 1 on any error.
"""

import argparse
import json
import math
import os
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

import redis
from cryptography.fernet import Fernet

from paycenter.api.signing import sign_request
from tests.bench import http_bench, http_stack
from tests.bench.http_stack import ROOT, CpuMeter, Stack

ORDER_ID = '"id":%s*"(ORD[^"]+)"'


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (one per core)")
    parser.add_argument("--customers", type=int, default=16)
    parser.add_argument(
        "--max-rate", type=int, default=1500, help="plain payments/s the pre-signed requests cover"
    )
    parser.add_argument(
        "--max-order-rate", type=int, default=300, help="orders/s the pre-signed orders cover"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "bench-orders")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    wrk = http_stack.ensure_wrk()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    orders_per_run = math.ceil(args.max_order_rate * args.seconds / args.threads) * args.threads
    pairs = math.ceil(orders_per_run * args.repeats / args.customers) + args.connections
    url = http_stack.bench_url(http_bench.ADMIN_URL)
    port, sandbox_port = http_stack.pick_ports()
    env = {k: v for k, v in os.environ.items() if k not in http_stack.NOT_INHERITED}
    env.update(
        DATABASE_URL=url,
        REDIS_URL=http_bench.REDIS_URL,
        SECRET_KEY=secrets.token_urlsafe(50),
        PAYCENTER_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        PORT=str(port),
        SANDBOX_PORT=str(sandbox_port),
        PAYCENTER_PUBLIC_URL=f"http://127.0.0.1:{port}",
        SANDBOX_CHANNEL_URL=f"http://127.0.0.1:{sandbox_port}",
        BENCH_CUSTOMERS=str(args.customers),
        BENCH_ORDER_COUPONS=str(pairs),
    )
    postmaster = http_stack.fresh_database(http_bench.ADMIN_URL)
    cache = redis.Redis.from_url(http_bench.REDIS_URL)
    cache.flushdb()
    stack_log = args.out / "stack.log"
    stack_log.unlink(missing_ok=True)
    (args.out / "django.log").unlink(missing_ok=True)
    load_before = os.getloadavg()
    print(
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, load average {http_bench._load(load_before)};"
        f" logs in {args.out}"
    )

    stack = Stack(env, port, stack_log)
    repeats, created, paid, in_flight = [], [], [], {"orders_in_flight": 0, "pays_unanswered": 0}
    try:
        stack.start()
        shop = _seed(env, args.out)
        print(
            f"seeded: {len(shop['sellers'])} sellers, {args.customers} buyers with {pairs} coupon pairs each;"
            f" one order = {shop['order_statements']} SQL statements, its payment {shop['pay_statements']}"
            f" ({shop['pay_statements_with_tasks']} with its after-commit tasks)",
            flush=True,
        )
        meter = CpuMeter(stack, postmaster, int(cache.info("server")["process_id"]))
        coupons = {buyer: list(pairs_) for buyer, pairs_ in shop["coupons"].items()}
        for n in range(args.repeats):
            plain = http_bench._wrk(wrk, f"payments {n + 1}", args.seconds, port, shop, meter, args)
            orders = http_bench._wrk(
                wrk,
                f"orders {n + 1}",
                args.seconds,
                port,
                shop,
                meter,
                args,
                requests=lambda prefix, n=n: _presign_orders(
                    prefix, n, orders_per_run, port, shop, coupons, args
                ),
                match=ORDER_ID,
            )
            created += orders["created"]
            buyers = (
                dict(http_stack.pg_query(url, _BUYERS_SQL % _in(orders["created"])))
                if orders["created"]
                else {}
            )
            pays = http_bench._wrk(
                wrk,
                f"order payments {n + 1}",
                args.seconds * 6,
                port,
                shop,
                meter,
                args,
                requests=lambda prefix, ids=orders["created"], buyers=buyers: _presign_pays(
                    prefix, ids, buyers, port, shop, args
                ),
                until_done=_all_answered(stack_log, len(orders["created"])),
            )
            paid += pays["created"]
            in_flight["orders_in_flight"] += orders["in_flight"]
            in_flight["pays_unanswered"] += pays["in_flight"]
            repeat = {"plain": plain, "orders": orders, "pays": pays}
            repeat["pair_rate"] = (
                1 / (1 / orders["rate"] + 1 / pays["rate"]) if orders["rate"] and pays["rate"] else 0
            )
            repeat["ratio"] = repeat["pair_rate"] / plain["rate"] if plain["rate"] else 0
            repeats.append(repeat)
            print(_line(n + 1, repeat), flush=True)
        log_end = stack_log.stat().st_size
    finally:
        stack.stop()

    problems = _checks(
        env, args, repeats, {"orders_created": created, "orders_paid": paid, **in_flight}, stack_log, log_end
    )
    print(_table(repeats, shop, args, load_before, os.getloadavg()))
    for problem in problems:
        print(f"PROBLEM: {problem}")
    print("FAILED" if problems else "OK: no errors, ledger verified")
    return 1 if problems else 0


PAID_LINE = re.compile(rb'"POST /api/v1/orders/ORD[0-9]+/pay HTTP/1\.1" [0-9]{3} ')


def _all_answered(stack_log: Path, expected: int, stall: float = 3.0) -> Callable[[], bool]:
    """True once gunicorn's access log shows `expected` more order payments answered (or
    none for `stall` seconds: a request wrk lost is counted unanswered, not waited for)."""
    offset, seen, last_change = stack_log.stat().st_size, 0, time.monotonic()

    def finished() -> bool:
        nonlocal offset, seen, last_change
        with stack_log.open("rb") as log:
            log.seek(offset)
            chunk = log.read()
        chunk = chunk[: chunk.rfind(b"\n") + 1]
        offset += len(chunk)
        found = len(PAID_LINE.findall(chunk))
        if found:
            seen, last_change = seen + found, time.monotonic()
        return seen >= expected or time.monotonic() - last_change > stall

    return finished


_BUYERS_SQL = (
    "SELECT o.serial, c.external_id FROM orders_order o JOIN accounts_customer c ON c.id = o.customer_id"
    " WHERE o.serial IN (%s)"
)


def _in(serials: list[str]) -> str:
    return ",".join(f"'{s}'" for s in serials if re.fullmatch(r"ORD[0-9]+", s))


def _seed(env: dict, out: Path) -> dict:
    onboard = [
        http_bench.PYTHON,
        "manage.py",
        "onboard_merchant",
        "--name",
        "Bench Mall",
        "--channel",
        "balance",
    ]
    answer = subprocess.run(
        [*onboard, "--json"], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    if answer.returncode != 0:
        sys.exit(f"onboard_merchant failed:\n{answer.stdout}{answer.stderr}")
    (out / "credentials.json").write_text(answer.stdout.strip().splitlines()[-1])
    return _django(env, "seed", out / "credentials.json", out / "shop.json")


def _django(env: dict, command: str, source: Path, target: Path) -> dict:
    target.unlink(missing_ok=True)
    command_line = [http_bench.PYTHON, "-m", "tests.bench.orders_seed", command, str(source), str(target)]
    with (target.parent / "django.log").open("a") as log:
        done = subprocess.run(command_line, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    if done.returncode != 0 or not target.exists():
        sys.exit(f"tests.bench.orders_seed {command} failed ({done.returncode}); see {log.name}")
    return json.loads(target.read_text())


def _raw(path: str, data: dict, key: str, port: int, shop: dict) -> bytes:
    """A signed POST as docs/api.md says, as raw HTTP bytes."""
    body = json.dumps(data, separators=(",", ":")).encode()
    timestamp, nonce = str(int(time.time())), secrets.token_hex(12)
    signature = sign_request(
        secret=shop["secret"], method="POST", path=path, timestamp=timestamp, nonce=nonce, body=body
    )
    headers = {
        "Host": f"127.0.0.1:{port}",
        "Content-Type": "application/json",
        "Content-Length": len(body),
        "X-App-Id": shop["app_id"],
        "X-Timestamp": timestamp,
        "X-Nonce": nonce,
        "X-Signature": signature,
        "Idempotency-Key": key,
    }
    head = f"POST {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    return head.encode() + body


def _write(prefix: Path, per_thread: list[list[tuple[str, bytes]]]) -> list[list[str]]:
    for thread, requests in enumerate(per_thread):
        with open(f"{prefix}.{thread}", "wb") as out:
            for _, request in requests:
                out.write(b"%d\n" % len(request) + request)
    return [[key for key, _ in requests] for requests in per_thread]


def _presign_orders(prefix, run, count, port, shop, coupons, args) -> list[list[str]]:
    items = [{"sku": sku, "quantity": quantity} for sku, quantity in shop["cart"]]
    per_thread = [[] for _ in range(args.threads)]
    for n in range(count):
        buyer = shop["buyers"][n % len(shop["buyers"])]  # evenly: each has its coupons for its share
        key = f"order-{run}-{n}-{secrets.token_hex(3)}"
        data = {"buyer_external_id": buyer, "items": items, "coupon_ids": coupons[buyer].pop()}
        per_thread[n % args.threads].append((key, _raw("/api/v1/orders", data, key, port, shop)))
    return _write(prefix, per_thread)


def _presign_pays(prefix, order_ids, buyers, port, shop, args) -> list[list[str]]:
    wallets = dict(zip(shop["buyers"], shop["wallets"], strict=True))
    per_thread = [[] for _ in range(args.threads)]
    for n, order in enumerate(order_ids):
        data = {"channel": "balance", "payer_account_id": wallets[buyers[order]]}
        path = f"/api/v1/orders/{order}/pay"
        per_thread[n % args.threads].append((order, _raw(path, data, f"pay-{order}", port, shop)))
    return _write(prefix, per_thread)


def _checks(env, args, repeats, expect, stack_log, log_end) -> list[str]:
    problems = []
    for repeat in repeats:
        for run in repeat.values():
            if not isinstance(run, dict):
                continue
            if run["errors"]:
                problems.append(
                    f"{run['label']}: {run['errors']} errors: {run['statuses']}, {run['sockets']} socket"
                )
                problems += [f"  e.g. {sample}" for sample in run["samples"][:3]]
            if run["exhausted"]:
                problems.append(
                    f"{run['label']}: ran out of pre-signed requests; raise --max-rate / --max-order-rate"
                )
    (args.out / "expect.json").write_text(json.dumps(expect))
    found = _django(env, "check", args.out / "expect.json", args.out / "checked.json")
    problems += found["problems"]
    verify = subprocess.run(
        [http_bench.PYTHON, "manage.py", "ledger_verify"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    if verify.returncode != 0:
        problems.append(f"ledger_verify:\n{verify.stdout}{verify.stderr}")
    query = f"SELECT deadlocks FROM pg_stat_database WHERE datname = '{http_stack.DATABASE}'"
    deadlocks = http_stack.pg_query(http_bench.ADMIN_URL, query)[0][0]
    if deadlocks:
        problems.append(f"deadlocks: {deadlocks} in pg_stat_database")
    print(f"checks: {found['orders']} orders created, {found['paid']} paid; deadlocks {deadlocks}")
    with stack_log.open("rb") as log:
        text = log.read(log_end).decode(errors="replace")
    errors = [line for line in text.splitlines() if http_bench.ERROR_LINE.search(line)]
    if errors:
        problems.append(f"{len(errors)} error lines in {stack_log}, e.g. {errors[:3]}")
    return problems


def _line(n: int, repeat: dict) -> str:
    plain, orders, pays = repeat["plain"], repeat["orders"], repeat["pays"]
    return (
        f"run {n}: payments {plain['rate']:.1f}/s (p99 {plain['p99_us'] / 1e3:.0f} ms);"
        f" orders {orders['rate']:.1f}/s (p99 {orders['p99_us'] / 1e3:.0f} ms);"
        f" order payments {pays['rate']:.1f}/s (p99 {pays['p99_us'] / 1e3:.0f} ms);"
        f" orders bought and paid {repeat['pair_rate']:.1f}/s = {repeat['ratio']:.1%} of payments;"
        f" web CPU ms: payment {plain['cpu_ms']['gunicorn']:.1f}, order {orders['cpu_ms']['gunicorn']:.1f},"
        f" order payment {pays['cpu_ms']['gunicorn']:.1f}"
    )


def _table(repeats: list[dict], shop: dict, args, before, after) -> str:
    head = [
        "run",
        "payments/s",
        "orders/s",
        "order payments/s",
        "orders+pay/s",
        "ratio",
        "p99 ms (pay/order/order pay)",
    ]
    rows = []
    for n, r in enumerate(repeats, start=1):
        rows.append(
            [
                str(n),
                f"{r['plain']['rate']:.1f}",
                f"{r['orders']['rate']:.1f}",
                f"{r['pays']['rate']:.1f}",
                f"{r['pair_rate']:.1f}",
                f"{r['ratio']:.1%}",
                "/".join(f"{r[k]['p99_us'] / 1e3:.0f}" for k in ("plain", "orders", "pays")),
            ]
        )
    if len(repeats) > 1:
        med = lambda get: statistics.median(get(r) for r in repeats)  # noqa: E731
        rows.append(
            [
                f"**median of {len(repeats)}**",
                f"{med(lambda r: r['plain']['rate']):.1f}",
                f"{med(lambda r: r['orders']['rate']):.1f}",
                f"{med(lambda r: r['pays']['rate']):.1f}",
                f"{med(lambda r: r['pair_rate']):.1f}",
                f"**{med(lambda r: r['ratio']):.1%}**",
                "",
            ]
        )
    return "\n".join(
        [
            "",
            f"{args.connections} connections, wrk -t {args.threads}, {args.seconds} s per window;"
            f" load average {http_bench._load(before)} before, {http_bench._load(after)} after",
            "| " + " | ".join(head) + " |",
            "|---|" + "---:|" * (len(head) - 1),
            *("| " + " | ".join(row) + " |" for row in rows),
            f"statements: an order {shop['order_statements']} ({shop['order_statement_kinds']}), its payment"
            f" {shop['pay_statements']} in the web request, {shop['pay_statements_with_tasks']} with its"
            " after-commit tasks (the order marked paid) run in-process",
        ]
    )


if __name__ == "__main__":
    sys.exit(main())
