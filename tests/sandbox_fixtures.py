"""Fixtures for talking to the sandbox payment platform over real HTTP (loaded by tests/conftest.py)."""

import base64
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from channels.sandbox_server import serve_in_thread


def _pem(key: rsa.RSAPrivateKey) -> str:
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return public.decode()


def sign_request(
    private_key: rsa.RSAPrivateKey, *, method: str, path: str, timestamp: str, body: bytes
) -> str:
    """Written from docs/sandbox.md, independent of the server's own helpers."""
    message = f"{method}\n{path}\n{timestamp}\n".encode() + body
    return base64.b64encode(private_key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()


def platform_signature_ok(platform_pem: str, response_headers, body: bytes) -> bool:
    key = serialization.load_pem_public_key(platform_pem.encode())
    message = f"{response_headers['X-Sandbox-Timestamp']}\n".encode() + body
    try:
        key.verify(
            base64.b64decode(response_headers["X-Sandbox-Signature"]),
            message,
            padding.PKCS1v15(),
            hashes.SHA256(),
        )
    except Exception:
        return False
    return True


@dataclass
class Merchant:
    url: str
    merchant_id: str
    private_key: rsa.RSAPrivateKey
    platform_public_key: str

    def request(
        self,
        method: str,
        path: str,
        payload: object = None,
        *,
        timestamp: int | None = None,
        sign_body: bytes | None = None,
        timeout: float = 10,
    ) -> requests.Response:
        """A signed request; `sign_body` signs other bytes than those sent (a tampered body)."""
        body = b"" if payload is None else json.dumps(payload).encode()
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        signed = body if sign_body is None else sign_body
        headers = {
            "Content-Type": "application/json",
            "X-Sandbox-Merchant": self.merchant_id,
            "X-Sandbox-Timestamp": stamp,
            "X-Sandbox-Signature": sign_request(
                self.private_key, method=method, path=path, timestamp=stamp, body=signed
            ),
        }
        return requests.request(method, self.url + path, data=body, headers=headers, timeout=timeout)

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, payload: object = None, **kwargs) -> requests.Response:
        return self.request("POST", path, {} if payload is None else payload, **kwargs)


class RunningSandbox:
    def __init__(self, handle) -> None:
        self.handle = handle
        self.url = handle.url

    def register_merchant(self, name: str = "Acme") -> Merchant:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        reply = requests.post(
            f"{self.url}/v1/merchants", json={"name": name, "public_key": _pem(key)}, timeout=10
        )
        assert reply.status_code == 201, reply.text
        data = reply.json()
        return Merchant(self.url, data["merchant_id"], key, data["platform_public_key"])


@pytest.fixture
def sandbox(tmp_path):
    handle = serve_in_thread(port=0, db_path=str(tmp_path / "sandbox.sqlite3"))
    yield RunningSandbox(handle)
    handle.stop()


@dataclass
class Received:
    headers: dict
    body: bytes
    at: float = field(default_factory=time.monotonic)

    @property
    def json(self) -> dict:
        return json.loads(self.body)


class Receiver:
    """A merchant's notify endpoint: records each POST and answers from `replies`, then `success`."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.replies: list[tuple[int, str]] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver._lock:
                    receiver.received.append(Received(dict(self.headers), body))
                    status, text = receiver.replies.pop(0) if receiver.replies else (200, "success")
                payload = text.encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/notify/sandbox/1"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.02)
        raise AssertionError(f"expected {count} notifications, got {len(self.received)}")

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.stop()
