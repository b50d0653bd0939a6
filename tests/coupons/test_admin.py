"""The coupon screens as a superuser sees them: lists, detail pages, creating a template and
a batch through the services, stopping a batch."""

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from coupons.models import CouponBatch, CouponTemplate
from coupons.services import coupon_claim, coupons_consume, coupons_lock
from paycenter.models import AuditEntry

pytestmark = pytest.mark.django_db

TEMPLATE_FORM = {
    "name": "Ten percent",
    "kind": "rate",
    "funded_by": "platform",
    "currency": "CNY",
    "threshold_minor": "0",
    "value_minor": "0",
    "rate_bps": "1000",
    "cap_minor": "2000",
    "tiers": "[]",
    "scope": "platform",
    "scope_product_ids": "[]",
    "scope_categories": "[]",
    "valid_days": "7",
}


@pytest.fixture
def staff(client):
    user = get_user_model().objects.create_superuser(username="ops", email="", password="pw-ops-123")
    client.force_login(user)
    return client


@pytest.fixture
def used_coupon(merchant, batch_of):
    batch_of("SPRING", kind="full_reduction", threshold_minor=100_00, value_minor=15_00, per_buyer_limit=3)
    now = timezone.now()
    coupons = [
        coupon_claim(merchant_id=merchant.pk, batch_code="SPRING", buyer_external_id="bob", now=now)
        for _ in range(2)
    ]
    coupons_lock(
        merchant_id=merchant.pk,
        customer_id=coupons[0].customer_id,
        coupon_ids=[coupons[0].serial],
        order_ref="O1",
        now=now,
    )
    coupons_consume(order_ref="O1", now=now)
    return coupons[0]


def test_every_coupon_page_renders(staff, used_coupon):
    batch = used_coupon.batch
    for url in [
        "/admin/coupons/coupontemplate/",
        f"/admin/coupons/coupontemplate/{batch.template_id}/change/",
        "/admin/coupons/coupontemplate/add/",
        "/admin/coupons/couponbatch/",
        f"/admin/coupons/couponbatch/{batch.pk}/change/",
        "/admin/coupons/couponbatch/add/",
        "/admin/coupons/buyercoupon/",
        "/admin/coupons/buyercoupon/?status__exact=used",
        f"/admin/coupons/buyercoupon/{used_coupon.pk}/change/",
    ]:
        assert staff.get(url).status_code == 200, url
    page = staff.get("/admin/coupons/couponbatch/").content.decode()
    assert "Spend 100.00 CNY, save 15.00 CNY" in page
    assert '<td class="field-claim_count">2</td>' in page
    assert '<td class="field-used_count">1</td>' in page


def test_operations_create_a_template_and_a_batch_then_stop_it(staff, merchant):
    response = staff.post("/admin/coupons/coupontemplate/add/", {**TEMPLATE_FORM, "merchant": merchant.pk})
    assert response.status_code == 302, response.content.decode()[:3000]
    template = CouponTemplate.objects.get(name="Ten percent")

    response = staff.post(
        "/admin/coupons/couponbatch/add/",
        {"template": template.pk, "code": "TEN", "total_quantity": "50", "per_buyer_limit": "1"},
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    batch = CouponBatch.objects.get(code="TEN")
    assert batch.merchant_id == merchant.pk

    staff.post("/admin/coupons/couponbatch/", {"action": "stop", "_selected_action": [batch.pk]})
    batch.refresh_from_db()
    assert batch.active is False
    assert set(AuditEntry.objects.values_list("action", flat=True)) >= {
        "coupon_template.create",
        "coupon_batch.create",
        "coupon_batch.stop",
    }


def test_a_template_breaking_its_kinds_rules_is_a_form_error(staff, merchant):
    response = staff.post(
        "/admin/coupons/coupontemplate/add/",
        {**TEMPLATE_FORM, "merchant": merchant.pk, "kind": "tiered", "name": "Bad tiers"},
    )
    assert response.status_code == 200
    assert "distinct thresholds" in response.content.decode()
    assert not CouponTemplate.objects.exists()
