"""Alipay's RSA2 signatures, written with `cryptography` directly: the protocol is a sorted
`k=v&…` string signed with SHA256withRSA (PKCS#1 v1.5), small enough that an SDK would add
a dependency and hide nothing worth hiding (docs/channels.md)."""

import base64
import json

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from channels.base import VerificationFailed

REQUEST_EXCLUDED = ("sign",)  # a request's own sign_type is signed
NOTIFY_EXCLUDED = ("sign", "sign_type")  # a notification's is not


def sign_content(params: dict, *, exclude: tuple[str, ...] = REQUEST_EXCLUDED) -> str:
    """Every non-empty parameter but the excluded ones, sorted by name, raw values."""
    return "&".join(
        f"{k}={params[k]}" for k in sorted(params) if k not in exclude and params[k] not in (None, "")
    )


def load_private_key(pem: str) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("not an RSA private key")
    return key


def load_public_key(pem: str) -> rsa.RSAPublicKey:
    key = serialization.load_pem_public_key(pem.encode())
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("not an RSA public key")
    return key


def rsa2_sign(private_pem: str, content: str) -> str:
    signature = load_private_key(private_pem).sign(
        content.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256()
    )
    return base64.b64encode(signature).decode()


def rsa2_verify(public_pem: str, content: str, signature: str) -> None:
    try:
        load_public_key(public_pem).verify(
            base64.b64decode(signature, validate=True),
            content.encode("utf-8"),
            padding.PKCS1v15(),
            hashes.SHA256(),
        )
    except (InvalidSignature, ValueError, TypeError) as exc:
        raise VerificationFailed("Alipay's signature does not verify") from exc


def response_node(text: str, node: str) -> tuple[dict, str]:
    """The `…_response` node of an answer and its exact text as sent: Alipay signs those
    bytes, not a re-serialization of them. An `error_response` node stands in when present."""
    decoder = json.JSONDecoder()
    for name in (node, "error_response"):
        start = text.find(f'"{name}"')
        if start < 0:
            continue
        colon = text.index(":", start + len(name) + 2)
        begin = colon + 1
        while text[begin] in " \t\r\n":
            begin += 1
        value, end = decoder.raw_decode(text, begin)
        if isinstance(value, dict):
            return value, text[begin:end]
    raise ValueError(f"no {node} in the answer")
