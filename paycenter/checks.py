"""`manage.py check --deploy` refuses to start production with the embedded defaults."""

from django.conf import settings
from django.core.checks import Error, register

EMBEDDED_SECRET_KEY = "insecure-embedded-default-change-me"


@register(deploy=True)
def secrets_are_set(app_configs: object = None, **kwargs: object) -> list[Error]:
    errors = []
    if settings.SECRET_KEY == EMBEDDED_SECRET_KEY:
        errors.append(Error("SECRET_KEY is the published embedded default.", id="paycenter.E001"))
    if not settings.PAYCENTER_ENCRYPTION_KEYS:
        errors.append(
            Error(
                "PAYCENTER_ENCRYPTION_KEYS is empty: secrets at rest would use a key derived "
                "from SECRET_KEY.",
                hint="Generate one: python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'",
                id="paycenter.E002",
            )
        )
    return errors
