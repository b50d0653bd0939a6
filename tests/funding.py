"""Money for tests to spend: an approved adjustment, the only way the platform funds an
account without a channel (ledger.services.adjustments). Two finance users, so any amount
posts whatever the second-approval threshold."""

from django.utils import timezone

from ledger.models import Transaction
from ledger.services.adjustments import adjustment_approve, adjustment_propose


def fund(*, account_id: int, amount_minor: int, currency: str = "CNY") -> Transaction:
    txn = adjustment_propose(
        account_id=account_id,
        amount_minor=amount_minor,
        currency=currency,
        reason="test funds",
        actor="finance-a",
        now=timezone.now(),
    )
    if txn.status == "pending":
        txn = adjustment_approve(transaction_id=txn.pk, actor="finance-b", now=timezone.now())
    return txn
