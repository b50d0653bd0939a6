from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from reconciliation.services.daily import reconcile_run


@shared_task
def reconcile_yesterday_task() -> list[dict]:
    """Yesterday's statements (UTC), once the channels have published them."""
    now = timezone.now()
    return [result.as_dict() for result in reconcile_run(day=(now - timedelta(days=1)).date(), now=now)]
