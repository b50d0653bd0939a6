"""The only code that changes account balances. Every change is one conditional UPDATE
whose WHERE clause is the business rule (enough funds, account active) and whose CHECK
constraints are the last guard; it returns the new statement position and total.

Callers (ledger.services) run these inside the transaction that writes the postings, and
touch accounts in ascending id order so two transactions never wait on each other in a
circle. Buffered (hot) accounts are explained in docs/ledger.md.
"""

from dataclasses import dataclass

from django.db import connection
from django.db.models import F

from accounts.choices import AccountStatus
from accounts.models import Account
from ledger.choices import Direction
from ledger.errors import AccountNotActive, InsufficientFunds
from ledger.models import Posting

_ACCOUNT = Account._meta.db_table
_ACTIVE = AccountStatus.ACTIVE.value
_CLOSED = AccountStatus.CLOSED.value
_POSTING = Posting._meta.db_table


@dataclass(frozen=True)
class Position:
    seq: int
    total_minor: int


def _update(sql: str, params: list) -> tuple | None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def _refusal(account_id: int) -> Exception:
    """Why a conditional update touched no row."""
    status = Account.objects.filter(pk=account_id).values_list("status", flat=True).first()
    if status != _ACTIVE:
        return AccountNotActive()
    return InsufficientFunds(field="amount")


def credit(*, account_id: int, amount: int) -> Position:
    row = _update(
        f"UPDATE {_ACCOUNT} SET total_minor = total_minor + %s, available_minor = available_minor + %s,"
        " seq = seq + 1 WHERE id = %s AND status <> %s RETURNING seq, total_minor",
        [amount, amount, account_id, _CLOSED],
    )
    if row is None:
        raise AccountNotActive()
    return Position(*row)


def debit(*, account_id: int, amount: int) -> Position:
    row = _update(
        f"UPDATE {_ACCOUNT} SET total_minor = total_minor - %s, available_minor = available_minor - %s,"
        " seq = seq + 1 WHERE id = %s AND status = %s AND (allow_overdraft OR available_minor >= %s)"
        " RETURNING seq, total_minor",
        [amount, amount, account_id, _ACTIVE, amount],
    )
    if row is None:
        raise _refusal(account_id)
    return Position(*row)


def debit_frozen(*, account_id: int, amount: int) -> Position:
    """Consume frozen funds (a confirmed hold): total and frozen go down together."""
    row = _update(
        f"UPDATE {_ACCOUNT} SET total_minor = total_minor - %s, frozen_minor = frozen_minor - %s,"
        " seq = seq + 1 WHERE id = %s AND frozen_minor >= %s RETURNING seq, total_minor",
        [amount, amount, account_id, amount],
    )
    if row is None:
        raise InsufficientFunds("The hold's frozen funds are missing.")
    return Position(*row)


def freeze(*, account_id: int, amount: int) -> None:
    row = _update(
        f"UPDATE {_ACCOUNT} SET available_minor = available_minor - %s, frozen_minor = frozen_minor + %s"
        " WHERE id = %s AND status = %s AND available_minor >= %s RETURNING id",
        [amount, amount, account_id, _ACTIVE, amount],
    )
    if row is None:
        raise _refusal(account_id)


def unfreeze(*, account_id: int, amount: int) -> None:
    row = _update(
        f"UPDATE {_ACCOUNT} SET available_minor = available_minor + %s, frozen_minor = frozen_minor - %s"
        " WHERE id = %s AND frozen_minor >= %s RETURNING id",
        [amount, amount, account_id, amount],
    )
    if row is None:
        raise InsufficientFunds("The hold's frozen funds are missing.")


def is_buffered(*, account: Account, direction: str) -> bool:
    """A posting is buffered when it can never be refused: a credit, or a debit of an
    account that may go negative. Debits that need a balance check are applied at once."""
    return account.buffered and (direction == Direction.CREDIT or account.allow_overdraft)


def apply_pending(*, account_id: int) -> int:
    """Fold the account's buffered postings into its balance, in posting order, giving each
    its statement position and balance-after. Must run inside a transaction; returns how
    many postings were applied.

    One statement numbers and sums the whole buffer (window functions) while the account
    row is locked: per-row updates from Python cost ~25x more and made the hot account
    the bottleneck (docs/benchmarks.md)."""
    account = Account.objects.select_for_update().only("seq", "total_minor").get(pk=account_id)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {_POSTING} AS p SET applied = TRUE, seq = %s + q.n, balance_after_minor = %s + q.running"
            " FROM (SELECT id, ROW_NUMBER() OVER (ORDER BY id) AS n,"
            " SUM(CASE WHEN direction = %s THEN amount_minor ELSE -amount_minor END)"
            " OVER (ORDER BY id) AS running"
            f" FROM {_POSTING} WHERE account_id = %s AND NOT applied) AS q"
            " WHERE p.id = q.id RETURNING seq, balance_after_minor",
            [account.seq, account.total_minor, Direction.CREDIT.value, account_id],
        )
        rows = cursor.fetchall()
    if not rows:
        return 0
    last_seq, last_balance = max(rows)
    delta = last_balance - account.total_minor
    Account.objects.filter(pk=account_id).update(
        total_minor=last_balance, available_minor=F("available_minor") + delta, seq=last_seq
    )
    return len(rows)


def pending_net(*, account_id: int) -> int:
    """Credits minus debits of the account's postings not yet applied."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT COALESCE(SUM(CASE WHEN direction = %s THEN amount_minor ELSE -amount_minor END), 0)"
            f" FROM {Posting._meta.db_table} WHERE account_id = %s AND NOT applied",
            [Direction.CREDIT.value, account_id],
        )
        return int(cursor.fetchone()[0])
