"""`manage.py fake_alipay`: run the fake Alipay open platform in the foreground."""

import signal
import threading

from django.core.management.base import BaseCommand

from channels.alipay_server import serve_in_thread


class Command(BaseCommand):
    help = "Run the fake Alipay platform (docs/channels.md) until Ctrl-C or SIGTERM."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8110)
        parser.add_argument("--public-url", default=None, help="base URL payers reach; default the bound URL")
        parser.add_argument("--speed", type=float, default=1.0, help="divides notification retry delays")

    def handle(self, *args, host: str, port: int, public_url: str | None, speed: float, **options) -> None:
        done = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: done.set())
        handle = serve_in_thread(host=host, port=port, public_url=public_url, speed=speed)
        self.stdout.write(f"Fake Alipay serving on {handle.url}; gateway {handle.gateway_url}")
        self.stdout.write("Register an app: POST /dev/apps {name, public_key}. Quit with Ctrl-C.")
        self.stdout.flush()
        try:
            while not done.wait(1):
                pass
        finally:
            handle.stop()
            self.stdout.write("Fake Alipay stopped.")
