"""The WeChat Pay API v3 channel (docs/channels.md, "WeChat Pay")."""

from channels.plugins.wechatpay.plugin import WechatPayChannel

__all__ = ["WechatPayChannel"]
