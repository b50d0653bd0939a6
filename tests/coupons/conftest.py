"""Coupons of the onboarded merchant ("Acme", whose app the `api` fixture signs for):
`batch_of(...)` makes a template and a batch in one go; `seller` is a second merchant."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.services import customer_get_or_create, merchant_create, merchant_transition
from coupons.models import CouponBatch, CouponTemplate

TEMPLATE_FIELDS = {f.name for f in CouponTemplate._meta.get_fields()}


@pytest.fixture
def seller(merchant):
    now = timezone.now()
    tea = merchant_create(name="Tea", actor="test", now=now)
    merchant_transition(merchant_id=tea.pk, transition="activate", actor="test", now=now)
    return tea


@pytest.fixture
def batch_of(merchant):
    """batch_of("SPRING", kind="fixed", value_minor=5_00, total_quantity=10) → a batch of
    the merchant, claimable now, its coupons valid for 30 days unless told otherwise."""

    def make(code: str = "SPRING", **fields) -> CouponBatch:
        now = timezone.now()
        template_fields = {k: fields.pop(k) for k in list(fields) if k in TEMPLATE_FIELDS}
        template_fields.setdefault("kind", "fixed")
        template_fields.setdefault("value_minor", 5_00)
        template_fields.setdefault("currency", "CNY")
        if "valid_until" not in template_fields and "valid_days" not in template_fields:
            template_fields["valid_until"] = now + timedelta(days=30)
        template = CouponTemplate.objects.create(
            merchant=merchant,
            name=template_fields.pop("name", code.title()),
            created_at=now,
            **template_fields,
        )
        fields.setdefault("total_quantity", 100)
        return CouponBatch.objects.create(
            merchant=merchant, template=template, code=code, created_at=now, **fields
        )

    return make


@pytest.fixture
def customer_of(merchant):
    def make(external_id: str):
        customer, _ = customer_get_or_create(
            merchant_id=merchant.pk, external_id=external_id, now=timezone.now()
        )
        return customer

    return make
