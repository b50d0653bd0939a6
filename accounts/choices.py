from django.db import models


class MerchantStatus(models.TextChoices):
    APPLIED = "applied"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    CLOSED = "closed"


class AccountKind(models.TextChoices):
    CUSTOMER_WALLET = "customer_wallet"
    MERCHANT_SETTLEMENT = "merchant_settlement"
    PLATFORM_REVENUE = "platform_revenue"
    CHANNEL_CLEARING = "channel_clearing"
    COUPON_SUBSIDY = "coupon_subsidy"
    PLATFORM_FUNDING = "platform_funding"
    CHANNEL_FEES = "channel_fees"  # what the channels kept of the merchants' money


class AccountStatus(models.TextChoices):
    ACTIVE = "active"
    FROZEN = "frozen"
    CLOSED = "closed"
