"""Row locks of coupons. In the global order (docs/design.md) coupons sit after stock rows
and before payments; inside coupons a batch is locked before any buyer coupon, batches by
ascending id, buyer coupons by serial (`coupons_lock` takes them in that order)."""

from django.db.models import QuerySet

from coupons.errors import CouponBatchNotFound
from coupons.models import CouponBatch


def batch_for_update(*, merchant_id: int, code: str) -> CouponBatch:
    found = (
        CouponBatch.objects.select_for_update(of=("self",))
        .select_related("template")
        .filter(merchant_id=merchant_id, code=code)
        .first()
    )
    if found is None:
        raise CouponBatchNotFound()
    return found


def event_batches_for_update(*, merchant_id: int, event: str) -> QuerySet[CouponBatch]:
    return (
        CouponBatch.objects.select_for_update(of=("self",))
        .select_related("template")
        .filter(merchant_id=merchant_id, issue_on_event=event, active=True)
        .order_by("id")
    )
