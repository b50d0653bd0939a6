import json

from django.core.management.base import BaseCommand

from paycenter.demo import seeders


class Command(BaseCommand):
    help = "Create (or keep) the demo merchant, app, customer and balances. Idempotent."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--json", action="store_true", help="print the demo app's credentials as JSON")

    def handle(self, *args: object, **options: object) -> None:
        context: dict = {}
        # No outer transaction: seeders call durable use cases, and each is idempotent.
        for _name, seed in seeders():
            seed(context)
        credentials = {key: context[key] for key in ("merchant_id", "app_id", "secret")}
        if options["json"]:
            self.stdout.write(json.dumps(credentials))
            return
        self.stdout.write(self.style.SUCCESS("Demo data ready."))
        for key, value in credentials.items():
            self.stdout.write(f"  {key}: {value}")
        for line in context.get("notes", []):
            self.stdout.write(f"  {line}")
