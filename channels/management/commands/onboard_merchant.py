import json

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from accounts.services import merchant_onboard
from channels import registry
from channels.base import ChannelError, ChannelUnreachable
from channels.services import merchant_channel_activate
from paycenter.errors import PaycenterError

ACTOR = "onboard_merchant"


class Command(BaseCommand):
    help = (
        "Create an active merchant with one app, activate the named channels (the same service "
        "and audit as the admin's Activate button) and print the credentials (the secret once)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--name", required=True)
        parser.add_argument("--notify-url", default="")
        parser.add_argument(
            "--channel", action="append", default=[], help="a channel to activate; repeat for several"
        )
        parser.add_argument("--json", action="store_true")

    def handle(self, *args: object, **options: object) -> None:
        channels = list(dict.fromkeys(options["channel"]))
        try:
            for channel in channels:  # before anything is created: a typo creates nothing
                registry.plugin_for(channel)
            merchant, app, secret = merchant_onboard(
                name=options["name"], notify_url=options["notify_url"], actor=ACTOR, now=timezone.now()
            )
        except PaycenterError as exc:
            raise CommandError(f"{exc.code}: {exc.message}") from exc
        credentials = {"merchant_id": merchant.pk, "app_id": app.app_id, "secret": secret, "channels": {}}
        for channel in channels:
            try:
                mc = merchant_channel_activate(
                    merchant_id=merchant.pk, channel=channel, actor=ACTOR, now=timezone.now()
                )
            except (PaycenterError, ChannelError, ChannelUnreachable) as exc:
                self._print(credentials, as_json=options["json"])
                raise CommandError(
                    f"merchant {merchant.pk} created, but channel {channel!r} was not activated: {exc}. "
                    "Activate it in the admin (Merchant channels) once the platform answers."
                ) from exc
            credentials["channels"][channel] = mc.pk
        self._print(credentials, as_json=options["json"])

    def _print(self, credentials: dict, *, as_json: bool) -> None:
        if as_json:
            self.stdout.write(json.dumps(credentials))
            return
        for key, value in credentials.items():
            self.stdout.write(f"{key}: {value}")
        self.stdout.write("Keep the secret now: it is not shown again.")
