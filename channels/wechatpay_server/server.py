"""A threaded WSGI server, so a held `timeout` answer or a slow client blocks nobody else."""

import logging
import threading
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

from .app import WechatPayApp
from .notifier import Notifier
from .platform import Platform

logger = logging.getLogger(__name__)


class _Handler(WSGIRequestHandler):
    def get_environ(self) -> dict:
        environ = super().get_environ()
        environ["RAW_URI"] = self.path  # the signed path is the one on the request line
        return environ

    def log_message(self, format: str, *args) -> None:
        logger.debug("%s %s", self.address_string(), format % args)


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256


class WechatPayHandle:
    """A running fake: `.url`, `.port`, `.platform`, `.stop()`; also a context manager."""

    def __init__(self, *, host: str, port: int, public_url: str | None, speed: float) -> None:
        self._server = _Server((host, port), _Handler)
        self.port = self._server.server_address[1]
        url_host = "127.0.0.1" if host in {"", "0.0.0.0"} else host  # noqa: S104 - only naming it
        self.url = f"http://{url_host}:{self.port}"
        self.platform = Platform(public_url=public_url or self.url, speed=speed)
        self._server.set_app(WechatPayApp(self.platform))
        self._notifier = Notifier(self.platform)
        self._thread = threading.Thread(target=self._server.serve_forever, name="wechatpay-http", daemon=True)
        self._stopped = False

    @property
    def public_url(self) -> str:
        return self.platform.public_url

    def start(self) -> "WechatPayHandle":
        self._notifier.start()
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self.platform.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        self._notifier.stop()

    def __enter__(self) -> "WechatPayHandle":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
