"""WeChat Pay v3 signatures and callback decryption, with `cryptography` directly.

Why not the wechatpayv3 SDK: it would be a dependency for three primitives (an RSA-SHA256
signature, its verification, AES-256-GCM), it reads keys from files and fetches platform
certificates itself, and its HTTP calls would bypass our timeouts, the gateway's logging
and our mapping of failures to unreachable/timeout/refused. The messages below are the
published ones; tests check them against values computed independently.
"""

import base64
import secrets

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from channels.base import VerificationFailed

SCHEMA = "WECHATPAY2-SHA256-RSA2048"
SIGNATURE_WINDOW = 300  # seconds: older answers and callbacks are refused (replays)


def nonce(length: int = 32) -> str:
    return secrets.token_hex(length // 2).upper()


def load_private_key(pem: str) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("not an RSA private key")
    return key


def sign(private_pem: str, message: bytes) -> str:
    key = load_private_key(private_pem)
    return base64.b64encode(key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()


def authorization(
    *,
    mchid: str,
    serial_no: str,
    private_pem: str,
    method: str,
    path: str,
    body: bytes,
    timestamp: str,
    nonce_str: str,
) -> str:
    """The `Authorization` header of a request: the signature covers
    METHOD\\nPATH?QUERY\\nTIMESTAMP\\nNONCE\\nBODY\\n."""
    message = f"{method}\n{path}\n{timestamp}\n{nonce_str}\n".encode() + body + b"\n"
    signature = sign(private_pem, message)
    return (
        f'{SCHEMA} mchid="{mchid}",nonce_str="{nonce_str}",timestamp="{timestamp}",'
        f'serial_no="{serial_no}",signature="{signature}"'
    )


def verify(*, public_pem: str, key_id: str, headers: dict, body: bytes, now: float) -> None:
    """An answer or callback is the platform's: Wechatpay-Serial names its public key,
    Wechatpay-Signature covers TIMESTAMP\\nNONCE\\nBODY\\n, and the timestamp is recent."""
    lower = {k.lower(): v for k, v in headers.items()}
    timestamp = lower.get("wechatpay-timestamp", "")
    nonce_str = lower.get("wechatpay-nonce", "")
    if lower.get("wechatpay-serial", "") != key_id:
        raise VerificationFailed("Wechatpay-Serial is not the platform public key id we know")
    if not timestamp.isascii() or not timestamp.isdigit() or not nonce_str:
        raise VerificationFailed("missing or malformed Wechatpay-Timestamp / Wechatpay-Nonce")
    if abs(now - int(timestamp)) > SIGNATURE_WINDOW:
        raise VerificationFailed("Wechatpay-Timestamp is more than 5 minutes off")
    message = f"{timestamp}\n{nonce_str}\n".encode() + body + b"\n"
    try:
        key = serialization.load_pem_public_key(public_pem.encode())
        signature = base64.b64decode(lower.get("wechatpay-signature", ""), validate=True)
        key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError, TypeError) as exc:
        raise VerificationFailed("Wechatpay-Signature does not verify with the platform key") from exc


def decrypt(*, apiv3_key: str, resource: dict) -> bytes:
    """A callback's `resource`: AEAD_AES_256_GCM, key = the APIv3 key, the tag at the end."""
    if resource.get("algorithm") != "AEAD_AES_256_GCM":
        raise VerificationFailed("resource.algorithm is not AEAD_AES_256_GCM")
    try:
        return AESGCM(apiv3_key.encode()).decrypt(
            str(resource["nonce"]).encode(),
            base64.b64decode(resource["ciphertext"], validate=True),
            str(resource.get("associated_data") or "").encode(),
        )
    except (InvalidTag, KeyError, ValueError, TypeError) as exc:
        raise VerificationFailed("resource does not decrypt with the APIv3 key") from exc


def pay_sign(*, private_pem: str, fields: list[str]) -> str:
    """Front-end parameters (JSAPI, mini-program, app): the fields, each followed by \\n."""
    return sign(private_pem, "".join(f"{field}\n" for field in fields).encode())


def verify_key_loads(public_pem: str) -> None:
    """Raises ValueError when the text is not an RSA public key in PEM."""
    key = serialization.load_pem_public_key(public_pem.encode())
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("not an RSA public key")
