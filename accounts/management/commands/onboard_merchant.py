import json

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from accounts.services import merchant_onboard
from paycenter.errors import PaycenterError


class Command(BaseCommand):
    help = "Create an active merchant with one app and print its credentials (the secret once)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--name", required=True)
        parser.add_argument("--notify-url", default="")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args: object, **options: object) -> None:
        try:
            merchant, app, secret = merchant_onboard(
                name=options["name"],
                notify_url=options["notify_url"],
                actor="onboard_merchant",
                now=timezone.now(),
            )
        except PaycenterError as exc:
            raise CommandError(f"{exc.code}: {exc.message}") from exc
        credentials = {"merchant_id": merchant.pk, "app_id": app.app_id, "secret": secret}
        if options["json"]:
            self.stdout.write(json.dumps(credentials))
        else:
            for key, value in credentials.items():
                self.stdout.write(f"{key}: {value}")
            self.stdout.write("Keep the secret now: it is not shown again.")
