"""A plugin declaring every kind of parameter in two modes, and keys to give it, for the
tests of the activation form and `channel_activate` (the real plugins declare fewer)."""

from functools import cache

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from channels import registry
from channels.base import ORDINARY, SERVICE_PROVIDER, ChannelPlugin, Parameter

SP = frozenset({SERVICE_PROVIDER})


class DeclaredChannel(ChannelPlugin):
    name = "declared"
    methods = frozenset({"page"})
    parameters = (
        Parameter(name="mode", label="Mode", kind="choice", choices=(ORDINARY, SERVICE_PROVIDER)),
        Parameter(name="app_id", label="App ID"),
        Parameter(name="app_private_key", label="App private key", kind="pem_private"),
        Parameter(name="platform_public_key", label="Platform public key", kind="pem_public"),
        Parameter(name="api_key", label="API key", kind="secret"),
        Parameter(name="gateway_url", label="Gateway URL", kind="url", required=False),
        Parameter(name="sub_mchid", label="Sub-merchant ID", modes=SP),
    )


@pytest.fixture
def declared_channel():
    plugin = registry.register(DeclaredChannel())
    yield plugin
    registry.unregister(plugin.name)


@cache
def rsa_key(bits: int = 2048) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def private_pem(key=None, *, fmt=serialization.PrivateFormat.PKCS8, password: bytes | None = None) -> str:
    key = key or rsa_key()
    encryption = serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    return key.private_bytes(serialization.Encoding.PEM, fmt, encryption).decode()


def public_pem(key=None) -> str:
    key = key or rsa_key()
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def ec_private_pem() -> str:
    return private_pem(ec.generate_private_key(ec.SECP256R1()))


def bare(pem: str) -> str:
    """The base64 body alone, as the platforms' consoles show a key."""
    return "".join(line for line in pem.splitlines() if not line.startswith("-----"))


def good_values(**changes: str) -> dict:
    values = {
        "mode": ORDINARY,
        "app_id": "2021000000000001",
        "app_private_key": private_pem(),
        "platform_public_key": public_pem(rsa_key(3072)),
        "api_key": "k" * 32,
        "gateway_url": "https://openapi.example.com/gateway.do",
    }
    values.update(changes)
    return {k: v for k, v in values.items() if v is not None}
