"""Coupons for operations staff: templates and batches are created here through
coupons.services.setup and never edited afterwards (coupons handed out keep their terms);
batches are stopped and resumed by actions; buyer coupons are read-only."""

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone

from coupons.choices import CouponStatus
from coupons.models import BuyerCoupon, CouponBatch, CouponTemplate
from coupons.representations import coupon_terms
from coupons.services.setup import (
    coupon_batch_create,
    coupon_batch_set_active,
    coupon_template_check,
    coupon_template_create,
)
from paycenter.adminutils import ReadOnlyAdmin, amount_column
from paycenter.errors import PaycenterError

TEMPLATE_INPUTS = [
    "merchant",
    "name",
    "kind",
    "funded_by",
    "currency",
    "threshold_minor",
    "value_minor",
    "rate_bps",
    "cap_minor",
    "tiers",
    "scope",
    "scope_seller",
    "scope_product_ids",
    "scope_categories",
    "valid_from",
    "valid_until",
    "valid_days",
]
BATCH_INPUTS = [
    "template",
    "code",
    "total_quantity",
    "per_buyer_limit",
    "claim_starts_at",
    "claim_ends_at",
    "campaign_code",
    "issue_on_event",
]


class CouponTemplateForm(forms.ModelForm):
    """Runs the service's own checks, so a bad value is a form error, not a failed save."""

    class Meta:
        model = CouponTemplate
        fields = TEMPLATE_INPUTS

    def clean(self) -> dict:
        data = super().clean()
        try:
            coupon_template_check(
                kind=data.get("kind", ""),
                funded_by=data.get("funded_by", ""),
                threshold_minor=data.get("threshold_minor") or 0,
                value_minor=data.get("value_minor") or 0,
                rate_bps=data.get("rate_bps") or 0,
                cap_minor=data.get("cap_minor"),
                tiers=data.get("tiers") or [],
                scope=data.get("scope", ""),
                scope_seller_id=data["scope_seller"].pk if data.get("scope_seller") else None,
                scope_product_ids=data.get("scope_product_ids") or [],
                scope_categories=data.get("scope_categories") or [],
                valid_until=data.get("valid_until"),
                valid_days=data.get("valid_days"),
            )
        except PaycenterError as exc:
            field = exc.field if exc.field in self.fields else None
            self.add_error(field, exc.message)
        return data


@admin.register(CouponTemplate)
class CouponTemplateAdmin(admin.ModelAdmin):
    form = CouponTemplateForm
    list_display = [
        "id",
        "name",
        "merchant",
        "kind",
        "funded_by",
        "terms",
        "scope",
        "valid_until",
        "valid_days",
    ]
    list_filter = ["kind", "funded_by", "scope"]
    search_fields = ["name", "merchant__name"]
    list_select_related = ["merchant"]
    autocomplete_fields = ["merchant", "scope_seller"]
    threshold = amount_column("threshold_minor", "threshold")
    value = amount_column("value_minor", "value")
    cap = amount_column("cap_minor", "cap")

    @admin.display(description="terms")
    def terms(self, template: CouponTemplate) -> str:
        return coupon_terms(template)

    def get_fields(self, request: HttpRequest, obj: CouponTemplate | None = None) -> list[str]:
        if obj is None:
            return TEMPLATE_INPUTS
        return ["merchant", "name", "kind", "funded_by", "currency", "terms", "threshold", "value",
                "rate_bps", "cap", "tiers", "scope", "scope_seller", "scope_product_ids", "scope_categories",
                "valid_from", "valid_until", "valid_days", "created_at"]  # fmt: skip

    def get_readonly_fields(self, request: HttpRequest, obj: CouponTemplate | None = None) -> list:
        return [] if obj is None else self.get_fields(request, obj)

    def save_model(self, request: HttpRequest, obj: CouponTemplate, form: forms.Form, change: bool) -> None:
        data = form.cleaned_data
        created = coupon_template_create(
            merchant_id=data["merchant"].pk,
            name=data["name"],
            kind=data["kind"],
            funded_by=data["funded_by"],
            currency=data["currency"].upper(),
            threshold_minor=data.get("threshold_minor") or 0,
            value_minor=data.get("value_minor") or 0,
            rate_bps=data.get("rate_bps") or 0,
            cap_minor=data.get("cap_minor"),
            tiers=data.get("tiers") or [],
            scope=data["scope"],
            scope_seller_id=data["scope_seller"].pk if data.get("scope_seller") else None,
            scope_product_ids=data.get("scope_product_ids") or [],
            scope_categories=data.get("scope_categories") or [],
            valid_from=data.get("valid_from"),
            valid_until=data.get("valid_until"),
            valid_days=data.get("valid_days"),
            actor=request.user.get_username(),
            now=timezone.now(),
        )
        obj.pk = created.pk

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(CouponBatch)
class CouponBatchAdmin(admin.ModelAdmin):
    list_display = ["code", "merchant", "template", "terms", "active", "total_quantity", "issued_count",
                    "claim_count", "used_count", "per_buyer_limit", "claim_starts_at", "claim_ends_at",
                    "campaign_code", "issue_on_event"]  # fmt: skip
    list_filter = ["active", "issue_on_event", "template__kind", "template__funded_by"]
    search_fields = ["code", "campaign_code", "template__name", "merchant__name"]
    list_select_related = ["merchant", "template"]
    autocomplete_fields = ["template"]
    actions = ["stop", "resume"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[CouponBatch]:
        return (
            super()
            .get_queryset(request)
            .annotate(
                claims=Count("coupons"),
                uses=Count("coupons", filter=Q(coupons__status=CouponStatus.USED)),
            )
        )

    @admin.display(description="terms")
    def terms(self, batch: CouponBatch) -> str:
        return coupon_terms(batch.template)

    @admin.display(description="claimed", ordering="claims")
    def claim_count(self, batch: CouponBatch) -> int:
        return batch.claims

    @admin.display(description="used", ordering="uses")
    def used_count(self, batch: CouponBatch) -> int:
        return batch.uses

    def get_fields(self, request: HttpRequest, obj: CouponBatch | None = None) -> list:
        if obj is None:
            return BATCH_INPUTS
        return ["merchant", *BATCH_INPUTS, "terms", "active", "issued_count", "claim_count", "used_count",
                "created_at"]  # fmt: skip

    def get_readonly_fields(self, request: HttpRequest, obj: CouponBatch | None = None) -> list:
        return [] if obj is None else self.get_fields(request, obj)

    def save_model(self, request: HttpRequest, obj: CouponBatch, form: forms.Form, change: bool) -> None:
        data = form.cleaned_data
        try:
            created = coupon_batch_create(
                template_id=data["template"].pk,
                code=data["code"],
                total_quantity=data["total_quantity"],
                per_buyer_limit=data["per_buyer_limit"],
                claim_starts_at=data.get("claim_starts_at"),
                claim_ends_at=data.get("claim_ends_at"),
                campaign_code=data.get("campaign_code", ""),
                issue_on_event=data.get("issue_on_event", ""),
                actor=request.user.get_username(),
                now=timezone.now(),
            )
        except PaycenterError as exc:
            self.message_user(request, exc.message, level=messages.ERROR)
            raise
        obj.pk = created.pk

    @admin.action(description="Stop giving out the selected batches")
    def stop(self, request: HttpRequest, queryset: QuerySet[CouponBatch]) -> None:
        self._set_active(request, queryset, active=False)

    @admin.action(description="Resume giving out the selected batches")
    def resume(self, request: HttpRequest, queryset: QuerySet[CouponBatch]) -> None:
        self._set_active(request, queryset, active=True)

    def _set_active(self, request: HttpRequest, queryset: QuerySet[CouponBatch], *, active: bool) -> None:
        changed = sum(
            coupon_batch_set_active(
                batch_id=pk, active=active, actor=request.user.get_username(), now=timezone.now()
            )
            for pk in queryset.values_list("pk", flat=True)
        )
        self.message_user(request, f"{changed} batch(es) {'resumed' if active else 'stopped'}.")

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(BuyerCoupon)
class BuyerCouponAdmin(ReadOnlyAdmin):
    list_display = ["serial", "customer", "batch", "kind", "funded_by", "status", "order_ref", "valid_from",
                    "valid_until", "claimed_at", "locked_at", "used_at"]  # fmt: skip
    list_filter = ["status", "batch__template__kind", "batch__template__funded_by", "batch"]
    search_fields = ["serial", "order_ref", "customer__external_id", "batch__code"]
    list_select_related = ["customer", "batch__template"]
    readonly_fields = ["serial", "merchant", "batch", "customer", "status", "terms", "order_ref", "event_key",
                       "valid_from", "valid_until", "claimed_at", "locked_at", "used_at"]  # fmt: skip
    fields = readonly_fields

    @admin.display(description="kind", ordering="batch__template__kind")
    def kind(self, coupon: BuyerCoupon) -> str:
        return coupon.batch.template.get_kind_display()

    @admin.display(description="funded by", ordering="batch__template__funded_by")
    def funded_by(self, coupon: BuyerCoupon) -> str:
        return coupon.batch.template.funded_by

    @admin.display(description="terms")
    def terms(self, coupon: BuyerCoupon) -> str:
        return coupon_terms(coupon.batch.template)
