"""python manage.py reconcile_import (--merchant-channel ID | --merchant MERCHANT_ID --channel CODE)
--format sandbox|wechatpay|alipay|generic --date YYYY-MM-DD FILE [--json]

Imports the statement, then matches the day. With --json the last line printed is
{"batch_id", "lines", "matched", "discrepancies": {class: count}}."""

import json
from datetime import date

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from channels.models import MerchantChannel
from paycenter.errors import PaycenterError
from reconciliation.choices import StatementFormat
from reconciliation.errors import StatementInvalid
from reconciliation.services import batch_match, statement_import


class Command(BaseCommand):
    help = "Import a channel statement for a merchant channel and day, then match it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--merchant-channel", type=int, help="the merchant channel's id")
        parser.add_argument("--merchant", type=int, help="the merchant's id (with --channel)")
        parser.add_argument("--channel", help="the channel's code (with --merchant)")
        parser.add_argument("--format", required=True, choices=StatementFormat.values)
        parser.add_argument("--date", required=True, type=date.fromisoformat, help="YYYY-MM-DD")
        parser.add_argument("file")
        parser.add_argument("--json", action="store_true", help="end with one JSON line")

    def _merchant_channel_id(self, options: dict) -> int:
        if options["merchant_channel"] is not None:
            if options["merchant"] is not None or options["channel"]:
                raise CommandError("Give --merchant-channel, or --merchant with --channel, not both.")
            return options["merchant_channel"]
        if options["merchant"] is None or not options["channel"]:
            raise CommandError("Give --merchant-channel ID, or --merchant MERCHANT_ID --channel CODE.")
        mc = MerchantChannel.objects.filter(
            merchant_id=options["merchant"], channel=options["channel"]
        ).first()
        if mc is None:
            raise CommandError(f"Merchant {options['merchant']} has no {options['channel']} channel.")
        return mc.pk

    def handle(self, *args: object, **options: object) -> None:
        mc_id = self._merchant_channel_id(options)
        try:
            batch = statement_import(
                merchant_channel_id=mc_id,
                format=str(options["format"]),
                day=options["date"],
                file=str(options["file"]),
                now=timezone.now(),
            )
            batch = batch_match(batch_id=batch.pk, now=timezone.now())
        except StatementInvalid as error:
            for row_error in error.errors:
                self.stderr.write(str(row_error))
            raise CommandError(error.message) from None
        except (PaycenterError, OSError) as error:
            raise CommandError(str(error)) from None
        summary = batch.summary
        classes = {kind: value["count"] for kind, value in summary["classes"].items()}
        self.stdout.write(
            f"Batch {batch.pk} ({batch.merchant_channel.channel} {batch.statement_date}): "
            f"{summary['lines']['count']} lines, {summary['matched']['count']} matched, "
            f"{summary['discrepancies']} discrepancies — {batch.state}"
        )
        if options["json"]:
            result = {
                "batch_id": batch.pk,
                "lines": summary["lines"]["count"],
                "matched": summary["matched"]["count"],
                "discrepancies": classes,
            }
            self.stdout.write(json.dumps(result))
