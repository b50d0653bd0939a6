"""A threaded WSGI server, so a held `timeout` answer or a slow client blocks nobody else."""

import contextlib
import logging
import os
import tempfile
import threading
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

from .app import SandboxApp
from .core import Sandbox
from .notifier import Dispatcher

logger = logging.getLogger(__name__)


class _Handler(WSGIRequestHandler):
    def get_environ(self) -> dict:
        environ = super().get_environ()
        # The signed path is the one on the request line, before any decoding.
        environ["RAW_URI"] = self.path
        return environ

    def log_message(self, format: str, *args) -> None:
        logger.debug("%s %s", self.address_string(), format % args)


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256


class SandboxHandle:
    """A running sandbox: `.url`, `.port`, `.stop()`; also a context manager."""

    def __init__(self, *, host: str, port: int, db_path: str | None, public_url: str | None) -> None:
        self._temp_db = None
        if db_path is None:
            fd, db_path = tempfile.mkstemp(prefix="sandbox-", suffix=".sqlite3")
            os.close(fd)
            self._temp_db = db_path
        self.db_path = db_path
        self.host = host
        self._server = _Server((host, port), _Handler)
        self.port = self._server.server_address[1]
        url_host = "127.0.0.1" if host in {"", "0.0.0.0"} else host  # noqa: S104 - only naming it
        self.url = f"http://{url_host}:{self.port}"
        self.sandbox = Sandbox(db_path=db_path, public_url=public_url or self.url)
        self._server.set_app(SandboxApp(self.sandbox))
        self._dispatcher = Dispatcher(self.sandbox)
        self._thread = threading.Thread(target=self._server.serve_forever, name="sandbox-http", daemon=True)
        self._stopped = False

    @property
    def public_url(self) -> str:
        return self.sandbox.public_url

    def start(self) -> "SandboxHandle":
        self._dispatcher.start()
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self.sandbox.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        self._dispatcher.stop()
        self.sandbox.store.close()
        if self._temp_db:
            for suffix in ("", "-wal", "-shm"):
                with contextlib.suppress(FileNotFoundError):
                    os.remove(self._temp_db + suffix)

    def __enter__(self) -> "SandboxHandle":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
