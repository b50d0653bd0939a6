"""The journal: balanced, append-only, enforced by the database (C2)."""

import pytest
from django.db import DatabaseError, IntegrityError, transaction
from django.utils import timezone

from ledger.choices import Direction, TransactionKind
from ledger.errors import InsufficientFunds, UnbalancedEntry
from ledger.models import JournalEntry, Posting
from ledger.services.journal import Leg, journal_post, journal_reverse
from ledger.services.records import transaction_insert
from tests.ledger.conftest import assert_ledger_clean

D, C = Direction.DEBIT, Direction.CREDIT


def new_txn(merchant, amount=100):
    return transaction_insert(
        kind=TransactionKind.ADJUSTMENT,
        amount_minor=amount,
        currency="CNY",
        merchant_id=merchant.pk,
        now=timezone.now(),
    )


@pytest.mark.django_db
def test_an_entry_moves_both_balances_and_writes_statement_positions(merchant, wallet_of):
    alice, bob = wallet_of("alice", balance=1000), wallet_of("bob")
    with transaction.atomic():
        journal_post(
            txn=new_txn(merchant),
            reason="test",
            legs=[
                Leg(account=alice, direction=D, amount_minor=300),
                Leg(account=bob, direction=C, amount_minor=300),
            ],
            now=timezone.now(),
        )
    alice.refresh_from_db()
    bob.refresh_from_db()
    assert (alice.total_minor, alice.available_minor, bob.total_minor) == (700, 700, 300)
    line = Posting.objects.get(account=alice, direction=D)
    assert (line.seq, line.balance_after_minor) == (2, 700)
    assert_ledger_clean()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "legs",
    [
        [(D, 100), (C, 99)],
        [(D, 100)],
        [(D, 0), (C, 0)],
        [(D, -5), (C, -5)],
    ],
)
def test_services_refuse_an_unbalanced_or_empty_entry(merchant, wallet_of, legs):
    alice, bob = wallet_of("alice", balance=1000), wallet_of("bob")
    accounts = [alice, bob]
    with pytest.raises(UnbalancedEntry), transaction.atomic():
        journal_post(
            txn=new_txn(merchant),
            reason="bad",
            legs=[Leg(account=accounts[i], direction=d, amount_minor=a) for i, (d, a) in enumerate(legs)],
            now=timezone.now(),
        )


@pytest.mark.django_db
def test_an_entry_balances_per_currency(merchant, wallet_of):
    cny, usd = wallet_of("alice", balance=1000), wallet_of("alice", currency="USD")
    with pytest.raises(UnbalancedEntry, match="CNY"), transaction.atomic():
        journal_post(
            txn=new_txn(merchant),
            reason="bad",
            legs=[
                Leg(account=cny, direction=D, amount_minor=100),
                Leg(account=usd, direction=C, amount_minor=100),
            ],
            now=timezone.now(),
        )


@pytest.mark.django_db
def test_insufficient_funds_writes_nothing(merchant, wallet_of):
    alice, bob = wallet_of("alice", balance=100), wallet_of("bob")
    entries = JournalEntry.objects.count()
    with pytest.raises(InsufficientFunds), transaction.atomic():
        journal_post(
            txn=new_txn(merchant),
            reason="too much",
            legs=[
                Leg(account=alice, direction=D, amount_minor=101),
                Leg(account=bob, direction=C, amount_minor=101),
            ],
            now=timezone.now(),
        )
    alice.refresh_from_db()
    assert alice.total_minor == 100 and JournalEntry.objects.count() == entries


@pytest.mark.django_db(transaction=True)
def test_the_database_refuses_an_unbalanced_entry_at_commit(merchant, wallet_of):
    """Given code that bypasses the services, the deferred trigger still refuses the commit."""
    alice = wallet_of("alice", balance=1000)
    txn = new_txn(merchant)
    with pytest.raises(IntegrityError, match="does not balance"), transaction.atomic():
        entry = JournalEntry.objects.create(transaction=txn, reason="forged", created_at=timezone.now())
        Posting.objects.create(
            entry=entry,
            account=alice,
            direction=C,
            amount_minor=5,
            currency="CNY",
            applied=False,
            created_at=timezone.now(),
        )
    assert not JournalEntry.objects.filter(reason="forged").exists()


@pytest.mark.django_db(transaction=True)
def test_the_database_refuses_negative_and_zero_postings(merchant, wallet_of):
    alice = wallet_of("alice", balance=1000)
    txn = new_txn(merchant)
    for amount in (0, -5):
        with pytest.raises(IntegrityError), transaction.atomic():
            entry = JournalEntry.objects.create(transaction=txn, reason="forged", created_at=timezone.now())
            Posting.objects.create(
                entry=entry,
                account=alice,
                direction=C,
                amount_minor=amount,
                currency="CNY",
                applied=False,
                created_at=timezone.now(),
            )


@pytest.mark.django_db(transaction=True)
def test_postings_are_append_only(merchant, wallet_of):
    wallet_of("alice", balance=1000)
    posting = Posting.objects.filter(applied=True).first()
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        Posting.objects.filter(pk=posting.pk).update(amount_minor=1)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        Posting.objects.filter(pk=posting.pk).update(balance_after_minor=1)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        Posting.objects.filter(pk=posting.pk).delete()
    assert_ledger_clean()


@pytest.mark.django_db
def test_a_correction_is_a_reversing_entry(merchant, wallet_of):
    alice, bob = wallet_of("alice", balance=1000), wallet_of("bob")
    with transaction.atomic():
        entry = journal_post(
            txn=new_txn(merchant),
            reason="mistake",
            legs=[
                Leg(account=alice, direction=D, amount_minor=250),
                Leg(account=bob, direction=C, amount_minor=250),
            ],
            now=timezone.now(),
        )
    with transaction.atomic():
        reversal = journal_reverse(entry=entry, reason="correction", now=timezone.now())
    alice.refresh_from_db()
    bob.refresh_from_db()
    assert (alice.total_minor, bob.total_minor) == (1000, 0)
    assert reversal.reverses == entry
    with pytest.raises(IntegrityError), transaction.atomic():
        journal_reverse(entry=entry, reason="twice", now=timezone.now())
    assert_ledger_clean()
