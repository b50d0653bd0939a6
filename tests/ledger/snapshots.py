"""What a refused request must leave exactly as it found it.

`money_snapshot()` reads every balance and every row a money movement writes; a guard test
takes one before the refused call and compares it with one after. `without_check(name)`
drops a CHECK constraint inside the test's own transaction (PostgreSQL DDL rolls back with
it), so a service-level guard is tested on its own: with the database's last guard out of
the way, breaking the service's guard moves money instead of turning into a 500.
"""

from django.db import connection

from accounts.models import Account
from ledger.models import Hold, JournalEntry, Posting, Transaction
from paycenter.models import AuditEntry, OutboxMessage


def money_snapshot() -> dict:
    return {
        "balances": {
            a.pk: (a.total_minor, a.available_minor, a.frozen_minor, a.seq)
            for a in Account.objects.order_by("pk")
        },
        "transactions": list(
            Transaction.objects.order_by("pk").values_list(
                "pk", "status", "paid_minor", "refunded_minor", "captured_minor"
            )
        ),
        "holds": list(Hold.objects.order_by("pk").values_list("pk", "status", "confirmed_minor")),
        "journal_entries": JournalEntry.objects.count(),
        "postings": Posting.objects.count(),
        "outbox": OutboxMessage.objects.count(),
        "audit": AuditEntry.objects.count(),
    }


def without_check(table: str, constraint: str) -> None:
    """Drop a CHECK constraint for the rest of the (non-transactional) test."""
    assert connection.vendor == "postgresql", "guard tests run on PostgreSQL"
    assert connection.in_atomic_block, "only inside the test's transaction, which rolls it back"
    with connection.cursor() as cursor:
        # ALTER TABLE refuses while deferred checks (foreign keys, the balanced-entry
        # trigger) are pending: run them now, then defer them again — every deferrable
        # constraint of the schema is INITIALLY DEFERRED.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(f'ALTER TABLE "{table}" DROP CONSTRAINT "{constraint}"')
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")
