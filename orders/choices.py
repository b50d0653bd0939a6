from django.db import models


class ProductStatus(models.TextChoices):
    DRAFT = "draft"
    ACTIVE = "active"
    DELISTED = "delisted"


class OrderStatus(models.TextChoices):
    """Orders and sub-orders share these states (docs/orders.md draws the machine)."""

    CREATED = "created"
    AWAITING_PAYMENT = "awaiting_payment"
    PAID = "paid"
    FULFILLED = "fulfilled"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    CLOSED = "closed"
    REFUNDING = "refunding"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"


UNPAID = (OrderStatus.CREATED, OrderStatus.AWAITING_PAYMENT)
# Paid, and money may still go back.
REFUNDABLE = (
    OrderStatus.PAID,
    OrderStatus.FULFILLED,
    OrderStatus.COMPLETED,
    OrderStatus.REFUNDING,
    OrderStatus.PARTIALLY_REFUNDED,
)


class SplitBy(models.TextChoices):
    MERCHANT = "merchant"
    WAREHOUSE = "warehouse"
    CATEGORY = "category"


class ReservationStatus(models.TextChoices):
    RESERVED = "reserved"
    DEDUCTED = "deducted"
    RELEASED = "released"


class RefundStatus(models.TextChoices):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
