from django.apps import AppConfig


class ChannelsConfig(AppConfig):
    name = "channels"
    verbose_name = "Payment channels"

    def ready(self) -> None:
        from channels import registry
        from channels.plugins.alipay import AlipayChannel
        from channels.plugins.balance import BalanceChannel
        from channels.plugins.sandbox import SandboxChannel

        registry.register(BalanceChannel())
        registry.register(SandboxChannel())
        registry.register(AlipayChannel())

        from channels import demo  # noqa: F401  (registers the demo seeder)
