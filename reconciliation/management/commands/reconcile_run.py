"""python manage.py reconcile_run --date YYYY-MM-DD [--json]

Downloads each active merchant channel's statement of the day through its plugin, imports
and matches it (reconciliation.services.daily). Exits 1 when any channel failed."""

import json
from datetime import date

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from reconciliation.services.daily import reconcile_run


class Command(BaseCommand):
    help = "Download, import and match every active merchant channel's statement of a day."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--date", required=True, type=date.fromisoformat, help="YYYY-MM-DD")
        parser.add_argument("--json", action="store_true", help="end with one JSON line")

    def handle(self, *args: object, **options: object) -> None:
        results = reconcile_run(day=options["date"], now=timezone.now())
        for r in results:
            outcome = f"batch {r.batch_id}: {r.state}" if r.batch_id else f"failed: {r.error}"
            self.stdout.write(f"{r.channel} (merchant channel {r.merchant_channel_id}): {outcome}")
        if options["json"]:
            self.stdout.write(json.dumps([r.as_dict() for r in results]))
        if any(r.error for r in results):
            raise SystemExit(1)
