"""A closed-loop HTTP load generator for signed POST /api/v1/payments (docs/benchmarks.md).

`run_load` forks PROCESSES processes of THREADS threads each; every thread owns one
keep-alive connection (http.client: the least client CPU per request in the standard
library) and sends balance payments back to back, each freshly signed per docs/api.md with
its own nonce, out_trade_no and Idempotency-Key, from a random funded wallet. A server that
answers `Connection: close` (gunicorn's sync worker) is reconnected transparently; the
reconnections are counted.

All processes share one CLOCK_MONOTONIC schedule: warm-up until `measure_from`, then the
measured window. A request counts when it *completes* inside the window; its latency is
send-to-last-byte. Each process also reports its own CPU time over the window, so the cost
of the generator on a shared machine is stated, not guessed.

Deliberately free of Django: the children only speak HTTP.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import multiprocessing
import os
import random
import secrets
import statistics
import threading
import time
from dataclasses import dataclass, field

PATH = "/api/v1/payments"
# What each request is. "pay": the measured payment. The others bound what any request can
# reach on this server: "read", a signed GET of a wallet's balance (the signature check and
# two SELECTs, no write); "health", the unsigned GET /health (one SELECT 1, three Redis
# commands, no DRF).
KINDS = {"pay": 201, "read": 200, "health": 200}


@dataclass(frozen=True)
class Target:
    host: str
    port: int
    app_id: str
    secret: str
    wallet_ids: tuple[int, ...]
    amount: str = "1.00"
    kind: str = "pay"  # one of KINDS


@dataclass
class LoadResult:
    seconds: float
    latencies: list[float] = field(default_factory=list)  # seconds, measured window only
    statuses: dict[int, int] = field(default_factory=dict)  # measured window only
    transport_errors: int = 0  # measured window only: resets, timeouts
    messages: list[str] = field(default_factory=list)  # the first few bad answers, for the report
    warmup_requests: int = 0
    created: int = 0  # every 201, warm-up and stragglers included: payments the database must hold
    connects: int = 0  # TCP connections opened (one per request when the server closes them)
    client_cpu: float = 0.0  # CPU seconds of the generator over the window
    ok_status: int = 201

    @property
    def ok(self) -> int:
        return self.statuses.get(self.ok_status, 0)

    @property
    def bad(self) -> int:
        return sum(n for s, n in self.statuses.items() if s != self.ok_status) + self.transport_errors

    @property
    def tps(self) -> float:
        return self.ok / self.seconds

    def percentile(self, p: float) -> float:
        """Nearest-rank percentile of the measured latencies, in seconds."""
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        rank = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
        return ordered[rank]

    def summary(self) -> dict:
        return {
            "tps": self.tps,
            "p50_ms": self.percentile(50) * 1e3,
            "p95_ms": self.percentile(95) * 1e3,
            "p99_ms": self.percentile(99) * 1e3,
            "mean_ms": statistics.fmean(self.latencies) * 1e3 if self.latencies else float("nan"),
            "errors": self.bad,
            "client_cpu_ms_per_req": self.client_cpu / max(self.ok, 1) * 1e3,
        }


def signed_payment(target: Target, *, out_trade_no: str, payer: int) -> tuple[bytes, dict]:
    """The body and headers of one payment, signed exactly as docs/api.md says."""
    body = json.dumps(
        {
            "out_trade_no": out_trade_no,
            "amount": target.amount,
            "subject": "bench",
            "channel": "balance",
            "payer_account_id": payer,
        },
        separators=(",", ":"),
    ).encode()
    timestamp, nonce = str(int(time.time())), secrets.token_hex(12)
    message = "\n".join(["POST", PATH, timestamp, nonce, hashlib.sha256(body).hexdigest()])
    signature = hmac.new(target.secret.encode(), message.encode(), hashlib.sha256).hexdigest()
    return body, {
        "Content-Type": "application/json",
        "X-App-Id": target.app_id,
        "X-Timestamp": timestamp,
        "X-Nonce": nonce,
        "X-Signature": signature,
        "Idempotency-Key": f"k-{out_trade_no}",
    }


def signed_read(target: Target, *, account_id: int) -> tuple[str, dict]:
    path = f"/api/v1/accounts/{account_id}"
    timestamp, nonce = str(int(time.time())), secrets.token_hex(12)
    message = "\n".join(["GET", path, timestamp, nonce, hashlib.sha256(b"").hexdigest()])
    signature = hmac.new(target.secret.encode(), message.encode(), hashlib.sha256).hexdigest()
    return path, {
        "X-App-Id": target.app_id,
        "X-Timestamp": timestamp,
        "X-Nonce": nonce,
        "X-Signature": signature,
    }


def _request(target: Target, *, tag: str, wallet: int) -> tuple[str, str, bytes | None, dict]:
    if target.kind == "pay":
        body, headers = signed_payment(target, out_trade_no=tag, payer=wallet)
        return "POST", PATH, body, headers
    if target.kind == "read":
        path, headers = signed_read(target, account_id=wallet)
        return "GET", path, None, headers
    return "GET", "/health", None, {}


class _Counters:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latencies: list[float] = []
        self.statuses: dict[int, int] = {}
        self.messages: list[str] = []
        self.transport_errors = 0
        self.warmup = 0
        self.created = 0
        self.connects = 0


def _thread(target: Target, tag: str, measure_from: float, until: float, counters: _Counters) -> None:
    rng = random.Random(secrets.randbits(64))
    conn = http.client.HTTPConnection(target.host, target.port, timeout=30)
    n = 0
    latencies, statuses, messages = [], {}, []
    warmup = created = connects = transport_errors = 0
    while True:
        now = time.monotonic()
        if now >= until:
            break
        n += 1
        method, path, body, headers = _request(target, tag=f"{tag}-{n}", wallet=rng.choice(target.wallet_ids))
        started = time.monotonic()
        try:
            if conn.sock is None:
                connects += 1
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            payload = response.read()
            status = response.status
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            done = time.monotonic()
            if measure_from <= done < until:
                transport_errors += 1
                if len(messages) < 5:
                    messages.append(f"{type(exc).__name__}: {exc}")
            continue
        done = time.monotonic()
        created += status == 201 and method == "POST"
        if done < measure_from:
            warmup += 1
            if status != KINDS[target.kind] and len(messages) < 5:
                messages.append(f"warm-up {status}: {payload[:300]!r}")
        elif done < until:
            latencies.append(done - started)
            statuses[status] = statuses.get(status, 0) + 1
            if status != KINDS[target.kind] and len(messages) < 5:
                messages.append(f"{status}: {payload[:300]!r}")
    conn.close()
    with counters.lock:
        counters.latencies += latencies
        for status, count in statuses.items():
            counters.statuses[status] = counters.statuses.get(status, 0) + count
        counters.messages += messages
        counters.transport_errors += transport_errors
        counters.warmup += warmup
        counters.created += created
        counters.connects += connects


def _process(target: Target, index: int, threads: int, measure_from: float, until: float, queue) -> None:
    counters = _Counters()
    workers = [
        threading.Thread(
            target=_thread,
            args=(target, f"b{os.getpid()}x{index}t{t}{secrets.token_hex(3)}", measure_from, until, counters),
        )
        for t in range(threads)
    ]
    for worker in workers:
        worker.start()
    # CPU of this whole process (all threads) over the measured window only.
    time.sleep(max(0.0, measure_from - time.monotonic()))
    cpu_start = time.process_time()
    for worker in workers:
        worker.join()
    cpu = time.process_time() - cpu_start
    queue.put(
        {
            "latencies": counters.latencies,
            "statuses": counters.statuses,
            "messages": counters.messages,
            "transport_errors": counters.transport_errors,
            "warmup": counters.warmup,
            "created": counters.created,
            "connects": counters.connects,
            "cpu": cpu,
        }
    )


def run_load(
    target: Target,
    *,
    seconds: float,
    warmup: float,
    processes: int = 4,
    threads: int = 4,
    on_window=None,
) -> LoadResult:
    """processes x threads connections for warmup + seconds; returns the measured window.
    `on_window(edge)` is called in this process when the window opens (edge "start") and
    closes ("end"), e.g. to snapshot the CPU time of the server and the database."""
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    start = time.monotonic() + 0.5  # let the children start
    measure_from, until = start + warmup, start + warmup + seconds
    procs = [
        ctx.Process(target=_process, args=(target, i, threads, measure_from, until, queue), daemon=True)
        for i in range(processes)
    ]
    for proc in procs:
        proc.start()
    if on_window is not None:
        time.sleep(max(0.0, measure_from - time.monotonic()))
        on_window("start")
        time.sleep(max(0.0, until - time.monotonic()))
        on_window("end")
    reports = [queue.get(timeout=warmup + seconds + 120) for _ in procs]
    for proc in procs:
        proc.join(timeout=30)
    result = LoadResult(seconds=seconds, ok_status=KINDS[target.kind])
    for report in reports:
        result.latencies += report["latencies"]
        for status, count in report["statuses"].items():
            result.statuses[status] = result.statuses.get(status, 0) + count
        result.messages += report["messages"]
        result.transport_errors += report["transport_errors"]
        result.warmup_requests += report["warmup"]
        result.created += report["created"]
        result.connects += report["connects"]
        result.client_cpu += report["cpu"]
    return result
