from django.db import models


class StatementFormat(models.TextChoices):
    SANDBOX = "sandbox"
    WECHATPAY = "wechatpay"
    ALIPAY = "alipay"
    GENERIC = "generic"


class LineType(models.TextChoices):
    PAYMENT = "payment"
    REFUND = "refund"


class BatchState(models.TextChoices):
    IMPORTED = "imported"
    MATCHING = "matching"
    BALANCED = "balanced"
    WITH_DISCREPANCIES = "with_discrepancies"
    CLOSED = "closed"


class DiscrepancyClass(models.TextChoices):
    MISSING_OURS = "missing_ours", "missing on our side"
    MISSING_CHANNEL = "missing_channel", "missing at the channel"
    AMOUNT_MISMATCH = "amount_mismatch"
    STATUS_MISMATCH = "status_mismatch"
    CURRENCY_MISMATCH = "currency_mismatch"
    FEE_MISMATCH = "fee_mismatch"


class DiscrepancyState(models.TextChoices):
    OPEN = "open"
    RESOLVED = "resolved"
    IGNORED = "ignored"
