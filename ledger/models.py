"""How money moves: the business record (Transaction), the double-entry journal
(JournalEntry + Posting) and frozen funds (Hold). Only ledger.services writes these.

The database is the last guard: positive amounts, one serial, one reversal per entry,
append-only postings and balanced entries (the triggers in migration 0002, PostgreSQL).
"""

from django.db import models
from django.db.models import F, Q
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from accounts.models import Account, Merchant, MerchantApp
from channels.models import MerchantChannel
from ledger.choices import Direction, HoldStatus, TransactionKind, TransactionStatus

S = TransactionStatus


def minor_units(**kwargs: object) -> models.BigIntegerField:
    """An amount in the currency's minor unit (paycenter.money)."""
    return models.BigIntegerField(**kwargs)


class Transaction(ConcurrentTransitionMixin, models.Model):
    """One business action. `serial` is the payment center's own number; `out_trade_no`
    the app's; `channel_trade_no` the channel's (C4)."""

    serial = models.CharField(max_length=40)  # unique: Meta (no LIKE index beside it)
    kind = models.CharField(max_length=16, choices=TransactionKind.choices)
    status = FSMField(max_length=24, choices=S.choices, default=S.PENDING, protected=True)
    # Indexed through Meta's composite indexes, which lead with them: every index is one more
    # write per payment (docs/benchmarks.md).
    merchant = models.ForeignKey(
        Merchant, on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_index=False
    )
    app = models.ForeignKey(
        MerchantApp, on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_index=False
    )
    out_trade_no = models.CharField(max_length=64, null=True, blank=True)
    idempotency_key = models.CharField(
        max_length=255,
        null=True,
        blank=True,
        help_text="the app's Idempotency-Key of the request that made it",
    )
    channel = models.CharField(max_length=32, blank=True)
    channel_trade_no = models.CharField(max_length=64, null=True, blank=True)
    amount_minor = minor_units()
    currency = models.CharField(max_length=3)
    refunded_minor = minor_units(default=0)
    refund_of = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="refunds", db_index=False
    )
    payer_account = models.ForeignKey(
        Account, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    payee_account = models.ForeignKey(
        Account, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    memo = models.CharField(max_length=255, blank=True)
    destination = models.JSONField(default=dict, blank=True, help_text="where a withdrawal is paid")
    # Payments and refunds: what the channel knows and what we still have to ask it.
    merchant_channel = models.ForeignKey(
        MerchantChannel, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    method = models.CharField(max_length=16, blank=True)
    action = models.JSONField(default=dict, blank=True, help_text="what the payer does next")
    channel_state = models.CharField(max_length=16, blank=True, help_text="last known, normalized")
    paid_minor = minor_units(null=True, blank=True, help_text="what the channel reported as paid")
    captured_minor = minor_units(null=True, blank=True, help_text="pre-authorization: the amount captured")
    expires_at = models.DateTimeField(null=True, blank=True)
    next_query_at = models.DateTimeField(null=True, blank=True)
    query_attempts = models.PositiveIntegerField(default=0)
    review_reason = models.CharField(
        max_length=255, blank=True, help_text="set when money and record disagree: needs a person"
    )
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        permissions = [
            ("approve_withdrawal", "Can approve, pay out and reject withdrawals"),
            ("maintain_payment", "Can re-query channels and close payments"),
            ("post_adjustment", "Can propose, approve and reject platform-funded adjustments"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount_minor__gt=0), name="transaction_amount_positive"),
            # What was paid, not what was asked: a pre-authorization captured in part refunds
            # at most the captured amount.
            models.CheckConstraint(
                condition=Q(refunded_minor=0) | Q(refunded_minor__gt=0, refunded_minor__lte=F("paid_minor")),
                name="transaction_refunded_within_paid",
            ),
            # A failed attempt frees the app's number for another try (docs/api.md).
            models.UniqueConstraint(
                fields=["app", "kind", "out_trade_no"],
                condition=Q(out_trade_no__isnull=False) & ~Q(status="failed"),
                name="transaction_unique_app_kind_out_trade_no",
            ),
            models.UniqueConstraint(
                fields=["app", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="transaction_unique_app_idempotency_key",
            ),
            models.UniqueConstraint(
                fields=["channel", "channel_trade_no"],
                condition=Q(channel_trade_no__isnull=False),
                name="transaction_unique_channel_trade_no",
            ),
            models.UniqueConstraint(fields=["serial"], name="transaction_unique_serial"),
        ]
        indexes = [
            models.Index(
                fields=["refund_of"], condition=Q(refund_of__isnull=False), name="transaction_refund_of_idx"
            ),
            models.Index(
                fields=["next_query_at"],
                condition=Q(next_query_at__isnull=False),
                name="transaction_query_due_idx",
            ),
            models.Index(
                fields=["expires_at"], condition=Q(status="pending"), name="transaction_pending_expiry_idx"
            ),
            models.Index(fields=["merchant", "kind", "created_at"], name="transaction_merchant_kind_idx"),
            models.Index(fields=["status", "kind"], name="transaction_status_kind_idx"),
            # Every attempt at an order number, failed ones included (the unique index
            # above leaves them out): the duplicate and retry-too-soon checks read these.
            models.Index(fields=["app", "kind", "out_trade_no"], name="transaction_app_order_idx"),
        ]

    def __str__(self) -> str:
        return self.serial

    # Transitions only change the state; ledger.services does the money around them.
    @transition(field=status, source=[S.PENDING, S.AUTHORIZED], target=S.SUCCEEDED)
    def succeed(self) -> None:
        """The money moved."""

    @transition(field=status, source=S.PENDING, target=S.FAILED)
    def fail(self) -> None:
        """The money did not move."""

    @transition(field=status, source=[S.PENDING, S.AUTHORIZED], target=S.CLOSED)
    def close(self) -> None:
        """Given up before the money moved; holds released."""

    @transition(field=status, source=S.PENDING, target=S.AUTHORIZED)
    def authorize(self) -> None:
        """Funds held, to be captured or voided."""

    @transition(field=status, source=S.PENDING, target=S.APPROVED)
    def approve(self) -> None:
        """Finance approved a withdrawal; the funds stay frozen until paid out."""

    @transition(field=status, source=S.APPROVED, target=S.PAID_OUT)
    def pay_out(self) -> None:
        """The withdrawal left the platform."""

    @transition(field=status, source=[S.PENDING, S.APPROVED], target=S.REJECTED)
    def reject(self) -> None:
        """Finance refused a withdrawal; the funds are unfrozen."""

    @transition(field=status, source=[S.SUCCEEDED, S.PARTIALLY_REFUNDED], target=S.PARTIALLY_REFUNDED)
    def refund_partly(self) -> None:
        """Part of a payment went back."""

    @transition(field=status, source=[S.SUCCEEDED, S.PARTIALLY_REFUNDED], target=S.REFUNDED)
    def refund_fully(self) -> None:
        """All of a payment went back."""


class TransactionDetail(models.Model):
    """One merchant's share of a payment split across merchants (C1): a marketplace order's
    sub-order. The payer pays `amount`; the platform adds `subsidy` (its coupons) and keeps
    `commission`; the merchant is credited `amount + subsidy - commission`. Refunds against
    it reverse those in proportion (ledger.services.splits)."""

    transaction = models.ForeignKey(Transaction, on_delete=models.PROTECT, related_name="details")
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="+")
    reference = models.CharField(max_length=64, help_text="the caller's name for it (a sub-order)")
    amount_minor = minor_units(help_text="what the payer pays towards it")
    subsidy_minor = minor_units(default=0, help_text="what the platform's coupon subsidy adds")
    commission_minor = minor_units(default=0, help_text="what the platform keeps")
    refunded_minor = minor_units(default=0)
    currency = models.CharField(max_length=3)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount_minor__gte=0, subsidy_minor__gte=0, commission_minor__gte=0),
                name="detail_amounts_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(amount_minor__gt=0) | Q(subsidy_minor__gt=0), name="detail_moves_money"
            ),
            models.CheckConstraint(
                condition=Q(commission_minor__lte=F("amount_minor") + F("subsidy_minor")),
                name="detail_commission_within_share",
            ),
            models.CheckConstraint(
                condition=Q(refunded_minor__gte=0, refunded_minor__lte=F("amount_minor")),
                name="detail_refunded_within_amount",
            ),
            models.UniqueConstraint(fields=["transaction", "reference"], name="detail_unique_reference"),
        ]

    def __str__(self) -> str:
        return self.reference


class JournalEntry(models.Model):
    """A balanced set of postings: per currency, debits equal credits (C2)."""

    transaction = models.ForeignKey(Transaction, on_delete=models.PROTECT, related_name="entries")
    reason = models.CharField(max_length=64)
    reverses = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="reversed_by"
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "journal entries"

    def __str__(self) -> str:
        return f"JE{self.pk} {self.reason}"


class Posting(models.Model):
    """One leg of an entry. Append-only: only the application columns (applied, seq,
    balance_after) are set once, when a buffered posting reaches the balance."""

    entry = models.ForeignKey(JournalEntry, on_delete=models.PROTECT, related_name="postings")
    # Indexed by the statement index, which leads with it.
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="postings", db_index=False)
    direction = models.CharField(max_length=6, choices=Direction.choices)
    amount_minor = minor_units()
    currency = models.CharField(max_length=3)
    hold = models.ForeignKey(
        "Hold",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="postings",
        help_text="the hold whose frozen funds this debit consumed",
        db_index=False,  # Meta: a partial index, as most postings have no hold
    )
    applied = models.BooleanField(default=True)
    seq = models.BigIntegerField(null=True, blank=True, help_text="position in the account's statement")
    balance_after_minor = minor_units(null=True, blank=True, help_text="the account's total after this line")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount_minor__gt=0), name="posting_amount_positive"),
            models.CheckConstraint(
                condition=Q(applied=False) | Q(seq__isnull=False, balance_after_minor__isnull=False),
                name="posting_applied_has_position",
            ),
            models.UniqueConstraint(
                fields=["account", "seq"], condition=Q(seq__isnull=False), name="posting_unique_account_seq"
            ),
        ]
        indexes = [
            models.Index(fields=["account", "seq"], name="posting_statement_idx"),
            models.Index(fields=["account"], condition=Q(applied=False), name="posting_unapplied_idx"),
            models.Index(fields=["hold"], condition=Q(hold__isnull=False), name="posting_hold_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.direction} {self.amount_minor} {self.currency} (minor) on #{self.account_id}"


class Hold(ConcurrentTransitionMixin, models.Model):
    """Frozen funds (TCC try): pending until confirmed (all or part consumed), cancelled or
    expired — exactly once (C3)."""

    key = models.CharField(max_length=100, unique=True, help_text="the caller's idempotency key")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="holds")
    transaction = models.ForeignKey(Transaction, on_delete=models.PROTECT, related_name="holds")
    amount_minor = minor_units()
    currency = models.CharField(max_length=3)
    confirmed_minor = minor_units(default=0)
    status = FSMField(max_length=16, choices=HoldStatus.choices, default=HoldStatus.PENDING, protected=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount_minor__gt=0), name="hold_amount_positive"),
            models.CheckConstraint(
                condition=Q(confirmed_minor__gte=0, confirmed_minor__lte=F("amount_minor")),
                name="hold_confirmed_within_amount",
            ),
            models.CheckConstraint(
                condition=Q(status=HoldStatus.CONFIRMED) | Q(confirmed_minor=0),
                name="hold_only_confirmed_consumes",
            ),
            models.CheckConstraint(
                condition=Q(status=HoldStatus.PENDING, resolved_at__isnull=True)
                | (~Q(status=HoldStatus.PENDING) & Q(resolved_at__isnull=False)),
                name="hold_resolved_at_matches_status",
            ),
        ]
        indexes = [
            models.Index(fields=["expires_at"], condition=Q(status="pending"), name="hold_pending_expiry_idx")
        ]

    def __str__(self) -> str:
        return f"hold {self.pk} of {self.amount_minor} {self.currency} minor ({self.status})"

    @transition(field=status, source=HoldStatus.PENDING, target=HoldStatus.CONFIRMED)
    def confirm(self) -> None:
        """Consume all or part; the rest returns to available."""

    @transition(field=status, source=HoldStatus.PENDING, target=HoldStatus.CANCELLED)
    def cancel(self) -> None:
        """Release everything."""

    @transition(field=status, source=HoldStatus.PENDING, target=HoldStatus.EXPIRED)
    def expire(self) -> None:
        """Released because nobody resolved it in time."""
