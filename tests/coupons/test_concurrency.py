"""Coupons under real concurrency (E3, RELIABILITY 7): threads on their own PostgreSQL
connections, each use case in its own transaction as in production."""

from collections import Counter

import pytest
from django.db import transaction
from django.utils import timezone

from coupons.choices import CouponStatus
from coupons.errors import CouponBatchExhausted, CouponLimitReached, CouponUnavailable
from coupons.models import BuyerCoupon, CouponBatch
from coupons.services import coupon_claim, coupons_issue_on_event, coupons_lock
from tests.payments.test_concurrency import in_threads

pytestmark = pytest.mark.django_db(transaction=True)


def _claim(merchant, code, buyer):
    try:
        coupon_claim(merchant_id=merchant.pk, batch_code=code, buyer_external_id=buyer, now=timezone.now())
        return "claimed"
    except (CouponBatchExhausted, CouponLimitReached) as refused:
        return refused.code


def test_30_buyers_claiming_a_batch_of_10_at_once_get_exactly_10(merchant, batch_of):
    batch_of("RUSH", total_quantity=10)

    outcomes = Counter(in_threads(30, lambda i: _claim(merchant, "RUSH", f"buyer-{i}")))

    assert outcomes == {"claimed": 10, "coupon_batch_exhausted": 20}, outcomes
    assert CouponBatch.objects.get(code="RUSH").issued_count == 10
    assert BuyerCoupon.objects.count() == 10


def test_one_buyer_claiming_20_times_at_once_gets_the_per_buyer_limit(merchant, batch_of, customer_of):
    batch_of("TWICE", total_quantity=100, per_buyer_limit=2)
    customer_of("bob")

    outcomes = Counter(in_threads(20, lambda i: _claim(merchant, "TWICE", "bob")))

    assert outcomes == {"claimed": 2, "coupon_limit_reached": 18}, outcomes
    assert CouponBatch.objects.get(code="TWICE").issued_count == 2


def test_one_coupon_in_20_concurrent_orders_is_locked_once(merchant, batch_of):
    batch_of("ONCE")
    coupon = coupon_claim(
        merchant_id=merchant.pk, batch_code="ONCE", buyer_external_id="bob", now=timezone.now()
    )

    def order(i):
        try:
            with transaction.atomic(durable=True):  # the order's own transaction
                coupons_lock(
                    merchant_id=merchant.pk,
                    customer_id=coupon.customer_id,
                    coupon_ids=[coupon.serial],
                    order_ref=f"ORD{i}",
                    now=timezone.now(),
                )
            return "locked"
        except CouponUnavailable as refused:
            return refused.code

    outcomes = Counter(in_threads(20, order))

    assert outcomes == {"locked": 1, "coupon_unavailable": 19}, outcomes
    locked = BuyerCoupon.objects.get(pk=coupon.pk)
    assert locked.status == CouponStatus.LOCKED and locked.order_ref.startswith("ORD")


def test_orders_naming_two_coupons_in_opposite_orders_do_not_deadlock(merchant, batch_of):
    batch_of("A")
    batch_of("B")
    now = timezone.now()
    a = coupon_claim(merchant_id=merchant.pk, batch_code="A", buyer_external_id="bob", now=now)
    b = coupon_claim(merchant_id=merchant.pk, batch_code="B", buyer_external_id="bob", now=now)

    def order(i):
        ids = [a.serial, b.serial] if i % 2 else [b.serial, a.serial]
        try:
            with transaction.atomic(durable=True):
                coupons_lock(
                    merchant_id=merchant.pk,
                    customer_id=a.customer_id,
                    coupon_ids=ids,
                    order_ref=f"ORD{i}",
                    now=timezone.now(),
                )
            return "locked"
        except CouponUnavailable as refused:
            return refused.code

    outcomes = Counter(in_threads(20, order))

    assert outcomes == {"locked": 1, "coupon_unavailable": 19}, outcomes
    assert len(set(BuyerCoupon.objects.values_list("order_ref", flat=True))) == 1


def test_one_event_delivered_10_times_at_once_issues_one_coupon(merchant, batch_of, customer_of):
    batch_of("WELCOME", issue_on_event="order.first_paid", per_buyer_limit=5)
    bob = customer_of("bob")

    issued = in_threads(
        10,
        lambda i: coupons_issue_on_event(
            merchant_id=merchant.pk,
            customer_id=bob.pk,
            event="order.first_paid",
            event_key="ORD1",
            now=timezone.now(),
        ),
    )

    assert BuyerCoupon.objects.count() == 1
    assert {tuple(c.pk for c in coupons) for coupons in issued} == {(BuyerCoupon.objects.get().pk,)}
    assert CouponBatch.objects.get().issued_count == 1
