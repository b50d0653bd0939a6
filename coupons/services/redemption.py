"""Using coupons in an order (E3). A preview only reads them (`coupon_offers`); an order locks
them inside its own transaction (`coupons_lock`: `UPDATE … WHERE status = 'claimed'`, so of
any number of orders naming one coupon exactly one takes it); the order's payment uses them
(`coupons_consume`), its cancellation or timeout gives them back (`coupons_release`). The
last two are keyed by the order and safe to repeat."""

from collections.abc import Sequence
from datetime import datetime

from django.db import transaction

from coupons.choices import CouponStatus
from coupons.errors import CouponNotFound, CouponUnavailable
from coupons.models import BuyerCoupon
from coupons.pricing import Offer
from coupons.selectors import offer_of, with_terms

S = CouponStatus


def coupon_offers(
    *, merchant_id: int, customer_id: int | None, coupon_ids: Sequence[str], now: datetime
) -> list[Offer]:
    """The coupons, in the order named, for a price preview: each the customer's, of this
    merchant, claimed and valid now. Nothing is locked."""
    if customer_id is None:
        raise CouponNotFound(f"No coupon {coupon_ids[0]} for this buyer." if coupon_ids else None)
    found = {
        c.serial: c
        for c in with_terms(
            BuyerCoupon.objects.filter(
                merchant_id=merchant_id, customer_id=customer_id, serial__in=coupon_ids
            )
        )
    }
    offers = []
    for serial in coupon_ids:
        coupon = found.get(serial)
        if coupon is None:
            raise CouponNotFound(f"No coupon {serial} for this buyer.")
        if coupon.status != S.CLAIMED or not coupon.valid_from <= now < coupon.valid_until:
            raise CouponUnavailable(f"Coupon {serial} is {_state_of(coupon, now)}.")
        offers.append(offer_of(coupon))
    return offers


def coupons_lock(
    *, merchant_id: int, customer_id: int, coupon_ids: Sequence[str], order_ref: str, now: datetime
) -> list[Offer]:
    """Inside the caller's transaction (the order's): each coupon claimed → locked for
    `order_ref`, in serial order (the lock order every order shares). One not taken refuses
    the order; the caller's rollback gives back the ones taken before it."""
    if not order_ref:
        raise ValueError("coupons are locked for an order")
    with transaction.atomic():
        for serial in sorted(set(coupon_ids)):
            taken = BuyerCoupon.objects.filter(
                serial=serial,
                merchant_id=merchant_id,
                customer_id=customer_id,
                status=S.CLAIMED,
                valid_from__lte=now,
                valid_until__gt=now,
            ).update(status=S.LOCKED, order_ref=order_ref, locked_at=now)
            if not taken:
                _explain(merchant_id=merchant_id, customer_id=customer_id, serial=serial, now=now)
        locked = {
            c.serial: c
            for c in with_terms(BuyerCoupon.objects.filter(order_ref=order_ref, serial__in=coupon_ids))
        }
    return [offer_of(locked[serial]) for serial in coupon_ids]


def coupons_consume(*, order_ref: str, now: datetime) -> int:
    """The order was paid: its locked coupons are used. Returns how many changed (0 when
    repeated)."""
    if not order_ref:
        raise ValueError("coupons are consumed for an order")
    return BuyerCoupon.objects.filter(order_ref=order_ref, status=S.LOCKED).update(status=S.USED, used_at=now)


def coupons_release(*, order_ref: str, now: datetime) -> int:
    """The order was cancelled or closed: its locked coupons go back to the buyer, or expire
    when their time has passed meanwhile. Returns how many changed (0 when repeated)."""
    if not order_ref:
        raise ValueError("coupons are released for an order")
    locked = BuyerCoupon.objects.filter(order_ref=order_ref, status=S.LOCKED)
    with transaction.atomic():
        back = locked.filter(valid_until__gt=now).update(status=S.CLAIMED, order_ref="", locked_at=None)
        gone = locked.filter(valid_until__lte=now).update(status=S.EXPIRED)
    return back + gone


def _explain(*, merchant_id: int, customer_id: int, serial: str, now: datetime) -> None:
    coupon = BuyerCoupon.objects.filter(
        serial=serial, merchant_id=merchant_id, customer_id=customer_id
    ).first()
    if coupon is None:
        raise CouponNotFound(f"No coupon {serial} for this buyer.")
    raise CouponUnavailable(f"Coupon {serial} is {_state_of(coupon, now)}.")


def _state_of(coupon: BuyerCoupon, now: datetime) -> str:
    if coupon.status == S.CLAIMED:
        return "not valid yet" if now < coupon.valid_from else "expired"
    return {S.LOCKED: "locked by another order", S.USED: "used", S.EXPIRED: "expired"}[coupon.status]
