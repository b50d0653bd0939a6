from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "orders"

    def ready(self) -> None:
        from orders import demo, subscribers, tasks  # noqa: F401  (they register themselves)
