from celery import shared_task
from django.utils import timezone

from coupons.services import coupons_expire


@shared_task(acks_late=True)
def coupons_expire_task() -> int:
    return coupons_expire(now=timezone.now())
