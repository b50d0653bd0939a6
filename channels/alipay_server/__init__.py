"""A stand-in for Alipay's open platform (docs/channels.md, "Alipay"), run as its own HTTP
server and speaking the real OpenAPI protocol: RSA2-signed gateway calls, signed JSON
answers, a hosted cashier, form-encoded signed notifications with Alipay's retry habit, and
the zipped GBK 业务明细 bill. It imports nothing from Paycenter.

    handle = serve_in_thread(port=0, speed=600)   # tests: retries 600 times faster
    handle.url, handle.gateway_url, handle.platform; handle.stop()
"""

from .server import AlipayHandle

__all__ = ["AlipayHandle", "serve_in_thread"]


def serve_in_thread(
    *, host: str = "127.0.0.1", port: int = 0, public_url: str | None = None, speed: float = 1.0
) -> AlipayHandle:
    """Starts the fake on a background thread; `port=0` picks a free port. `speed` divides
    the notification retry delays (4m, 10m, 10m, 1h, 2h, 6h, 15h)."""
    return AlipayHandle(host=host, port=port, public_url=public_url, speed=speed).start()
