"""Setting coupons up (operations staff in the admin, and the demo): templates and batches
are created here with their kind's rules checked, and never changed afterwards — coupons
already handed out keep the terms they were given. A batch can be stopped and resumed."""

from collections.abc import Sequence
from datetime import datetime

from django.db import transaction

from coupons.choices import CouponKind, CouponScope, FundedBy
from coupons.models import CouponBatch, CouponTemplate
from paycenter.audit import audit_record
from paycenter.errors import InvalidRequest
from paycenter.money import currency_exponent

K = CouponKind


def coupon_template_check(
    *,
    kind: str,
    funded_by: str,
    threshold_minor: int = 0,
    value_minor: int = 0,
    rate_bps: int = 0,
    cap_minor: int | None = None,
    tiers: Sequence[dict] = (),
    scope: str = CouponScope.PLATFORM,
    scope_seller_id: int | None = None,
    scope_product_ids: Sequence[int] = (),
    scope_categories: Sequence[str] = (),
    valid_until: datetime | None = None,
    valid_days: int | None = None,
) -> list[dict]:
    """The kind's and the scope's rules (the database checks the rest); returns the tiers in
    their stored form. Raises InvalidRequest naming the field at fault."""
    if kind == K.FULL_REDUCTION and not (threshold_minor > 0 and 0 < value_minor <= threshold_minor):
        raise InvalidRequest("Spend X save Y needs 0 < Y <= X.", field="value_minor")
    if kind == K.FIXED and value_minor <= 0:
        raise InvalidRequest("A fixed coupon takes off a positive amount.", field="value_minor")
    if kind == K.RATE and not 0 < rate_bps <= 10_000:
        raise InvalidRequest("A rate is 1 to 10000 basis points.", field="rate_bps")
    clean_tiers = []
    if kind == K.TIERED:
        try:
            clean_tiers = sorted(
                (
                    {"threshold_minor": int(t["threshold_minor"]), "value_minor": int(t["value_minor"])}
                    for t in tiers
                ),
                key=lambda t: t["threshold_minor"],
            )
        except (KeyError, TypeError, ValueError):
            raise InvalidRequest("Tiers are {threshold_minor, value_minor} pairs.", field="tiers") from None
        thresholds = [t["threshold_minor"] for t in clean_tiers]
        if not clean_tiers or len(set(thresholds)) != len(thresholds):
            raise InvalidRequest("A tiered coupon has tiers with distinct thresholds.", field="tiers")
        if any(not 0 < t["value_minor"] <= t["threshold_minor"] for t in clean_tiers):
            raise InvalidRequest("Each tier takes off more than 0 and at most its threshold.", field="tiers")
    if (scope == CouponScope.SELLER or funded_by == FundedBy.SELLER) and scope_seller_id is None:
        raise InvalidRequest(
            "A seller scope or a seller-funded coupon names its seller.", field="scope_seller"
        )
    if scope == CouponScope.PRODUCTS and not scope_product_ids:
        raise InvalidRequest("A products scope lists product ids.", field="scope_product_ids")
    if scope == CouponScope.CATEGORIES and not scope_categories:
        raise InvalidRequest("A categories scope lists categories.", field="scope_categories")
    if valid_until is None and valid_days is None:
        raise InvalidRequest("A coupon ends: valid_until, valid_days or both.", field="valid_until")
    return clean_tiers


@transaction.atomic  # not durable: the admin's add view holds a transaction
def coupon_template_create(
    *,
    merchant_id: int,
    name: str,
    kind: str,
    currency: str,
    funded_by: str = FundedBy.PLATFORM,
    threshold_minor: int = 0,
    value_minor: int = 0,
    rate_bps: int = 0,
    cap_minor: int | None = None,
    tiers: Sequence[dict] = (),
    scope: str = CouponScope.PLATFORM,
    scope_seller_id: int | None = None,
    scope_product_ids: Sequence[int] = (),
    scope_categories: Sequence[str] = (),
    valid_from: datetime | None = None,
    valid_until: datetime | None = None,
    valid_days: int | None = None,
    actor: str,
    now: datetime,
) -> CouponTemplate:
    currency_exponent(currency)
    clean_tiers = coupon_template_check(
        kind=kind,
        funded_by=funded_by,
        threshold_minor=threshold_minor,
        value_minor=value_minor,
        rate_bps=rate_bps,
        cap_minor=cap_minor,
        tiers=tiers,
        scope=scope,
        scope_seller_id=scope_seller_id,
        scope_product_ids=scope_product_ids,
        scope_categories=scope_categories,
        valid_until=valid_until,
        valid_days=valid_days,
    )
    template = CouponTemplate.objects.create(
        merchant_id=merchant_id,
        name=name,
        kind=kind,
        funded_by=funded_by,
        currency=currency,
        threshold_minor=threshold_minor,
        value_minor=value_minor,
        rate_bps=rate_bps,
        cap_minor=cap_minor,
        tiers=clean_tiers,
        scope=scope,
        scope_seller_id=scope_seller_id,
        scope_product_ids=[int(i) for i in scope_product_ids] if scope == CouponScope.PRODUCTS else [],
        scope_categories=[str(c) for c in scope_categories] if scope == CouponScope.CATEGORIES else [],
        valid_from=valid_from,
        valid_until=valid_until,
        valid_days=valid_days,
        created_at=now,
    )
    audit_record(actor=actor, action="coupon_template.create", target=template, now=now)
    return template


@transaction.atomic  # not durable: the admin's add view holds a transaction
def coupon_batch_create(
    *,
    template_id: int,
    code: str,
    total_quantity: int,
    per_buyer_limit: int = 1,
    claim_starts_at: datetime | None = None,
    claim_ends_at: datetime | None = None,
    campaign_code: str = "",
    issue_on_event: str = "",
    actor: str,
    now: datetime,
) -> CouponBatch:
    template = CouponTemplate.objects.get(pk=template_id)
    if CouponBatch.objects.filter(merchant_id=template.merchant_id, code=code).exists():
        raise InvalidRequest(f"The merchant already has a batch {code}.", field="code")
    batch = CouponBatch.objects.create(
        merchant_id=template.merchant_id,
        template=template,
        code=code,
        total_quantity=total_quantity,
        per_buyer_limit=per_buyer_limit,
        claim_starts_at=claim_starts_at,
        claim_ends_at=claim_ends_at,
        campaign_code=campaign_code,
        issue_on_event=issue_on_event,
        created_at=now,
    )
    audit_record(actor=actor, action="coupon_batch.create", target=batch, now=now)
    return batch


@transaction.atomic  # not durable: the admin's add view holds a transaction
def coupon_batch_set_active(*, batch_id: int, active: bool, actor: str, now: datetime) -> int:
    """Stops (or resumes) giving out the batch; coupons already handed out stay usable."""
    changed = CouponBatch.objects.filter(pk=batch_id).exclude(active=active).update(active=active)
    if changed:
        batch = CouponBatch.objects.get(pk=batch_id)
        audit_record(
            actor=actor,
            action="coupon_batch.resume" if active else "coupon_batch.stop",
            target=batch,
            now=now,
        )
    return changed
