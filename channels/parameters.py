"""Checking what an operator gives for a merchant channel against the plugin's declared
`parameters` (channels.base.Parameter). One function, `parameters_clean`, serves both the
admin's activation form and `manage.py channel_activate --params`, so a value refused in
one is refused in the other with the same words."""

import base64
import binascii
import json
from collections.abc import Collection, Mapping

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

from channels.base import ORDINARY, ChannelPlugin, Parameter
from channels.errors import InvalidParameters
from channels.models import MerchantChannel

MODE = "mode"  # a plugin with two modes declares a choice parameter of this name
MAX_LENGTH = 10_000  # the longest PEM key we take is about 3,300 characters
MIN_RSA_BITS = 2048  # both platforms sign with RSA-2048; a shorter key is a mistake
_url = URLValidator(schemes=["http", "https"])


def mode_of(*, plugin: ChannelPlugin, values: Mapping) -> str:
    """The mode a merchant channel is set up in: its `mode` parameter when the plugin
    declares one, else ordinary."""
    declared = {p.name: p for p in plugin.parameters}
    given = values.get(MODE)
    if MODE in declared and isinstance(given, str) and given.strip() in declared[MODE].choices:
        return given.strip()
    return ORDINARY  # also when the mode given is wrong: that one error is reported, not every field's


def applies(parameter: Parameter, *, mode: str) -> bool:
    return mode in parameter.modes


def secrets_stored(*, mc: MerchantChannel | None) -> frozenset[str]:
    """The names of the secrets a merchant channel holds (their values are not returned)."""
    if mc is None or not mc.secrets:
        return frozenset()
    return frozenset(json.loads(mc.secrets))


def parameters_clean(
    *, plugin: ChannelPlugin, values: Mapping, stored_secrets: Collection[str] = ()
) -> tuple[dict, dict]:
    """(params, secrets) from what the operator gave, or InvalidParameters naming every bad
    field. Unknown names are refused; a required parameter of the chosen mode is needed
    unless it is a secret already stored (left empty means keep it); one of another mode
    must be left empty. Empty values are not given; a `mode` not given is ordinary. PEM keys
    come back in one normal form (PKCS#8 / SubjectPublicKeyInfo), so a bare base64 key as
    the platforms' consoles show it is taken too."""
    declared = {p.name: p for p in plugin.parameters}
    errors: dict[str, str] = {}
    for name in values:
        if name not in declared:
            known = ", ".join(declared) or "none"
            errors[name] = f"Unknown parameter {name!r} for channel {plugin.name!r} (it takes: {known})."
    mode = mode_of(plugin=plugin, values=values)
    if MODE in declared and _text(values.get(MODE)) == "":
        values = {**values, MODE: ORDINARY}  # the mode left out is the ordinary one
    params: dict = {}
    secrets: dict = {}
    for name, parameter in declared.items():
        raw = values.get(name)
        text = _text(raw)
        if text is None:
            errors[name] = f"{parameter.label}: give a string, not {type(raw).__name__}."
            continue
        if not applies(parameter, mode=mode):
            if text:
                errors[name] = f"{parameter.label} applies only in {_modes(parameter)} mode; leave it empty."
            continue
        if not text:
            if parameter.required and not (parameter.secret and name in stored_secrets):
                errors[name] = f"{parameter.label} is required."
            continue
        try:
            value = _checked(parameter, text)
        except ValueError as exc:
            errors[name] = f"{parameter.label}: {exc}"
            continue
        (secrets if parameter.secret else params)[name] = value
    if errors:
        raise InvalidParameters(errors)
    return params, secrets


def _text(raw: object) -> str | None:
    if raw is None:
        return ""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):  # a numeric id (mchid) written as a JSON number
        return str(raw)
    return raw.strip() if isinstance(raw, str) else None


def _modes(parameter: Parameter) -> str:
    return " or ".join(sorted(m.replace("_", "-") for m in parameter.modes))


def _checked(parameter: Parameter, text: str) -> str:
    if len(text) > MAX_LENGTH:
        raise ValueError(f"longer than {MAX_LENGTH} characters.")
    if parameter.kind == "url":
        try:
            _url(text)
        except ValidationError as exc:
            raise ValueError("not a valid http(s) URL.") from exc
        return text
    if parameter.kind == "choice":
        if text not in parameter.choices:
            raise ValueError(f"choose one of {', '.join(parameter.choices)}.")
        return text
    if parameter.kind == "pem_private":
        return _private_pem(text)
    if parameter.kind == "pem_public":
        return _public_pem(text)
    return text  # text, secret


def _private_pem(text: str) -> str:
    if "PUBLIC KEY" in text or "CERTIFICATE" in text:
        raise ValueError("this is a public key or certificate; the private key is needed here.")
    key = None
    for candidate in _pem_forms(text, ("PRIVATE KEY", "RSA PRIVATE KEY")):
        try:
            key = serialization.load_pem_private_key(candidate, password=None)
            break
        except TypeError as exc:
            raise ValueError("the key is encrypted; give it without a passphrase.") from exc
        except ValueError:
            continue
    if key is None:
        raise ValueError("not a valid PEM private key (-----BEGIN PRIVATE KEY----- …).")
    _rsa_size(key, rsa.RSAPrivateKey)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _public_pem(text: str) -> str:
    if "PRIVATE KEY" in text:
        raise ValueError("this is a private key; the platform's public key is needed here.")
    key = None
    for candidate in _pem_forms(text, ("PUBLIC KEY", "RSA PUBLIC KEY")):
        try:
            key = serialization.load_pem_public_key(candidate)
            break
        except ValueError:
            continue
    if key is None:
        raise ValueError("not a valid PEM public key (-----BEGIN PUBLIC KEY----- …).")
    _rsa_size(key, rsa.RSAPublicKey)
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def _pem_forms(text: str, labels: tuple[str, ...]) -> list[bytes]:
    """The text itself when it is PEM; a bare base64 body wrapped in each label otherwise."""
    if "-----BEGIN" in text:
        return [text.encode()]
    body = "".join(text.split())
    try:
        base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        return []
    lines = "\n".join(body[i : i + 64] for i in range(0, len(body), 64))
    return [f"-----BEGIN {label}-----\n{lines}\n-----END {label}-----\n".encode() for label in labels]


def _rsa_size(key: object, kind: type) -> None:
    if not isinstance(key, kind):
        raise ValueError("an RSA key is needed.")
    if key.key_size < MIN_RSA_BITS:
        raise ValueError(f"the RSA key has {key.key_size} bits; at least {MIN_RSA_BITS} are needed.")
