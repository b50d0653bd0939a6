"""Coupons nobody used in time (beat: `coupons.tasks.coupons_expire_task`)."""

from datetime import datetime

from coupons.choices import CouponStatus
from coupons.models import BuyerCoupon

S = CouponStatus


def coupons_expire(*, now: datetime) -> int:
    """Claimed coupons past `valid_until` → expired, in one conditional UPDATE (a coupon an
    order locks meanwhile is not touched; its release expires it). Returns how many."""
    return BuyerCoupon.objects.filter(status=S.CLAIMED, valid_until__lte=now).update(status=S.EXPIRED)
