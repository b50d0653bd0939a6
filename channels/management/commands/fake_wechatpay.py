"""`manage.py fake_wechatpay`: run the fake WeChat Pay v3 platform in the foreground."""

import signal
import threading

from django.core.management.base import BaseCommand

from channels.wechatpay_server import serve_in_thread


class Command(BaseCommand):
    help = "Run the fake WeChat Pay v3 platform (docs/channels.md) until Ctrl-C or SIGTERM."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8102)
        parser.add_argument("--public-url", default=None, help="base URL payers reach; default the bound URL")
        parser.add_argument(
            "--speed", type=float, default=1.0, help="callback retries this many times sooner"
        )

    def handle(self, *args, host: str, port: int, public_url: str | None, speed: float, **options) -> None:
        done = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: done.set())
        handle = serve_in_thread(host=host, port=port, public_url=public_url, speed=speed)
        self.stdout.write(f"Fake WeChat Pay serving on {handle.url} (public URL {handle.public_url})")
        key_id = handle.platform.public_key_id
        self.stdout.write(f"Platform public key {key_id}: GET /fake/platform-key. Quit with Ctrl-C.")
        self.stdout.flush()
        try:
            while not done.wait(1):
                pass
        finally:
            handle.stop()
            self.stdout.write("Fake WeChat Pay stopped.")
