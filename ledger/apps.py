from django.apps import AppConfig


class LedgerConfig(AppConfig):
    name = "ledger"

    def ready(self) -> None:
        from ledger import demo, tasks  # noqa: F401  (demo registers its seeder)
        from ledger.services import journal

        journal.apply_later_with(tasks.ledger_apply_later)
