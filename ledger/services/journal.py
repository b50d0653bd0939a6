"""Double-entry posting: the one way balances change (C2)."""

import logging
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction

from accounts.models import Account
from ledger import balances
from ledger.choices import Direction
from ledger.errors import CurrencyMismatch, UnbalancedEntry
from ledger.models import Hold, JournalEntry, Posting, Transaction

logger = logging.getLogger(__name__)
APPLY_DEBOUNCE_SECONDS = 1
# Queues the application of one account's buffer soon (ledger.apps registers the Celery
# task): a hook, so that the journal does not import the task module that imports it.
_apply_later: Callable[[int], None] | None = None


def apply_later_with(scheduler: Callable[[int], None]) -> None:
    global _apply_later
    _apply_later = scheduler


@dataclass(frozen=True)
class Leg:
    account: Account
    direction: str
    amount_minor: int
    hold: Hold | None = None  # a debit that consumes this hold's frozen funds


def _check_balanced(legs: list[Leg]) -> None:
    if len(legs) < 2:
        raise UnbalancedEntry("An entry needs at least two legs.")
    net: dict[str, int] = defaultdict(int)
    for leg in legs:
        if leg.amount_minor <= 0:
            raise UnbalancedEntry("Posting amounts are positive; the direction carries the sign.")
        if leg.hold is not None and leg.hold.currency != leg.account.currency:
            raise CurrencyMismatch()
        net[leg.account.currency] += (
            leg.amount_minor if leg.direction == Direction.DEBIT else -leg.amount_minor
        )
    unbalanced = {currency: diff for currency, diff in net.items() if diff}
    if unbalanced:
        raise UnbalancedEntry(f"Debits and credits differ: {unbalanced}")


def journal_post(
    *,
    txn: Transaction,
    reason: str,
    legs: list[Leg],
    now: datetime,
    reverses: JournalEntry | None = None,
) -> JournalEntry:
    """Write a balanced entry and move the balances with it, in the caller's transaction."""
    if not connection.in_atomic_block:
        raise RuntimeError("journal_post must run inside the use case's transaction")
    _check_balanced(legs)
    entry = JournalEntry.objects.create(transaction=txn, reason=reason, reverses=reverses, created_at=now)
    postings, buffered_accounts = [], set()
    # Ascending account id: the lock order that keeps concurrent entries deadlock-free.
    for leg in sorted(legs, key=lambda leg: (leg.account.pk, leg.direction)):
        posting = Posting(
            entry=entry,
            account=leg.account,
            direction=leg.direction,
            amount_minor=leg.amount_minor,
            currency=leg.account.currency,
            hold=leg.hold,
            created_at=now,
        )
        if leg.hold is None and balances.is_buffered(account=leg.account, direction=leg.direction):
            posting.applied = False
            buffered_accounts.add(leg.account.pk)
        else:
            position = _apply_now(leg)
            posting.seq, posting.balance_after_minor = position.seq, position.total_minor
        postings.append(posting)
    Posting.objects.bulk_create(postings)
    if connection.vendor != "postgresql":
        _check_stored_balance(entry)  # PostgreSQL's deferred trigger does this at commit
    for account_id in buffered_accounts:
        transaction.on_commit(lambda account_id=account_id: schedule_apply(account_id=account_id))
    return entry


def _check_stored_balance(entry: JournalEntry) -> None:
    """What was written balances per currency (the embedded SQLite default has no deferred
    constraint trigger to prove it at commit)."""
    net: dict[str, int] = defaultdict(int)
    for direction, amount, currency in entry.postings.values_list("direction", "amount_minor", "currency"):
        net[currency] += amount if direction == Direction.DEBIT else -amount
    unbalanced = {currency: diff for currency, diff in net.items() if diff}
    if unbalanced:
        raise UnbalancedEntry(f"Entry {entry.pk} does not balance as stored: {unbalanced}")


def _apply_now(leg: Leg) -> balances.Position:
    account_id = leg.account.pk
    if leg.hold is not None:
        return balances.debit_frozen(account_id=account_id, amount=leg.amount_minor)
    if leg.direction == Direction.CREDIT:
        return balances.credit(account_id=account_id, amount=leg.amount_minor)
    if leg.account.buffered:
        # Buffered credits count as funds: fold them in before checking the balance.
        balances.apply_pending(account_id=account_id)
    return balances.debit(account_id=account_id, amount=leg.amount_minor)


def journal_reverse(*, entry: JournalEntry, reason: str, now: datetime) -> JournalEntry:
    """A correction: the same legs with directions swapped, pointing at the original."""
    flip = {Direction.DEBIT: Direction.CREDIT, Direction.CREDIT: Direction.DEBIT}
    legs = [
        Leg(account=p.account, direction=flip[p.direction], amount_minor=p.amount_minor)
        for p in entry.postings.select_related("account")
    ]
    return journal_post(txn=entry.transaction, reason=reason, legs=legs, now=now, reverses=entry)


_scheduled_here: dict[int, float] = {}


def schedule_apply(*, account_id: int) -> None:
    """After commit: fold a hot account's buffered postings in soon, at most about once a
    second per account; the periodic sweep catches whatever this debounce skips. The
    embedded default (one process, no beat) applies at once instead.

    A process that scheduled the account within the second asks nobody (no Redis call per
    payment); the shared key then keeps the processes to about one application a second."""
    try:
        if settings.LEDGER_APPLY_AT_ONCE:
            account_apply_pending(account_id=account_id)
            return
        now = time.monotonic()
        if now - _scheduled_here.get(account_id, -APPLY_DEBOUNCE_SECONDS) < APPLY_DEBOUNCE_SECONDS:
            return
        if len(_scheduled_here) > 10_000:
            _scheduled_here.clear()
        _scheduled_here[account_id] = now
        if _apply_later is not None and cache.add(
            f"ledger:apply:{account_id}", 1, timeout=APPLY_DEBOUNCE_SECONDS
        ):
            _apply_later(account_id)
    except Exception:
        # Committed already; reads include pending postings and the sweep applies them.
        logger.warning("ledger: could not schedule applying account %s", account_id, exc_info=True)


@transaction.atomic
def account_apply_pending(*, account_id: int) -> int:
    return balances.apply_pending(account_id=account_id)
