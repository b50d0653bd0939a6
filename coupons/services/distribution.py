"""Handing coupons out (E2): a buyer claims one from a batch, or one is issued to a buyer on
an event. The batch row is locked first, so a buyer's count and the batch's remaining
quantity are read by one claim at a time; the batch's count still moves only by a
conditional UPDATE (`issued_count < total_quantity`), with the CHECK behind it."""

from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import F

from accounts.services import customer_get_or_create
from coupons import locks
from coupons.errors import CouponBatchClosed, CouponBatchExhausted, CouponLimitReached
from coupons.models import BuyerCoupon, CouponBatch, CouponTemplate
from coupons.serials import coupon_serial_new

SERIAL_ATTEMPTS = 3


def coupon_claim(*, merchant_id: int, batch_code: str, buyer_external_id: str, now: datetime) -> BuyerCoupon:
    """The buyer (created if new) claims one coupon of the merchant's batch."""
    customer, _ = customer_get_or_create(merchant_id=merchant_id, external_id=buyer_external_id, now=now)
    return _claim(merchant_id=merchant_id, batch_code=batch_code, customer_id=customer.pk, now=now)


@transaction.atomic(durable=True)
def _claim(*, merchant_id: int, batch_code: str, customer_id: int, now: datetime) -> BuyerCoupon:
    batch = locks.batch_for_update(merchant_id=merchant_id, code=batch_code)
    if batch.issue_on_event:
        raise CouponBatchClosed(f"Batch {batch_code} is issued on {batch.issue_on_event} only.")
    window = coupon_window(template=batch.template, now=now)
    if not _claimable(batch, now) or window is None:
        raise CouponBatchClosed()
    if _held(batch, customer_id) >= batch.per_buyer_limit:
        raise CouponLimitReached()
    if not _take_one(batch):
        raise CouponBatchExhausted()
    return _coupon_insert(batch=batch, customer_id=customer_id, window=window, event_key="", now=now)


@transaction.atomic(durable=True)
def coupons_issue_on_event(
    *, merchant_id: int, customer_id: int, event: str, event_key: str, now: datetime
) -> list[BuyerCoupon]:
    """One coupon of each of the merchant's open batches issued on `event`, once per
    `event_key` (a repeated event returns the coupons it issued the first time). A batch that
    is exhausted, closed, or whose limit the buyer reached is skipped without an error: the
    event happened either way."""
    if not event or not event_key:
        raise ValueError("an event and its key are required")
    issued = []
    for batch in locks.event_batches_for_update(merchant_id=merchant_id, event=event):
        existing = BuyerCoupon.objects.filter(
            batch=batch, customer_id=customer_id, event_key=event_key
        ).first()
        if existing is not None:
            issued.append(existing)
            continue
        window = coupon_window(template=batch.template, now=now)
        if not _claimable(batch, now) or window is None:
            continue
        if _held(batch, customer_id) >= batch.per_buyer_limit or not _take_one(batch):
            continue
        issued.append(
            _coupon_insert(batch=batch, customer_id=customer_id, window=window, event_key=event_key, now=now)
        )
    return issued


def coupon_window(*, template: CouponTemplate, now: datetime) -> tuple[datetime, datetime] | None:
    """When a coupon handed out now is valid: the template's window, or `valid_days` from
    now (or from the template's start, if later) and never past the template's end; None
    when that window is already over."""
    start = max(now, template.valid_from) if template.valid_from else now
    end = template.valid_until
    if template.valid_days is not None:
        by_days = start + timedelta(days=template.valid_days)
        end = by_days if end is None else min(end, by_days)
    if end is None or end <= max(start, now):
        return None
    return start, end


def _claimable(batch: CouponBatch, now: datetime) -> bool:
    return (
        batch.active
        and (batch.claim_starts_at is None or batch.claim_starts_at <= now)
        and (batch.claim_ends_at is None or now < batch.claim_ends_at)
    )


def _held(batch: CouponBatch, customer_id: int) -> int:
    """The buyer's coupons of the batch, whatever became of them (read under the batch lock)."""
    return BuyerCoupon.objects.filter(batch=batch, customer_id=customer_id).count()


def _take_one(batch: CouponBatch) -> bool:
    return bool(
        CouponBatch.objects.filter(pk=batch.pk, issued_count__lt=F("total_quantity")).update(
            issued_count=F("issued_count") + 1
        )
    )


def _coupon_insert(
    *, batch: CouponBatch, customer_id: int, window: tuple[datetime, datetime], event_key: str, now: datetime
) -> BuyerCoupon:
    for attempt in range(SERIAL_ATTEMPTS):
        try:
            with transaction.atomic():
                return BuyerCoupon.objects.create(
                    serial=coupon_serial_new(now=now),
                    merchant_id=batch.merchant_id,
                    batch=batch,
                    customer_id=customer_id,
                    event_key=event_key,
                    valid_from=window[0],
                    valid_until=window[1],
                    claimed_at=now,
                )
        except IntegrityError:
            # Only the serial can collide: the batch lock orders everything else.
            if attempt == SERIAL_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")
