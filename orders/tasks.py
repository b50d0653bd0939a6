from celery import shared_task
from django.utils import timezone

from orders.services.lifecycle import orders_close_expired


@shared_task
def orders_close_expired_task() -> int:
    return orders_close_expired(now=timezone.now())
