"""The WeChat Pay v3 cryptography the platform side needs: RSA-SHA256 signatures (PKCS#1
v1.5, base64), the `Authorization` header's fields, and AEAD_AES_256_GCM for callback
resources. `cryptography` only, like the rest of this package."""

import base64
import re
import secrets

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

SCHEMA = "WECHATPAY2-SHA256-RSA2048"
_FIELD = re.compile(r'(\w+)="([^"]*)"')


def generate_private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_key_pem(key: rsa.RSAPrivateKey) -> str:
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return public.decode()


def private_key_pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def sign(key: rsa.RSAPrivateKey, message: bytes) -> str:
    return base64.b64encode(key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()


def verify(public_pem: str, message: bytes, signature: str) -> bool:
    try:
        key = serialization.load_pem_public_key(public_pem.encode())
        key.verify(base64.b64decode(signature, validate=True), message, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def parse_authorization(header: str) -> dict[str, str] | None:
    """`WECHATPAY2-SHA256-RSA2048 mchid="…",nonce_str="…",…` → its fields, or None."""
    schema, _, rest = header.partition(" ")
    if schema != SCHEMA:
        return None
    fields = dict(_FIELD.findall(rest))
    if not {"mchid", "nonce_str", "timestamp", "serial_no", "signature"} <= fields.keys():
        return None
    return fields


def request_message(method: str, path: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    return f"{method}\n{path}\n{timestamp}\n{nonce}\n".encode() + body + b"\n"


def response_message(timestamp: str, nonce: str, body: bytes) -> bytes:
    return f"{timestamp}\n{nonce}\n".encode() + body + b"\n"


def nonce(length: int = 32) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    return "".join(secrets.choice(alphabet) for _ in range(length))


def encrypt_resource(apiv3_key: str, plaintext: bytes, associated_data: str) -> dict:
    """A callback's `resource`: AES-256-GCM with a 12-character nonce, tag appended."""
    iv = nonce(12)
    ciphertext = AESGCM(apiv3_key.encode()).encrypt(iv.encode(), plaintext, associated_data.encode())
    return {
        "algorithm": "AEAD_AES_256_GCM",
        "ciphertext": base64.b64encode(ciphertext).decode(),
        "associated_data": associated_data,
        "nonce": iv,
    }


def decrypt_resource(apiv3_key: str, resource: dict) -> bytes | None:
    try:
        return AESGCM(apiv3_key.encode()).decrypt(
            resource["nonce"].encode(),
            base64.b64decode(resource["ciphertext"]),
            resource.get("associated_data", "").encode(),
        )
    except (InvalidTag, KeyError, ValueError):
        return None
