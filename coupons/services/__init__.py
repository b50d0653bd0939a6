"""The coupons' use cases. Distribution (claim, issue on an event), redemption (offers for a
preview, lock in an order, consume on payment, release on cancel/close) and expiry."""

from coupons.services.distribution import coupon_claim, coupons_issue_on_event
from coupons.services.expiry import coupons_expire
from coupons.services.redemption import coupon_offers, coupons_consume, coupons_lock, coupons_release

__all__ = [
    "coupon_claim",
    "coupon_offers",
    "coupons_consume",
    "coupons_expire",
    "coupons_issue_on_event",
    "coupons_lock",
    "coupons_release",
]
