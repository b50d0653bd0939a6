from django.db import models


class TransactionKind(models.TextChoices):
    PAYMENT = "payment"
    RECHARGE = "recharge"
    WITHDRAWAL = "withdrawal"
    REFUND = "refund"
    TRANSFER = "transfer"
    SETTLEMENT = "settlement"
    ADJUSTMENT = "adjustment"
    FEE = "fee"  # what a channel kept, as its statement says (reconciliation)


# The serial prefix of each kind: a serial says what it is at a glance.
SERIAL_PREFIX = {
    TransactionKind.PAYMENT: "PAY",
    TransactionKind.RECHARGE: "RCH",
    TransactionKind.WITHDRAWAL: "WDR",
    TransactionKind.REFUND: "RFD",
    TransactionKind.TRANSFER: "TRF",
    TransactionKind.SETTLEMENT: "STL",
    TransactionKind.ADJUSTMENT: "ADJ",
    TransactionKind.FEE: "FEE",
}


class TransactionStatus(models.TextChoices):
    PENDING = "pending"
    AUTHORIZED = "authorized"
    APPROVED = "approved"
    SUCCEEDED = "succeeded"
    PAID_OUT = "paid_out"
    FAILED = "failed"
    REJECTED = "rejected"
    CLOSED = "closed"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"


FINAL_STATUSES = {
    TransactionStatus.PAID_OUT,
    TransactionStatus.FAILED,
    TransactionStatus.REJECTED,
    TransactionStatus.CLOSED,
    TransactionStatus.REFUNDED,
}


class Direction(models.TextChoices):
    DEBIT = "debit"
    CREDIT = "credit"


class HoldStatus(models.TextChoices):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
