"""Alipay's RSA2 signatures (SHA256withRSA, PKCS#1 v1.5), as the platform computes them.

Only `cryptography` is used: this package imports nothing from Paycenter.
"""

import base64

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa


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


def sign_content(params: dict, *, exclude: tuple[str, ...] = ("sign",)) -> str:
    """The sorted `k=v&…` string of every non-empty parameter but the excluded ones. Requests
    exclude only `sign`; notifications also `sign_type`."""
    return "&".join(
        f"{k}={params[k]}" for k in sorted(params) if k not in exclude and params[k] not in (None, "")
    )


def sign(key: rsa.RSAPrivateKey, content: str) -> str:
    return base64.b64encode(key.sign(content.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())).decode()


def verify(public_pem: str, content: str, signature: str) -> bool:
    try:
        key = serialization.load_pem_public_key(public_pem.encode())
        key.verify(
            base64.b64decode(signature, validate=True),
            content.encode("utf-8"),
            padding.PKCS1v15(),
            hashes.SHA256(),
        )
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True
