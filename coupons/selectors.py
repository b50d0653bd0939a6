"""Reads: a buyer's coupons for the API, and a coupon as coupons.pricing sees it."""

import base64
import binascii

from django.db.models import QuerySet

from accounts.models import Customer
from coupons.choices import CouponScope
from coupons.models import BuyerCoupon, CouponTemplate
from coupons.pricing import Offer
from paycenter.errors import InvalidRequest

PAGE = 50


def offer_of(coupon: BuyerCoupon) -> Offer:
    template: CouponTemplate = coupon.batch.template
    return Offer(
        coupon_id=coupon.serial,
        funded_by=template.funded_by,
        kind=template.kind,
        seller_id=template.scope_seller_id,
        threshold_minor=template.threshold_minor,
        value_minor=template.value_minor,
        rate_bps=template.rate_bps,
        cap_minor=template.cap_minor,
        tiers=template_tiers(template),
        product_ids=frozenset(int(i) for i in template.scope_product_ids)
        if template.scope == CouponScope.PRODUCTS
        else None,
        categories=frozenset(str(c) for c in template.scope_categories)
        if template.scope == CouponScope.CATEGORIES
        else None,
        currency=template.currency,
    )


def template_tiers(template: CouponTemplate) -> tuple[tuple[int, int], ...]:
    return tuple(sorted((int(t["threshold_minor"]), int(t["value_minor"])) for t in template.tiers or []))


def with_terms(queryset: QuerySet[BuyerCoupon]) -> QuerySet[BuyerCoupon]:
    """Everything offer_of and the API's representation read, in one query."""
    return queryset.select_related("batch__template", "customer")


def coupon_with_terms(*, coupon_id: int) -> BuyerCoupon:
    return with_terms(BuyerCoupon.objects.filter(pk=coupon_id)).get()


def _cursor_encode(coupon_id: int) -> str:
    return base64.urlsafe_b64encode(f"c{coupon_id}".encode()).decode().rstrip("=")


def _cursor_decode(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if not text.startswith("c"):
            raise ValueError(cursor)
        return int(text[1:])
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidRequest("The cursor is not one this API gave out.", field="cursor") from None


def buyer_coupons(
    *,
    merchant_id: int,
    buyer_external_id: str,
    status: str | None = None,
    cursor: str | None = None,
    limit: int = PAGE,
) -> tuple[list[BuyerCoupon], str | None]:
    """The buyer's coupons with this merchant, newest first, and the next page's cursor (None
    at the end). A buyer the merchant does not know simply has none."""
    customer = Customer.objects.filter(merchant_id=merchant_id, external_id=buyer_external_id).first()
    if customer is None:
        if cursor:
            _cursor_decode(cursor)
        return [], None
    coupons = with_terms(BuyerCoupon.objects.filter(merchant_id=merchant_id, customer=customer)).order_by(
        "-id"
    )
    if status:
        coupons = coupons.filter(status=status)
    if cursor:
        coupons = coupons.filter(id__lt=_cursor_decode(cursor))
    page = list(coupons[: limit + 1])
    if len(page) > limit:
        return page[:limit], _cursor_encode(page[limit - 1].pk)
    return page, None
