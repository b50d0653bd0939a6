"""A stand-in third-party payment platform (docs/sandbox.md), run as its own HTTP server.

It imports nothing from Paycenter: its own SQLite file, its own RSA key pair, merchants
known only by the public keys they registered.

    handle = serve_in_thread(port=0)       # tests
    handle.url, handle.port; handle.stop()

`signing` holds the signature helpers a client needs (`request_headers`,
`verify_response`, key generation and PEM loading); it depends on `cryptography` only.
"""

from . import signing
from .server import SandboxHandle
from .signing import (
    generate_private_key,
    load_private_key,
    load_public_key,
    private_key_pem,
    public_key_pem,
    request_headers,
    verify_response,
)

__all__ = [
    "SandboxHandle",
    "generate_private_key",
    "load_private_key",
    "load_public_key",
    "private_key_pem",
    "public_key_pem",
    "request_headers",
    "serve_in_thread",
    "signing",
    "verify_response",
]


def serve_in_thread(
    *, host: str = "127.0.0.1", port: int = 0, db_path: str | None = None, public_url: str | None = None
) -> SandboxHandle:
    """Starts the sandbox on a background thread; `port=0` picks a free port, `db_path=None` a temp file."""
    return SandboxHandle(host=host, port=port, db_path=db_path, public_url=public_url).start()
