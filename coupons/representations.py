"""How coupons look to apps: the terms in words, with amounts as the API writes money."""

from decimal import Decimal

from coupons.choices import CouponKind, CouponScope
from coupons.models import CouponTemplate
from coupons.selectors import template_tiers
from paycenter.money import format_minor

K = CouponKind


def coupon_terms(template: CouponTemplate) -> str:
    """E.g. "Spend 100.00 CNY, save 15.00 CNY"; "12.5% off, at most 20.00 CNY"."""
    money = lambda units: f"{format_minor(units, template.currency)} {template.currency}"  # noqa: E731
    from_threshold = f" on {money(template.threshold_minor)} or more" if template.threshold_minor else ""
    if template.kind == K.FULL_REDUCTION:
        return f"Spend {money(template.threshold_minor)}, save {money(template.value_minor)}"
    if template.kind == K.RATE:
        rate = (Decimal(template.rate_bps) / 100).normalize()
        cap = f", at most {money(template.cap_minor)}" if template.cap_minor else ""
        return f"{rate:f}% off{from_threshold}{cap}"
    if template.kind == K.TIERED:
        tiers = "; ".join(
            f"spend {money(threshold)}, save {money(value)}" for threshold, value in template_tiers(template)
        )
        return tiers[:1].upper() + tiers[1:]
    return f"{money(template.value_minor)} off{from_threshold}"


def coupon_scope(template: CouponTemplate) -> dict:
    return {
        "type": template.scope,
        "seller_id": template.scope_seller_id,
        "product_ids": list(template.scope_product_ids) if template.scope == CouponScope.PRODUCTS else None,
        "categories": list(template.scope_categories) if template.scope == CouponScope.CATEGORIES else None,
    }
