"""The coupons' errors, with the stable codes of docs/api.md. Pure: coupons.pricing raises
them too, so nothing here may import Django."""

from paycenter.errors import Conflict, NotFound, Unprocessable


class CouponNotApplicable(Unprocessable):
    code = "coupon_not_applicable"
    default_message = "A coupon does not apply to these items."

    def __init__(self, message: str | None = None, **kwargs: object) -> None:
        kwargs.setdefault("field", "coupon_ids")
        super().__init__(message, **kwargs)


class CouponsNotStackable(Unprocessable):
    code = "coupons_not_stackable"
    default_message = "At most one platform coupon and one coupon per seller may be used together."

    def __init__(self, message: str | None = None, **kwargs: object) -> None:
        kwargs.setdefault("field", "coupon_ids")
        super().__init__(message, **kwargs)


class CouponNotFound(NotFound):
    code = "coupon_not_found"
    default_message = "No such coupon for this buyer."

    def __init__(self, message: str | None = None, **kwargs: object) -> None:
        kwargs.setdefault("field", "coupon_ids")
        super().__init__(message, **kwargs)


class CouponUnavailable(Conflict):
    code = "coupon_unavailable"
    default_message = "The coupon is locked by another order, used, expired or not valid yet."

    def __init__(self, message: str | None = None, **kwargs: object) -> None:
        kwargs.setdefault("field", "coupon_ids")
        super().__init__(message, **kwargs)


class CouponBatchNotFound(NotFound):
    code = "coupon_batch_not_found"
    default_message = "No such coupon batch."

    def __init__(self, message: str | None = None, **kwargs: object) -> None:
        kwargs.setdefault("field", "batch_code")
        super().__init__(message, **kwargs)


class CouponBatchExhausted(Conflict):
    code = "coupon_batch_exhausted"
    default_message = "Every coupon of this batch has been given out."


class CouponLimitReached(Conflict):
    code = "coupon_limit_reached"
    default_message = "The buyer already holds as many coupons of this batch as it allows."


class CouponBatchClosed(Unprocessable):
    code = "coupon_batch_closed"
    default_message = (
        "The batch cannot be claimed now: outside its claim window, stopped, or issued on events only."
    )
