"""`manage.py channel_activate`: what the admin's Activate form does, from a script."""

import json
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from accounts.models import Merchant
from channels import registry
from channels.base import ChannelError, ChannelUnreachable
from channels.choices import MerchantChannelStatus
from channels.errors import InvalidParameters
from channels.models import MerchantChannel
from channels.parameters import parameters_clean, secrets_stored
from channels.services import merchant_channel_activate
from paycenter.errors import PaycenterError

ACTOR = "channel_activate"


class Command(BaseCommand):
    help = (
        "Activate a merchant's channel with the parameters its plugin declares (the same checks, "
        "service and audit as the admin's Activate form). FILE.json is an object of parameter "
        "names to strings; '-' reads it from stdin. Secrets in it are stored encrypted."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--merchant", type=int, required=True, help="the merchant's id")
        parser.add_argument("--channel", required=True, help=f"one of: {', '.join(registry.names())}")
        parser.add_argument("--params", metavar="FILE.json", help="the channel's parameters")
        parser.add_argument("--json", action="store_true", help="end with one JSON line")

    def handle(self, *args: object, **options: object) -> None:
        merchant_id, channel = options["merchant"], options["channel"]
        try:
            plugin = registry.plugin_for(channel)
        except PaycenterError as exc:
            raise CommandError(f"{exc.message} Known channels: {', '.join(registry.names())}.") from exc
        if not Merchant.objects.filter(pk=merchant_id).exists():
            raise CommandError(f"No merchant with id {merchant_id}.")
        mc = MerchantChannel.objects.filter(merchant_id=merchant_id, channel=channel).first()
        if mc is not None and mc.status == MerchantChannelStatus.ACTIVE:
            if options["params"]:
                raise CommandError(
                    f"Channel {channel!r} of merchant {merchant_id} is already active; disable it "
                    "(admin) before giving it new parameters."
                )
            self.stderr.write(f"Channel {channel!r} of merchant {merchant_id} was already active.")
            self._print(mc, as_json=options["json"])
            return
        if options["params"]:
            values = self._read(options["params"])
        else:  # as the form starts: what is stored (a disabled channel opened again)
            stored = mc.params if mc is not None else {}
            values = {p.name: stored[p.name] for p in plugin.parameters if p.name in stored and not p.secret}
        try:
            params, secrets = parameters_clean(
                plugin=plugin, values=values, stored_secrets=secrets_stored(mc=mc)
            )
        except InvalidParameters as exc:
            lines = "\n".join(f"  {name}: {message}" for name, message in exc.errors.items())
            raise CommandError(f"Invalid parameters for channel {channel!r}:\n{lines}") from exc
        try:
            mc = merchant_channel_activate(
                merchant_id=merchant_id,
                channel=channel,
                params=params,
                secrets=secrets,
                actor=ACTOR,
                now=timezone.now(),
            )
        except (PaycenterError, ChannelError, ChannelUnreachable) as exc:
            raise CommandError(f"Channel {channel!r} was not activated: {exc}") from exc
        self._print(mc, as_json=options["json"])

    def _read(self, path: str) -> dict:
        try:
            text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc.strerror}.") from exc
        try:
            values = json.loads(text)
        except ValueError as exc:
            raise CommandError(f"{path} is not JSON: {exc}.") from exc
        if not isinstance(values, dict):
            raise CommandError(f"{path} must hold a JSON object of parameter names to values.")
        return values

    def _print(self, mc: MerchantChannel, *, as_json: bool) -> None:
        result = {"merchant_channel_id": mc.pk, "channel": mc.channel, "state": mc.status}
        if as_json:
            self.stdout.write(json.dumps(result))
            return
        self.stdout.write(f"Channel {mc.channel} of merchant {mc.merchant_id}: {mc.status} (id {mc.pk}).")
