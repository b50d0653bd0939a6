from django.db import models


class MerchantChannelStatus(models.TextChoices):
    PENDING = "pending"
    ACTIVE = "active"
    DISABLED = "disabled"


class Method(models.TextChoices):
    """How the payer pays (D2)."""

    PAGE = "page"
    WAP = "wap"
    APP = "app"
    NATIVE = "native"
    JSAPI = "jsapi"
    MINI_PROGRAM = "mini_program"
    BALANCE = "balance"


class ChannelState(models.TextChoices):
    """What the channel says of a payment or refund, normalized."""

    PENDING = "pending"
    AUTHORIZED = "authorized"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CLOSED = "closed"
    UNKNOWN = "unknown"  # we asked and got no answer (timeout): only a query may tell


class NotificationOutcome(models.TextChoices):
    RECEIVED = "received"
    APPLIED = "applied"
    NOTED = "noted"  # a state without money (still pending) recorded
    DUPLICATE = "duplicate"
    IGNORED = "ignored"  # nothing to do with it (e.g. a state we do not act on)
    FAILED_VERIFICATION = "failed_verification"
    AMOUNT_MISMATCH = "amount_mismatch"
    CURRENCY_MISMATCH = "currency_mismatch"
    UNKNOWN_PAYMENT = "unknown_payment"
    LATE_SUCCESS = "late_success"
    MALFORMED = "malformed"
