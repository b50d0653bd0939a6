"""Proofs over the whole ledger (`manage.py ledger_verify`). Each check is one SQL query
that returns the rows breaking an invariant; an empty result is the proof."""

from dataclasses import dataclass, field

from django.db import connection

from accounts.choices import AccountKind
from accounts.models import Account
from ledger.choices import TransactionKind, TransactionStatus
from ledger.models import Hold, JournalEntry, Posting, Transaction

_P = Posting._meta.db_table
_A = Account._meta.db_table
_H = Hold._meta.db_table
_E = JournalEntry._meta.db_table
_T = Transaction._meta.db_table
# The platform's own money: only an approved adjustment, a coupon subsidy or a settlement
# may take from it — never an app's request (a balanced entry is not proof enough). A split
# payment spends the coupon subsidy its order's platform coupons granted; a refund of one
# takes back the commission the platform earned on it.
_PLATFORM = ", ".join(
    f"'{k}'" for k in (AccountKind.PLATFORM_FUNDING, AccountKind.PLATFORM_REVENUE, AccountKind.COUPON_SUBSIDY)
)
_MAY_DEBIT_PLATFORM = (
    f"(t.kind = '{TransactionKind.ADJUSTMENT}' AND t.status = '{TransactionStatus.SUCCEEDED}')"
    f" OR t.kind = '{TransactionKind.SETTLEMENT}' OR e.reason = 'coupon_subsidy'"
    f" OR (e.reason = 'split_payment' AND a.kind = '{AccountKind.COUPON_SUBSIDY}')"
    f" OR (e.reason = 'split_refund' AND a.kind = '{AccountKind.PLATFORM_REVENUE}')"
)
_SIGNED = "CASE WHEN p.direction = 'credit' THEN p.amount_minor ELSE -p.amount_minor END"

CHECKS: dict[str, str] = {
    "debits equal credits per currency over the whole journal": f"""
        SELECT p.currency, SUM({_SIGNED}) FROM {_P} p GROUP BY p.currency HAVING SUM({_SIGNED}) <> 0
    """,
    "every journal entry balances per currency": f"""
        SELECT p.entry_id, p.currency, SUM({_SIGNED}) FROM {_P} p
        GROUP BY p.entry_id, p.currency HAVING SUM({_SIGNED}) <> 0
    """,
    "every entry has at least two postings": f"""
        SELECT p.entry_id, COUNT(*) FROM {_P} p GROUP BY p.entry_id HAVING COUNT(*) < 2
    """,
    "each account's total is the sum of its applied postings (buffered ones follow)": f"""
        SELECT a.id, a.total_minor, COALESCE(s.applied, 0), COALESCE(s.pending, 0)
        FROM {_A} a LEFT JOIN (
            SELECT p.account_id,
                   SUM(CASE WHEN p.applied THEN {_SIGNED} ELSE 0 END) AS applied,
                   SUM(CASE WHEN p.applied THEN 0 ELSE {_SIGNED} END) AS pending
            FROM {_P} p GROUP BY p.account_id
        ) s ON s.account_id = a.id
        WHERE a.total_minor <> COALESCE(s.applied, 0)
    """,
    "each account's frozen amount is the sum of its pending holds": f"""
        SELECT a.id, a.frozen_minor, COALESCE(h.held, 0) FROM {_A} a LEFT JOIN (
            SELECT account_id, SUM(amount_minor) AS held FROM {_H}
            WHERE status = 'pending' GROUP BY account_id
        ) h ON h.account_id = a.id
        WHERE a.frozen_minor <> COALESCE(h.held, 0)
    """,
    "each account's balance is available plus frozen, and not negative without overdraft": f"""
        SELECT a.id, a.total_minor, a.available_minor, a.frozen_minor FROM {_A} a
        WHERE a.total_minor <> a.available_minor + a.frozen_minor
           OR a.frozen_minor < 0 OR (a.available_minor < 0 AND NOT a.allow_overdraft)
    """,
    "statement lines run without gaps and each balance-after follows from the line before": f"""
        SELECT account_id, seq, balance_after_minor, running, position FROM (
            SELECT p.account_id, p.seq, p.balance_after_minor,
                   SUM({_SIGNED}) OVER (PARTITION BY p.account_id ORDER BY p.seq) AS running,
                   ROW_NUMBER() OVER (PARTITION BY p.account_id ORDER BY p.seq) AS position
            FROM {_P} p WHERE p.applied
        ) lines WHERE balance_after_minor <> running OR seq <> position
    """,
    "each account's statement position matches its last line": f"""
        SELECT a.id, a.seq, COALESCE(MAX(p.seq), 0) FROM {_A} a
        LEFT JOIN {_P} p ON p.account_id = a.id AND p.applied
        GROUP BY a.id, a.seq HAVING a.seq <> COALESCE(MAX(p.seq), 0)
    """,
    "no hold is resolved twice: only a confirmed hold is consumed, once, by its confirmed amount": f"""
        SELECT h.id, h.status, h.confirmed_minor, COALESCE(c.consumed, 0), COALESCE(c.lines, 0)
        FROM {_H} h LEFT JOIN (
            SELECT p.hold_id, SUM(p.amount_minor) AS consumed, COUNT(*) AS lines
            FROM {_P} p WHERE p.hold_id IS NOT NULL GROUP BY p.hold_id
        ) c ON c.hold_id = h.id
        WHERE (h.status = 'confirmed' AND (COALESCE(c.lines, 0) <> 1 OR c.consumed <> h.confirmed_minor))
           OR (h.status <> 'confirmed' AND COALESCE(c.lines, 0) <> 0)
    """,
    "every debit of a platform account is an approved adjustment, a coupon subsidy or a settlement": f"""
        SELECT p.id, a.id, a.kind, t.serial, t.kind, t.status, e.reason, p.amount_minor
        FROM {_P} p JOIN {_A} a ON a.id = p.account_id
        JOIN {_E} e ON e.id = p.entry_id JOIN {_T} t ON t.id = e.transaction_id
        WHERE p.direction = 'debit' AND a.kind IN ({_PLATFORM}) AND NOT ({_MAY_DEBIT_PLATFORM})
    """,
}


@dataclass
class Report:
    problems: dict[str, list[tuple]] = field(default_factory=dict)

    @property
    def clean(self) -> bool:
        return not self.problems

    def lines(self, *, limit: int = 20) -> list[str]:
        out = []
        for check in CHECKS:
            rows = self.problems.get(check)
            out.append(f"{'FAIL' if rows else 'ok  '} {check}")
            for row in (rows or [])[:limit]:
                out.append(f"       {row}")
        return out


def ledger_verify() -> Report:
    report = Report()
    with connection.cursor() as cursor:
        for name, sql in CHECKS.items():
            cursor.execute(sql)
            rows = cursor.fetchall()
            if rows:
                report.problems[name] = rows
    return report
