"""`manage.py webhook_receiver`: the demo's notify endpoint in the foreground."""

import signal
import threading

from django.core.management.base import BaseCommand
from django.db import connection

from accounts.models import MerchantApp
from accounts.webhook_receiver import WebhookReceiver


class Command(BaseCommand):
    help = (
        "Run a local webhook receiver: verifies each webhook's X-Paycenter-Signature with the "
        "app secret and prints the event (development; `make run` starts it)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8101)
        parser.add_argument("--app-id", default="", help="whose secret verifies; default the demo app")

    def handle(self, *args, host: str, port: int, app_id: str, **options) -> None:
        found: list[str] = []
        receiver: WebhookReceiver | None = None

        def secrets() -> list[str]:
            """The app's secret; by default every app that notifies this receiver (the demo
            shop's and the demo mall's)."""
            if found:
                return found
            try:
                apps = (
                    MerchantApp.objects.filter(app_id=app_id)
                    if app_id
                    else MerchantApp.objects.filter(notify_url=receiver.url if receiver else "")
                )
                found.extend(app.secret for app in apps.order_by("id"))
            finally:
                connection.close()  # this runs in a request thread: leave no connection behind
            return found

        done = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: done.set())
        receiver = WebhookReceiver(secret=secrets, out=self.stdout, host=host, port=port).start()
        whose = f"app {app_id}" if app_id else "the apps that notify it (the demo shop's and mall's)"
        self.stdout.write(f"Webhook receiver on {receiver.url}, verifying with the secret of {whose}.")
        self.stdout.flush()
        try:
            while not done.wait(1):
                pass
        finally:
            receiver.stop()
            self.stdout.write("Webhook receiver stopped.")
