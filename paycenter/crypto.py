"""Secrets at rest (app secrets, channel keys): Fernet, with key rotation.

`PAYCENTER_ENCRYPTION_KEYS` holds Fernet keys, newest first; values are written with the
newest and read with any. Without a key one is derived from SECRET_KEY, which is enough
for the embedded default and nothing else.
"""

import base64
import hashlib
from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models


@cache
def _fernet() -> MultiFernet:
    keys = list(settings.PAYCENTER_ENCRYPTION_KEYS)
    if not keys:
        digest = hashlib.sha256(("paycenter-at-rest:" + settings.SECRET_KEY).encode()).digest()
        keys = [base64.urlsafe_b64encode(digest).decode()]
    try:
        return MultiFernet([Fernet(key) for key in keys])
    except ValueError as exc:
        raise ImproperlyConfigured("PAYCENTER_ENCRYPTION_KEYS holds an invalid key") from exc


def encrypt(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ImproperlyConfigured("A secret at rest cannot be decrypted with any key") from exc


class EncryptedTextField(models.TextField):
    """Stores ciphertext; Python code sees plaintext. Never put one in a form or a log."""

    def from_db_value(self, value, expression, connection):
        return value if value in (None, "") else decrypt(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        return value if value in (None, "") else encrypt(value)

    def value_to_string(self, obj):
        """Serialization (dumpdata) writes the ciphertext, never the secret."""
        value = self.value_from_object(obj)
        return "" if value in (None, "") else encrypt(value)

    def to_python(self, value):
        """Deserialization (loaddata) hands back that ciphertext: decrypt it once."""
        if isinstance(value, str) and value.startswith("gAAAAA"):
            try:
                return _fernet().decrypt(value.encode()).decode()
            except InvalidToken:
                return value
        return value
