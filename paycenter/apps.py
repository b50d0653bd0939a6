from django.apps import AppConfig


class PaycenterConfig(AppConfig):
    name = "paycenter"
    verbose_name = "Paycenter kernel"

    def ready(self) -> None:
        from paycenter import checks, trace  # noqa: F401  (checks registers itself)
        from paycenter.api import schema  # noqa: F401  (registers the signing scheme)

        trace.connect_celery_signals()
