from django.core.management.base import BaseCommand, CommandError

from ledger.verify import ledger_verify


class Command(BaseCommand):
    help = "Prove the ledger's invariants over the whole journal; exit 1 with a report if any fails."

    def handle(self, *args: object, **options: object) -> None:
        report = ledger_verify()
        for line in report.lines():
            self.stdout.write(line)
        if not report.clean:
            raise CommandError(f"ledger_verify: {len(report.problems)} invariant(s) broken")
        self.stdout.write(self.style.SUCCESS("ledger_verify: all invariants hold"))
