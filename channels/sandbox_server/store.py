"""The sandbox's own SQLite file: platform key, merchants, payments, refunds, notifications.

One connection shared by every thread behind a lock: the sandbox is small, and a single
writer makes read-check-write sequences (refund limits, idempotent creates) atomic
without SQLite's busy retries. WAL still lets a second process read the file.
"""

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager

SCHEMA = """
CREATE TABLE IF NOT EXISTS platform (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    private_pem TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS merchants (
    merchant_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    public_pem TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS payments (
    trade_no TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL REFERENCES merchants (merchant_id),
    out_trade_no TEXT NOT NULL,
    amount TEXT NOT NULL,
    currency TEXT NOT NULL,
    subject TEXT NOT NULL,
    method TEXT NOT NULL,
    capture INTEGER NOT NULL,
    notify_url TEXT,
    return_url TEXT,
    behaviour TEXT,
    status TEXT NOT NULL,
    paid_amount TEXT,
    captured_amount TEXT NOT NULL DEFAULT '0',
    refunded_amount TEXT NOT NULL DEFAULT '0',
    paid_at TEXT,
    captured_at TEXT,
    closed_at TEXT,
    expire_at REAL NOT NULL,
    settle_at REAL,
    created_at TEXT NOT NULL,
    UNIQUE (merchant_id, out_trade_no)
);
CREATE INDEX IF NOT EXISTS payments_settle_at ON payments (settle_at) WHERE settle_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS payments_pending ON payments (expire_at) WHERE status = 'pending';
CREATE TABLE IF NOT EXISTS refunds (
    refund_no TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL,
    trade_no TEXT NOT NULL REFERENCES payments (trade_no),
    out_refund_no TEXT NOT NULL,
    amount TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (merchant_id, trade_no, out_refund_no)
);
CREATE TABLE IF NOT EXISTS notifications (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    notify_id TEXT NOT NULL,
    url TEXT NOT NULL,
    body TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at REAL,
    last_error TEXT
);
CREATE INDEX IF NOT EXISTS notifications_due ON notifications (next_at) WHERE state = 'pending';
"""


class Store:
    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=10)
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute("PRAGMA foreign_keys=ON")
        self._conn.executescript(SCHEMA)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Serialises writers; a nested call joins the outer transaction."""
        with self._lock:
            if self._conn.in_transaction:
                yield self._conn
                return
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def one(self, sql: str, params: tuple | dict = ()) -> sqlite3.Row | None:
        with self._lock:
            return self._conn.execute(sql, params).fetchone()

    def all(self, sql: str, params: tuple | dict = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def close(self) -> None:
        with self._lock:
            self._conn.close()
