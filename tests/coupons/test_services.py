"""The coupons' use cases, one connection: claim, offers, lock, consume, release, issue on an
event, expiry — given / when / then."""

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone
from django_fsm import can_proceed

from coupons.choices import CouponStatus
from coupons.errors import (
    CouponBatchClosed,
    CouponBatchExhausted,
    CouponBatchNotFound,
    CouponLimitReached,
    CouponNotFound,
    CouponUnavailable,
)
from coupons.models import BuyerCoupon, CouponBatch
from coupons.services import (
    coupon_claim,
    coupon_offers,
    coupons_consume,
    coupons_expire,
    coupons_issue_on_event,
    coupons_lock,
    coupons_release,
)

pytestmark = pytest.mark.django_db
S = CouponStatus


def claim(merchant, code="SPRING", buyer="bob", now=None):
    return coupon_claim(
        merchant_id=merchant.pk, batch_code=code, buyer_external_id=buyer, now=now or timezone.now()
    )


def lock(coupon, order_ref="ORD1", now=None, ids=None):
    return coupons_lock(
        merchant_id=coupon.merchant_id,
        customer_id=coupon.customer_id,
        coupon_ids=ids or [coupon.serial],
        order_ref=order_ref,
        now=now or timezone.now(),
    )


# --- claim ------------------------------------------------------------------------------


def test_a_claim_gives_the_buyer_a_coupon_and_counts_it(merchant, batch_of):
    batch = batch_of("SPRING", total_quantity=3)
    now = timezone.now()

    coupon = claim(merchant, now=now)

    assert coupon.serial.startswith("CPN") and len(coupon.serial) == 3 + 20 + 6
    assert (coupon.status, coupon.order_ref, coupon.customer.external_id) == (S.CLAIMED, "", "bob")
    assert (coupon.valid_from, coupon.valid_until) == (now, batch.template.valid_until)
    batch.refresh_from_db()
    assert batch.issued_count == 1


def test_valid_days_run_from_the_claim_and_never_past_the_template(merchant, batch_of):
    now = timezone.now()
    batch_of("WEEK", valid_days=7)
    batch_of("SHORT", valid_days=7, valid_until=now + timedelta(days=2))

    assert claim(merchant, "WEEK", now=now).valid_until == now + timedelta(days=7)
    assert claim(merchant, "SHORT", now=now).valid_until == now + timedelta(days=2)


def test_claims_refused_with_their_codes(merchant, batch_of):
    now = timezone.now()
    batch_of("ONE", total_quantity=1, per_buyer_limit=1)
    batch_of("TWO", per_buyer_limit=2)
    batch_of("LATER", claim_starts_at=now + timedelta(hours=1))
    batch_of("OVER", claim_ends_at=now - timedelta(seconds=1), claim_starts_at=now - timedelta(days=1))
    batch_of("STOPPED", active=False)
    batch_of("EVENT", issue_on_event="order.first_paid")
    batch_of("ENDED", valid_from=now - timedelta(days=2), valid_until=now - timedelta(days=1))
    claim(merchant, "ONE")
    claim(merchant, "TWO")
    claim(merchant, "TWO")

    refusals = {}
    for code, buyer in [
        ("NOPE", "bob"),
        ("ONE", "bob"),
        ("ONE", "eve"),
        ("TWO", "bob"),
        ("LATER", "bob"),
        ("OVER", "bob"),
        ("STOPPED", "bob"),
        ("EVENT", "bob"),
        ("ENDED", "bob"),
    ]:
        with pytest.raises(Exception) as refused:
            claim(merchant, code, buyer, now=now)
        refusals[(code, buyer)] = (type(refused.value), refused.value.status)

    assert refusals == {
        ("NOPE", "bob"): (CouponBatchNotFound, 404),
        ("ONE", "bob"): (CouponLimitReached, 409),
        ("ONE", "eve"): (CouponBatchExhausted, 409),
        ("TWO", "bob"): (CouponLimitReached, 409),
        ("LATER", "bob"): (CouponBatchClosed, 422),
        ("OVER", "bob"): (CouponBatchClosed, 422),
        ("STOPPED", "bob"): (CouponBatchClosed, 422),
        ("EVENT", "bob"): (CouponBatchClosed, 422),
        ("ENDED", "bob"): (CouponBatchClosed, 422),
    }
    assert CouponBatch.objects.get(code="ONE").issued_count == 1


def test_another_merchants_batch_is_not_found(merchant, seller, batch_of):
    batch_of("SPRING")
    with pytest.raises(CouponBatchNotFound):
        claim(seller, "SPRING")


def test_the_database_refuses_a_batch_issuing_past_its_total(merchant, batch_of):
    batch = batch_of(total_quantity=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        CouponBatch.objects.filter(pk=batch.pk).update(issued_count=2)


# --- offers and lock ----------------------------------------------------------------------


def test_offers_read_the_buyers_claimed_coupons_in_the_order_named(merchant, seller, batch_of):
    batch_of("A", kind="rate", rate_bps=1_000, cap_minor=20_00, scope="categories", scope_categories=["tea"])
    batch_of("B", kind="fixed", value_minor=3_00, funded_by="seller", scope="seller", scope_seller=seller)
    a, b = claim(merchant, "A"), claim(merchant, "B")

    offers = coupon_offers(
        merchant_id=merchant.pk,
        customer_id=a.customer_id,
        coupon_ids=[b.serial, a.serial],
        now=timezone.now(),
    )

    assert [o.coupon_id for o in offers] == [b.serial, a.serial]
    assert (offers[0].funded_by, offers[0].seller_id, offers[0].value_minor) == ("seller", seller.pk, 3_00)
    assert (offers[1].kind, offers[1].rate_bps, offers[1].cap_minor) == ("rate", 1_000, 20_00)
    assert offers[1].categories == frozenset({"tea"}) and offers[1].product_ids is None
    assert BuyerCoupon.objects.get(pk=a.pk).status == S.CLAIMED  # nothing locked


def test_offers_refuse_coupons_that_are_not_the_buyers_or_not_usable(merchant, batch_of, customer_of):
    now = timezone.now()
    batch_of("SPRING")
    batch_of("SOON", valid_from=now + timedelta(days=1), valid_until=now + timedelta(days=2))
    mine, soon = claim(merchant, "SPRING"), claim(merchant, "SOON")
    eve = customer_of("eve")

    def offers(customer_id, ids):
        return coupon_offers(merchant_id=merchant.pk, customer_id=customer_id, coupon_ids=ids, now=now)

    for customer_id, ids, error in [
        (None, [mine.serial], CouponNotFound),
        (eve.pk, [mine.serial], CouponNotFound),
        (mine.customer_id, ["CPN-nope"], CouponNotFound),
        (mine.customer_id, [soon.serial], CouponUnavailable),
    ]:
        with pytest.raises(error) as refused:
            offers(customer_id, ids)
        assert refused.value.field == "coupon_ids"
    lock(mine)
    with pytest.raises(CouponUnavailable):
        offers(mine.customer_id, [mine.serial])


def test_lock_takes_each_coupon_once_for_its_order(merchant, batch_of):
    batch_of("A")
    batch_of("B", kind="full_reduction", threshold_minor=100_00, value_minor=10_00)
    a, b = claim(merchant, "A"), claim(merchant, "B")

    offers = lock(a, "ORD1", ids=[b.serial, a.serial])

    assert [o.coupon_id for o in offers] == [b.serial, a.serial]
    assert set(BuyerCoupon.objects.values_list("status", "order_ref")) == {(S.LOCKED, "ORD1")}
    with pytest.raises(CouponUnavailable):
        lock(a, "ORD2")


def test_a_refused_lock_inside_the_order_rolls_back_the_coupons_taken_before_it(merchant, batch_of):
    batch_of("A")
    batch_of("B")
    a, b = claim(merchant, "A"), claim(merchant, "B")
    lock(b, "ORD-OTHER")

    with pytest.raises(CouponUnavailable), transaction.atomic():
        lock(a, "ORD1", ids=[a.serial, b.serial])

    a = BuyerCoupon.objects.get(pk=a.pk)  # protected FSM: no refresh_from_db
    assert (a.status, a.order_ref) == (S.CLAIMED, "")


def test_an_expired_coupon_cannot_be_locked(merchant, batch_of):
    batch_of("SPRING")
    coupon = claim(merchant)
    with pytest.raises(CouponUnavailable):
        lock(coupon, now=coupon.valid_until)


# --- consume and release ------------------------------------------------------------------


def test_consume_uses_the_orders_coupons_once(merchant, batch_of):
    batch_of("SPRING")
    coupon = claim(merchant)
    lock(coupon, "ORD1")
    now = timezone.now()

    assert coupons_consume(order_ref="ORD1", now=now) == 1
    assert coupons_consume(order_ref="ORD1", now=now) == 0
    assert coupons_release(order_ref="ORD1", now=now) == 0  # a used coupon stays used
    coupon = BuyerCoupon.objects.get(pk=coupon.pk)
    assert (coupon.status, coupon.order_ref, coupon.used_at) == (S.USED, "ORD1", now)


def test_release_gives_the_coupon_back_once_and_it_can_be_locked_again(merchant, batch_of):
    batch_of("SPRING")
    coupon = claim(merchant)
    lock(coupon, "ORD1")

    assert coupons_release(order_ref="ORD1", now=timezone.now()) == 1
    assert coupons_release(order_ref="ORD1", now=timezone.now()) == 0
    assert coupons_consume(order_ref="ORD1", now=timezone.now()) == 0
    coupon = BuyerCoupon.objects.get(pk=coupon.pk)
    assert (coupon.status, coupon.order_ref, coupon.locked_at) == (S.CLAIMED, "", None)
    lock(coupon, "ORD2")


def test_release_after_the_coupons_time_expires_it(merchant, batch_of):
    batch_of("SPRING")
    coupon = claim(merchant)
    lock(coupon, "ORD1")

    assert coupons_release(order_ref="ORD1", now=coupon.valid_until + timedelta(seconds=1)) == 1
    coupon = BuyerCoupon.objects.get(pk=coupon.pk)
    assert coupon.status == S.EXPIRED


# --- issue on an event --------------------------------------------------------------------


def test_an_event_issues_one_coupon_per_batch_once_per_event_key(merchant, batch_of, customer_of):
    batch_of("WELCOME", issue_on_event="order.first_paid", valid_days=14)
    batch_of("WELCOME2", issue_on_event="order.first_paid")
    batch_of("OTHER", issue_on_event="order.refunded")
    batch_of("CLAIMED")
    bob = customer_of("bob")
    now = timezone.now()

    def issue(key):
        return coupons_issue_on_event(
            merchant_id=merchant.pk, customer_id=bob.pk, event="order.first_paid", event_key=key, now=now
        )

    first = issue("ORD1")
    again = issue("ORD1")

    assert sorted(c.batch.code for c in first) == ["WELCOME", "WELCOME2"]
    assert {c.pk for c in again} == {c.pk for c in first}
    assert BuyerCoupon.objects.count() == 2
    assert all(c.event_key == "ORD1" for c in first)
    assert sorted(CouponBatch.objects.values_list("code", "issued_count")) == [
        ("CLAIMED", 0),
        ("OTHER", 0),
        ("WELCOME", 1),
        ("WELCOME2", 1),
    ]


def test_an_event_respects_the_total_and_the_per_buyer_limit_without_an_error(
    merchant, batch_of, customer_of
):
    batch_of("WELCOME", issue_on_event="signup", total_quantity=2, per_buyer_limit=1)
    bob, eve, ann = customer_of("bob"), customer_of("eve"), customer_of("ann")
    now = timezone.now()

    def issue(customer, key):
        return coupons_issue_on_event(
            merchant_id=merchant.pk, customer_id=customer.pk, event="signup", event_key=key, now=now
        )

    assert len(issue(bob, "k1")) == 1
    assert issue(bob, "k2") == []  # bob's limit
    assert len(issue(eve, "k3")) == 1
    assert issue(ann, "k4") == []  # the batch is exhausted
    assert CouponBatch.objects.get().issued_count == 2


# --- expiry and the machine ----------------------------------------------------------------


def test_expiry_ends_claimed_coupons_past_their_time_only(merchant, batch_of):
    batch_of("SPRING")
    claimed, locked, used = claim(merchant), claim(merchant, buyer="eve"), claim(merchant, buyer="ann")
    lock(locked, "ORD1")
    lock(used, "ORD2")
    coupons_consume(order_ref="ORD2", now=timezone.now())
    later = claimed.valid_until

    assert coupons_expire(now=later - timedelta(seconds=1)) == 0
    assert coupons_expire(now=later) == 1
    assert coupons_expire(now=later) == 0
    assert dict(BuyerCoupon.objects.values_list("pk", "status")) == {
        claimed.pk: S.EXPIRED,
        locked.pk: S.LOCKED,
        used.pk: S.USED,
    }


def test_the_services_moves_are_the_state_machines_transitions():
    """Every conditional UPDATE in coupons.services moves along an edge of the machine."""
    field = BuyerCoupon._meta.get_field("status")
    edges = {(t.source, t.target) for t in field.get_all_transitions(BuyerCoupon)}
    assert edges == {
        (S.CLAIMED, S.LOCKED),  # coupons_lock
        (S.LOCKED, S.USED),  # coupons_consume
        (S.LOCKED, S.CLAIMED),  # coupons_release
        (S.LOCKED, S.EXPIRED),  # coupons_release, past its time
        (S.CLAIMED, S.EXPIRED),  # coupons_expire
    }
    coupon = BuyerCoupon()
    assert can_proceed(coupon.lock) and not can_proceed(coupon.use)
    with pytest.raises(AttributeError):
        coupon.status = S.USED  # protected: only transitions and conditional UPDATEs move it
