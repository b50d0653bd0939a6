"""A threaded WSGI server, so a held answer (the `timeout` behaviour) blocks nobody else."""

import logging
import threading
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

from .platform import Platform
from .web import AlipayApp

logger = logging.getLogger(__name__)


class _Handler(WSGIRequestHandler):
    def log_message(self, format: str, *args) -> None:
        logger.debug("%s %s", self.address_string(), format % args)


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256


class AlipayHandle:
    """A running fake: `.url`, `.gateway_url`, `.platform`, `.stop()`; also a context manager."""

    def __init__(self, *, host: str, port: int, public_url: str | None, speed: float) -> None:
        self._server = _Server((host, port), _Handler)
        self.port = self._server.server_address[1]
        url_host = "127.0.0.1" if host in {"", "0.0.0.0"} else host  # noqa: S104 - only naming it
        self.url = f"http://{url_host}:{self.port}"
        self.platform = Platform(public_url=public_url or self.url, speed=speed)
        self.gateway_url = self.platform.public_url + "/gateway.do"
        self._server.set_app(AlipayApp(self.platform))
        self._thread = threading.Thread(target=self._server.serve_forever, name="alipay-http", daemon=True)
        self._stopped = False

    def start(self) -> "AlipayHandle":
        self.platform.start()
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        self.platform.stop()

    def __enter__(self) -> "AlipayHandle":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
