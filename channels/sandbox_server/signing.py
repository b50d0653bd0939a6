"""RSA-PKCS1v15-SHA256 signatures as docs/sandbox.md defines them.

Only `cryptography` is needed, so Paycenter's client plugin may use these helpers to sign
its requests and verify the platform's answers without touching the server code.
"""

import base64
import binascii
import time

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

PrivateKey = rsa.RSAPrivateKey | str | bytes
PublicKey = rsa.RSAPublicKey | str | bytes


def generate_private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def private_key_pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def public_key_pem(key: rsa.RSAPrivateKey | rsa.RSAPublicKey) -> str:
    public = key.public_key() if isinstance(key, rsa.RSAPrivateKey) else key
    return public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def load_private_key(key: PrivateKey) -> rsa.RSAPrivateKey:
    if isinstance(key, rsa.RSAPrivateKey):
        return key
    loaded = serialization.load_pem_private_key(key.encode() if isinstance(key, str) else key, password=None)
    if not isinstance(loaded, rsa.RSAPrivateKey):
        raise ValueError("not an RSA private key")
    return loaded


def load_public_key(key: PublicKey) -> rsa.RSAPublicKey:
    """Raises ValueError for anything that is not an RSA public key in PEM."""
    if isinstance(key, rsa.RSAPublicKey):
        return key
    loaded = serialization.load_pem_public_key(key.encode() if isinstance(key, str) else key)
    if not isinstance(loaded, rsa.RSAPublicKey):
        raise ValueError("not an RSA public key")
    return loaded


def sign(private_key: PrivateKey, message: bytes) -> str:
    raw = load_private_key(private_key).sign(message, padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(raw).decode("ascii")


def verify(public_key: PublicKey, message: bytes, signature: str | None) -> bool:
    if not signature:
        return False
    try:
        raw = base64.b64decode(signature, validate=True)
        load_public_key(public_key).verify(raw, message, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True


def request_message(*, method: str, path: str, timestamp: str, body: bytes) -> bytes:
    """METHOD \\n PATH_WITH_QUERY \\n TIMESTAMP \\n BODY — what a merchant signs."""
    return f"{method.upper()}\n{path}\n{timestamp}\n".encode() + body


def response_message(*, timestamp: str, body: bytes) -> bytes:
    """TIMESTAMP \\n BODY — what the platform signs on responses and notifications."""
    return f"{timestamp}\n".encode() + body


def request_headers(
    *,
    merchant_id: str,
    private_key: PrivateKey,
    method: str,
    path: str,
    body: bytes = b"",
    timestamp: int | str | None = None,
) -> dict[str, str]:
    """The three X-Sandbox-* headers for one request; `path` includes the query string as sent."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    message = request_message(method=method, path=path, timestamp=stamp, body=body)
    return {
        "X-Sandbox-Merchant": merchant_id,
        "X-Sandbox-Timestamp": stamp,
        "X-Sandbox-Signature": sign(private_key, message),
    }


def verify_request(
    public_key: PublicKey, *, method: str, path: str, timestamp: str, body: bytes, signature: str | None
) -> bool:
    message = request_message(method=method, path=path, timestamp=timestamp, body=body)
    return verify(public_key, message, signature)


def response_headers(*, private_key: PrivateKey, body: bytes, timestamp: int | str | None = None) -> dict:
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    return {
        "X-Sandbox-Timestamp": stamp,
        "X-Sandbox-Signature": sign(private_key, response_message(timestamp=stamp, body=body)),
    }


def verify_response(
    public_key: PublicKey, *, timestamp: str | None, body: bytes, signature: str | None
) -> bool:
    """Checks a sandbox response or notification against the platform public key."""
    if timestamp is None:
        return False
    return verify(public_key, response_message(timestamp=timestamp, body=body), signature)
