"""Demo coupons (seed_demo): one batch of every kind and scope for a marketplace, created
through coupons.services.setup; running it again changes nothing (batches by code)."""

from datetime import datetime, timedelta

from accounts.models import Merchant
from coupons.models import CouponBatch
from coupons.services.setup import coupon_batch_create, coupon_template_create

ACTOR = "demo"


def coupon_batches_seed(
    *,
    merchant: Merchant,
    sellers: list[Merchant],
    product_ids: list[int],
    categories: list[str],
    currency: str,
    now: datetime,
) -> list[CouponBatch]:
    until = now + timedelta(days=90)
    specs = [
        (
            "DEMO-SPEND100",
            "Spend 100, save 15",
            {"kind": "full_reduction", "threshold_minor": 100_00, "value_minor": 15_00, "valid_until": until},
            {},
        ),
        (
            "DEMO-RATE10",
            "10% off, at most 20",
            {"kind": "rate", "rate_bps": 1_000, "cap_minor": 20_00, "valid_days": 30},
            {"per_buyer_limit": 2},
        ),
        (
            "DEMO-TIERS",
            "Tiered: 100 → 10, 200 → 30",
            {
                "kind": "tiered",
                "valid_until": until,
                "tiers": [
                    {"threshold_minor": 100_00, "value_minor": 10_00},
                    {"threshold_minor": 200_00, "value_minor": 30_00},
                ],
            },
            {},
        ),
        (
            "DEMO-SELLER5",
            f"{sellers[0].name}: 5 off",
            {
                "kind": "fixed",
                "value_minor": 5_00,
                "funded_by": "seller",
                "scope": "seller",
                "scope_seller_id": sellers[0].pk,
                "valid_until": until,
            },
            {"campaign_code": "store"},
        ),
        (
            "DEMO-PRODUCTS",
            "8 off selected products",
            {
                "kind": "fixed",
                "value_minor": 8_00,
                "scope": "products",
                "scope_product_ids": product_ids[:2],
                "valid_until": until,
            },
            {},
        ),
        (
            "DEMO-CATEGORY",
            f"15% off {categories[0]}",
            {
                "kind": "rate",
                "rate_bps": 1_500,
                "cap_minor": 30_00,
                "scope": "categories",
                "scope_categories": categories[:1],
                "valid_until": until,
            },
            {"campaign_code": "app-banner"},
        ),
        (
            "DEMO-WELCOME",
            "Welcome back: 10 off",
            {"kind": "fixed", "value_minor": 10_00, "threshold_minor": 50_00, "valid_days": 30},
            {"issue_on_event": "order.first_paid"},
        ),
    ]
    batches = []
    for code, name, template_fields, batch_fields in specs:
        existing = CouponBatch.objects.filter(merchant=merchant, code=code).first()
        if existing is not None:
            batches.append(existing)
            continue
        template = coupon_template_create(
            merchant_id=merchant.pk, name=name, currency=currency, actor=ACTOR, now=now, **template_fields
        )
        batches.append(
            coupon_batch_create(
                template_id=template.pk,
                code=code,
                total_quantity=1_000,
                claim_starts_at=now - timedelta(minutes=1),
                claim_ends_at=until,
                actor=ACTOR,
                now=now,
                **batch_fields,
            )
        )
    return batches
