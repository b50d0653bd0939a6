from django.db import models


class CouponKind(models.TextChoices):
    FULL_REDUCTION = "full_reduction", "Spend X, save Y"
    RATE = "rate", "Percentage off, with a cap"
    TIERED = "tiered", "Tiered thresholds"
    FIXED = "fixed", "Fixed amount off"


class FundedBy(models.TextChoices):
    PLATFORM = "platform"
    SELLER = "seller"


class CouponScope(models.TextChoices):
    PLATFORM = "platform", "Platform-wide"
    SELLER = "seller", "One seller"
    PRODUCTS = "products", "Products"
    CATEGORIES = "categories", "Categories"


class CouponStatus(models.TextChoices):
    """A buyer's coupon (docs/coupons.md draws the machine)."""

    CLAIMED = "claimed"
    LOCKED = "locked"
    USED = "used"
    EXPIRED = "expired"
