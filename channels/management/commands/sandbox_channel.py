"""`manage.py sandbox_channel`: run the sandbox payment platform in the foreground."""

import signal
import threading
from pathlib import Path

from django.core.management.base import BaseCommand

from channels.sandbox_server import serve_in_thread


class Command(BaseCommand):
    help = "Run the sandbox payment platform (docs/sandbox.md) until Ctrl-C or SIGTERM."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8100)
        parser.add_argument("--db", default="var/sandbox.sqlite3", help="the sandbox's own SQLite file")
        parser.add_argument("--public-url", default=None, help="base URL payers reach; default the bound URL")

    def handle(self, *args, host: str, port: int, db: str, public_url: str | None, **options) -> None:
        Path(db).parent.mkdir(parents=True, exist_ok=True)
        done = threading.Event()
        # SIGTERM (a process manager) ends the server as cleanly as Ctrl-C does.
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: done.set())
        handle = serve_in_thread(host=host, port=port, db_path=db, public_url=public_url)
        self.stdout.write(
            f"Sandbox channel serving on {handle.url} (public URL {handle.public_url}, db {db})"
        )
        self.stdout.write("Platform public key: GET /v1/platform-key. Quit with Ctrl-C.")
        self.stdout.flush()
        try:
            while not done.wait(1):
                pass
        finally:
            handle.stop()
            self.stdout.write("Sandbox channel stopped.")
