from django.apps import AppConfig


class PaycenterConfig(AppConfig):
    name = "paycenter"
    verbose_name = "Paycenter kernel"

    def ready(self) -> None:
        from paycenter import checks, outbox, tasks, trace  # noqa: F401  (checks registers itself)
        from paycenter.api import schema  # noqa: F401  (registers the signing scheme)

        trace.connect_celery_signals()
        outbox.dispatch_with(tasks.outbox_dispatch_enqueue)
