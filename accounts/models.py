from django.db import models
from django.db.models import F, Q
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from accounts.choices import AccountKind, AccountStatus, MerchantStatus
from paycenter.crypto import EncryptedTextField


class Merchant(ConcurrentTransitionMixin, models.Model):
    """A business that takes payments. Onboarding: applied → active → suspended → closed."""

    name = models.CharField(max_length=200)
    contact_email = models.EmailField(blank=True)
    status = FSMField(
        max_length=16, choices=MerchantStatus.choices, default=MerchantStatus.APPLIED, protected=True
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return self.name

    @transition(field=status, source=MerchantStatus.APPLIED, target=MerchantStatus.ACTIVE)
    def activate(self) -> None:
        """Operations approved the merchant: its apps may call the API."""

    @transition(field=status, source=MerchantStatus.ACTIVE, target=MerchantStatus.SUSPENDED)
    def suspend(self) -> None:
        """Stop taking payments until reinstated; balances stay."""

    @transition(field=status, source=MerchantStatus.SUSPENDED, target=MerchantStatus.ACTIVE)
    def reinstate(self) -> None:
        """Take payments again."""

    @transition(
        field=status,
        source=[MerchantStatus.APPLIED, MerchantStatus.ACTIVE, MerchantStatus.SUSPENDED],
        target=MerchantStatus.CLOSED,
    )
    def close(self) -> None:
        """For good; nothing reopens a closed merchant."""


class MerchantApp(models.Model):
    """An integration of a merchant with API credentials. The secret is encrypted at rest
    and shown once, when the app is created."""

    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="apps")
    app_id = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    secret = EncryptedTextField(editable=False)
    notify_url = models.URLField(max_length=500, blank=True)
    ip_allowlist = models.TextField(
        blank=True, help_text="Addresses or networks (CIDR), one per line; empty allows any."
    )
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-id"]
        verbose_name = "merchant app"

    def __str__(self) -> str:
        return f"{self.name} ({self.app_id})"

    def allowlist_entries(self) -> tuple[str, ...]:
        return tuple(e.strip() for e in self.ip_allowlist.replace(",", "\n").splitlines() if e.strip())


class Customer(models.Model):
    """A payer as one merchant knows them, by the merchant's own `external_id`."""

    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="customers")
    external_id = models.CharField(max_length=128)
    name = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "external_id"], name="customer_unique_merchant_external_id"
            )
        ]

    def __str__(self) -> str:
        return self.external_id


class Account(models.Model):
    """Money held in one currency. Balances are read here and changed only by ledger
    postings; the database refuses a state that breaks the invariants (A5)."""

    merchant = models.ForeignKey(
        Merchant,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="accounts",
        help_text="empty for the platform's own accounts",
    )
    customer = models.ForeignKey(
        Customer, on_delete=models.PROTECT, null=True, blank=True, related_name="accounts"
    )
    kind = models.CharField(max_length=32, choices=AccountKind.choices)
    currency = models.CharField(max_length=3)
    # Integer minor units (docs/money.md): exact in SQL on every backend, so the CHECKs
    # below hold exactly — SQLite would compare DECIMAL columns as floats.
    total_minor = models.BigIntegerField(default=0)
    available_minor = models.BigIntegerField(default=0)
    frozen_minor = models.BigIntegerField(default=0)
    allow_overdraft = models.BooleanField(default=False)
    buffered = models.BooleanField(
        default=False,
        help_text="Hot account: incoming postings are buffered and applied in batches (docs/ledger.md).",
    )
    seq = models.BigIntegerField(default=0, help_text="number of the last posting applied to the balance")
    status = models.CharField(max_length=16, choices=AccountStatus.choices, default=AccountStatus.ACTIVE)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(frozen_minor__gte=0), name="account_frozen_not_negative"),
            models.CheckConstraint(
                condition=Q(available_minor__gte=0) | Q(allow_overdraft=True),
                name="account_available_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(total_minor=F("available_minor") + F("frozen_minor")),
                name="account_total_is_available_plus_frozen",
            ),
            models.CheckConstraint(
                condition=~Q(kind=AccountKind.CUSTOMER_WALLET)
                | Q(customer__isnull=False, merchant__isnull=False),
                name="account_wallet_has_customer",
            ),
            models.UniqueConstraint(
                fields=["customer", "kind", "currency"],
                condition=Q(customer__isnull=False),
                name="account_unique_customer_kind_currency",
            ),
            models.UniqueConstraint(
                fields=["merchant", "kind", "currency"],
                condition=Q(customer__isnull=True, merchant__isnull=False),
                name="account_unique_merchant_kind_currency",
            ),
            models.UniqueConstraint(
                fields=["kind", "currency"],
                condition=Q(merchant__isnull=True),
                name="account_unique_platform_kind_currency",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.kind} {self.currency}"

    @property
    def owner_type(self) -> str:
        if self.customer_id:
            return "customer"
        return "merchant" if self.merchant_id else "platform"


class WebhookDelivery(models.Model):
    """One attempt to deliver an event to an app's notify URL (accounts.webhooks): what was
    sent where, and what came back. Never holds the app secret or the signature."""

    class Outcome(models.TextChoices):
        DELIVERED = "delivered"
        FAILED = "failed"
        SKIPPED = "skipped"

    event_id = models.CharField(max_length=64, help_text="stable across retries and resends")
    app = models.ForeignKey(
        MerchantApp, on_delete=models.PROTECT, null=True, blank=True, related_name="webhook_deliveries"
    )
    event_type = models.CharField(max_length=64)
    url = models.CharField(max_length=500, blank=True)
    attempt = models.PositiveIntegerField(help_text="the outbox message's attempt number")
    outbox_message_id = models.PositiveBigIntegerField(null=True, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.TextField(blank=True, help_text="the first 1 KB of the answer")
    error = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "webhook deliveries"
        constraints = [
            models.CheckConstraint(
                condition=Q(outcome__in=["delivered", "failed", "skipped"]), name="webhookdelivery_outcome"
            ),
            models.CheckConstraint(
                condition=~Q(outcome="delivered") | Q(response_status__gte=200, response_status__lt=300),
                name="webhookdelivery_delivered_is_2xx",
            ),
        ]
        indexes = [
            models.Index(fields=["event_id"], name="webhookdelivery_event_idx"),
            models.Index(fields=["created_at"], name="webhookdelivery_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.event_id} #{self.attempt} {self.outcome}"
