"""Coupons (E1 to E3): what a coupon gives (a template), how copies of it are handed out (a
batch), and the copy one buyer holds. Amounts are integer minor units in the template's
currency; the database refuses amounts, rates and counts that make no sense, and a batch
that gives out more than it has."""

from django.db import models
from django.db.models import F, Q
from django_fsm import FSMField, transition

from accounts.models import Customer, Merchant
from coupons.choices import CouponKind, CouponScope, CouponStatus, FundedBy

K = CouponKind
S = CouponStatus


class CouponTemplate(models.Model):
    """What a coupon gives and where it applies. `threshold`/`value`/`rate_bps`/`cap`/`tiers`
    are read by kind (coupons.pricing): full reduction spends `threshold`, saves `value`;
    rate takes `rate_bps` off (at most `cap`) from `threshold` up; tiered takes the value of
    the highest tier reached; fixed takes `value` off (from `threshold` up, if set)."""

    merchant = models.ForeignKey(
        Merchant, on_delete=models.PROTECT, related_name="coupon_templates", help_text="who runs it"
    )
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=16, choices=K.choices)
    funded_by = models.CharField(max_length=16, choices=FundedBy.choices, default=FundedBy.PLATFORM)
    currency = models.CharField(max_length=3)
    threshold_minor = models.BigIntegerField(default=0, help_text="the eligible amount it needs")
    value_minor = models.BigIntegerField(default=0, help_text="the amount off")
    rate_bps = models.PositiveIntegerField(default=0, help_text="basis points off (1500 = 15%)")
    cap_minor = models.BigIntegerField(null=True, blank=True, help_text="the most a rate coupon takes off")
    tiers = models.JSONField(
        default=list,
        blank=True,
        help_text='tiered: [{"threshold_minor": 10000, "value_minor": 1000}, …], any order',
    )
    scope = models.CharField(max_length=16, choices=CouponScope.choices, default=CouponScope.PLATFORM)
    scope_seller = models.ForeignKey(
        Merchant,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="only this seller's lines (required for seller scope and seller-funded coupons)",
    )
    scope_product_ids = models.JSONField(default=list, blank=True, help_text="for products scope")
    scope_categories = models.JSONField(default=list, blank=True, help_text="for categories scope")
    valid_from = models.DateTimeField(null=True, blank=True)
    valid_until = models.DateTimeField(null=True, blank=True)
    valid_days = models.PositiveIntegerField(
        null=True, blank=True, help_text="valid for this many days after it is claimed (within valid_until)"
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(threshold_minor__gte=0, value_minor__gte=0), name="coupontemplate_amounts"
            ),
            models.CheckConstraint(
                condition=~Q(kind=K.FULL_REDUCTION) | Q(threshold_minor__gt=0, value_minor__gt=0),
                name="coupontemplate_full_reduction",
            ),
            models.CheckConstraint(
                condition=~Q(kind=K.FIXED) | Q(value_minor__gt=0), name="coupontemplate_fixed"
            ),
            models.CheckConstraint(
                condition=~Q(kind=K.RATE) | Q(rate_bps__gt=0, rate_bps__lte=10_000),
                name="coupontemplate_rate",
            ),
            models.CheckConstraint(
                condition=Q(cap_minor__isnull=True) | Q(cap_minor__gt=0), name="coupontemplate_cap"
            ),
            models.CheckConstraint(
                condition=Q(valid_until__isnull=False) | Q(valid_days__isnull=False),
                name="coupontemplate_ends",
            ),
            models.CheckConstraint(
                condition=Q(valid_from__isnull=True)
                | Q(valid_until__isnull=True)
                | Q(valid_until__gt=F("valid_from")),
                name="coupontemplate_window",
            ),
            models.CheckConstraint(
                condition=~Q(scope=CouponScope.SELLER) | Q(scope_seller__isnull=False),
                name="coupontemplate_seller_scope",
            ),
            # A seller pays only for its own lines (the stacking rule relies on it).
            models.CheckConstraint(
                condition=~Q(funded_by=FundedBy.SELLER) | Q(scope_seller__isnull=False),
                name="coupontemplate_seller_funded_scoped",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class CouponBatch(models.Model):
    """Copies of a template to hand out: claimed by buyers within the claim window, or
    issued on an event (`issue_on_event`, e.g. "order.first_paid") — never more than
    `total_quantity`, nor more than `per_buyer_limit` to one buyer."""

    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="coupon_batches")
    template = models.ForeignKey(CouponTemplate, on_delete=models.PROTECT, related_name="batches")
    code = models.CharField(max_length=64, help_text="what apps claim it by; unique per merchant")
    total_quantity = models.PositiveIntegerField()
    issued_count = models.PositiveIntegerField(default=0)
    per_buyer_limit = models.PositiveIntegerField(default=1)
    claim_starts_at = models.DateTimeField(null=True, blank=True)
    claim_ends_at = models.DateTimeField(null=True, blank=True)
    campaign_code = models.CharField(max_length=64, blank=True, help_text="the campaign or channel")
    issue_on_event = models.CharField(
        max_length=64, blank=True, help_text="issued on this event only, never claimed (order.first_paid)"
    )
    active = models.BooleanField(default=True, help_text="unticked: nothing more is given out")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "coupon batches"
        constraints = [
            models.UniqueConstraint(fields=["merchant", "code"], name="couponbatch_unique_code"),
            models.CheckConstraint(
                condition=Q(issued_count__lte=F("total_quantity")), name="couponbatch_issued_within_total"
            ),
            models.CheckConstraint(condition=Q(per_buyer_limit__gte=1), name="couponbatch_per_buyer_limit"),
            models.CheckConstraint(
                condition=Q(claim_starts_at__isnull=True)
                | Q(claim_ends_at__isnull=True)
                | Q(claim_ends_at__gt=F("claim_starts_at")),
                name="couponbatch_claim_window",
            ),
        ]

    def __str__(self) -> str:
        return self.code


class BuyerCoupon(models.Model):
    """One buyer's coupon. claimed → locked (by an order) → used when the order is paid, or
    back to claimed when it is cancelled or closed (expired instead if its time has passed);
    claimed → expired past `valid_until`. The moves that race are conditional UPDATEs in
    coupons.services (`WHERE status = …`); the transitions below are the machine they follow."""

    serial = models.CharField(max_length=40, unique=True, help_text="the public id, CPN…")
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="+")
    batch = models.ForeignKey(CouponBatch, on_delete=models.PROTECT, related_name="coupons")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="coupons")
    status = FSMField(max_length=16, choices=S.choices, default=S.CLAIMED, protected=True)
    order_ref = models.CharField(max_length=64, blank=True, help_text="the order that locked or used it")
    event_key = models.CharField(
        max_length=128, blank=True, help_text="the event it was issued for (one coupon per batch and event)"
    )
    valid_from = models.DateTimeField()
    valid_until = models.DateTimeField()
    claimed_at = models.DateTimeField()
    locked_at = models.DateTimeField(null=True, blank=True)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["batch", "customer", "event_key"],
                condition=~Q(event_key=""),
                name="buyercoupon_one_per_event",
            ),
            models.CheckConstraint(condition=Q(valid_until__gt=F("valid_from")), name="buyercoupon_window"),
            models.CheckConstraint(
                condition=~Q(status=S.CLAIMED) | Q(order_ref=""), name="buyercoupon_claimed_has_no_order"
            ),
            models.CheckConstraint(
                condition=~Q(status__in=[S.LOCKED, S.USED]) | ~Q(order_ref=""),
                name="buyercoupon_locked_has_order",
            ),
        ]
        indexes = [
            models.Index(fields=["customer", "batch"], name="buyercoupon_customer_batch"),
            models.Index(fields=["order_ref"], condition=~Q(order_ref=""), name="buyercoupon_order_ref"),
            models.Index(
                fields=["valid_until"], condition=Q(status=S.CLAIMED), name="buyercoupon_claimed_expiry"
            ),
        ]

    def __str__(self) -> str:
        return self.serial

    @transition(field=status, source=S.CLAIMED, target=S.LOCKED)
    def lock(self) -> None:
        """An order is being placed with it."""

    @transition(field=status, source=S.LOCKED, target=S.USED)
    def use(self) -> None:
        """Its order was paid."""

    @transition(field=status, source=S.LOCKED, target=S.CLAIMED)
    def release(self) -> None:
        """Its order was cancelled or closed, within the coupon's validity."""

    @transition(field=status, source=[S.CLAIMED, S.LOCKED], target=S.EXPIRED)
    def expire(self) -> None:
        """Past valid_until, unused (a locked one when its order lets it go)."""
