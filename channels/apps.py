from django.apps import AppConfig


class ChannelsConfig(AppConfig):
    name = "channels"
    verbose_name = "Payment channels"

    def ready(self) -> None:
        from channels import registry
        from channels.plugins.alipay import AlipayChannel
        from channels.plugins.balance import BalanceChannel
        from channels.plugins.sandbox import SandboxChannel
        from channels.plugins.wechatpay import WechatPayChannel

        registry.register(BalanceChannel())
        registry.register(SandboxChannel())
        registry.register(AlipayChannel())
        registry.register(WechatPayChannel())

        from channels import (
            alipay_demo,  # noqa: F401  (the demo merchant on the fake Alipay)
            demo,  # noqa: F401  (registers the demo seeder)
            wechatpay_demo,  # noqa: F401  (the demo merchant on the fake WeChat Pay)
        )
