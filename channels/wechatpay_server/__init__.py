"""A stand-in WeChat Pay v3 platform (docs/channels.md, "WeChat Pay"), run as its own HTTP
server. It imports nothing from Paycenter: its own platform key pair and key id, merchants
known by the keys they registered, state in memory.

    handle = serve_in_thread(port=0, speed=1000)   # tests: retries 1000 times sooner
    handle.url, handle.platform; handle.stop()
"""

from .server import WechatPayHandle


def serve_in_thread(
    *, host: str = "127.0.0.1", port: int = 0, public_url: str | None = None, speed: float = 1.0
) -> WechatPayHandle:
    """Starts the fake on a background thread; `port=0` picks a free port."""
    return WechatPayHandle(host=host, port=port, public_url=public_url, speed=speed).start()


__all__ = ["WechatPayHandle", "serve_in_thread"]
