import pytest
from django.utils import timezone

from accounts.services import merchant_create
from coupons.demo import coupon_batches_seed
from coupons.models import CouponBatch
from coupons.services import coupon_claim

pytestmark = pytest.mark.django_db


def test_the_demo_seeds_one_batch_of_every_kind_once_and_they_can_be_claimed(merchant):
    now = timezone.now()
    seller = merchant_create(name="Tea", actor="test", now=now)

    def seed():
        return coupon_batches_seed(
            merchant=merchant,
            sellers=[seller],
            product_ids=[1, 2],
            categories=["tea"],
            currency="CNY",
            now=now,
        )

    first, again = seed(), seed()

    assert [b.pk for b in first] == [b.pk for b in again]
    assert CouponBatch.objects.count() == 7
    assert {b.template.kind for b in first} == {"full_reduction", "rate", "tiered", "fixed"}
    assert {b.template.scope for b in first} == {"platform", "seller", "products", "categories"}
    assert [b.code for b in first if b.issue_on_event] == ["DEMO-WELCOME"]
    for batch in first:
        if not batch.issue_on_event:
            coupon_claim(
                merchant_id=merchant.pk, batch_code=batch.code, buyer_external_id="demo-buyer", now=now
            )
