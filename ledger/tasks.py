import logging

from celery import shared_task
from django.utils import timezone

from ledger.selectors import accounts_with_pending
from ledger.services.holds import holds_expire
from ledger.services.journal import account_apply_pending
from ledger.services.sweeps import expire_due, query_due
from ledger.verify import ledger_verify

logger = logging.getLogger(__name__)


@shared_task(acks_late=True)
def ledger_apply_pending_task(*, account_id: int) -> int:
    return account_apply_pending(account_id=account_id)


def ledger_apply_later(account_id: int) -> None:
    """The journal's scheduler for buffered postings (registered in LedgerConfig.ready)."""
    ledger_apply_pending_task.apply_async(kwargs={"account_id": account_id}, countdown=0.5)


@shared_task(acks_late=True)
def ledger_apply_all_pending_task() -> int:
    """The sweep behind the per-commit trigger: nothing stays buffered for long."""
    return sum(account_apply_pending(account_id=account_id) for account_id in accounts_with_pending())


@shared_task(acks_late=True)
def holds_expire_task() -> int:
    return holds_expire(now=timezone.now())


@shared_task(acks_late=True)
def payments_query_due_task() -> int:
    """Lost notifications and unknown outcomes, asked with backoff."""
    return query_due(now=timezone.now())


@shared_task(acks_late=True)
def payments_expire_task() -> int:
    return expire_due(now=timezone.now())


@shared_task(acks_late=True)
def ledger_verify_task() -> bool:
    """The nightly proof (beat): every invariant, the money-creation check included; a
    broken one is an alert with the report, for a person to look at."""
    report = ledger_verify()
    if not report.clean:
        logger.error("ALERT ledger_verify failed:\n%s", "\n".join(report.lines()))
    return report.clean
