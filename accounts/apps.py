from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"

    def ready(self) -> None:
        # Registrations: the demo seeder, and the outbox handler of topic "webhook".
        from accounts import demo, webhooks  # noqa: F401
