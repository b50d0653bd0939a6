"""The Alipay OpenAPI channel (docs/channels.md, "Alipay")."""

from channels.plugins.alipay.plugin import AlipayChannel

__all__ = ["AlipayChannel"]
