"""Frozen funds as TCC: freeze → confirm (all or part) / cancel / expire, each once (C3)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from ledger.choices import TransactionKind
from ledger.errors import HoldAlreadyResolved, HoldKeyReused, InsufficientFunds
from ledger.models import Hold, Posting
from ledger.services.holds import hold_cancel, hold_confirm, hold_freeze, holds_expire
from ledger.services.records import transaction_insert
from tests.ledger.conftest import assert_ledger_clean

pytestmark = pytest.mark.django_db


def txn(account):
    return transaction_insert(
        kind=TransactionKind.PAYMENT,
        amount_minor=1,
        currency="CNY",
        merchant_id=account.merchant_id,
        now=timezone.now(),
    )


def balances(account):
    account.refresh_from_db()
    return account.total_minor, account.available_minor, account.frozen_minor


def test_freeze_moves_available_to_frozen(wallet_of):
    alice = wallet_of("alice", balance=1000)
    hold = hold_freeze(txn=txn(alice), key="h1", account=alice, amount_minor=400, now=timezone.now())
    assert hold.status == "pending"
    assert balances(alice) == (1000, 600, 400)
    assert_ledger_clean()


def test_freeze_is_idempotent_by_key(wallet_of):
    alice = wallet_of("alice", balance=1000)
    first = hold_freeze(txn=txn(alice), key="h1", account=alice, amount_minor=400, now=timezone.now())
    again = hold_freeze(txn=txn(alice), key="h1", account=alice, amount_minor=400, now=timezone.now())
    assert first.pk == again.pk and balances(alice) == (1000, 600, 400)
    with pytest.raises(HoldKeyReused):
        hold_freeze(txn=txn(alice), key="h1", account=alice, amount_minor=401, now=timezone.now())


def test_freeze_beyond_available_is_refused_and_writes_nothing(wallet_of):
    alice = wallet_of("alice", balance=1000)
    hold_freeze(txn=txn(alice), key="h1", account=alice, amount_minor=800, now=timezone.now())
    with pytest.raises(InsufficientFunds):
        hold_freeze(txn=txn(alice), key="h2", account=alice, amount_minor=201, now=timezone.now())
    assert not Hold.objects.filter(key="h2").exists()
    assert balances(alice) == (1000, 200, 800)


def test_partial_confirm_consumes_part_and_releases_the_rest(wallet_of):
    alice, shop = wallet_of("alice", balance=1000), wallet_of("shop")
    hold = hold_freeze(txn=txn(alice), key="h1", account=alice, amount_minor=400, now=timezone.now())
    hold_confirm(hold_id=hold.pk, credit_account=shop, amount_minor=250, reason="pay", now=timezone.now())
    assert balances(alice) == (750, 750, 0)
    assert balances(shop)[0] == 250
    debit = Posting.objects.get(hold=hold)
    assert (debit.amount_minor, debit.balance_after_minor) == (250, 750)
    assert_ledger_clean()


def test_confirm_is_idempotent_and_a_hold_resolves_once(wallet_of):
    alice, shop = wallet_of("alice", balance=1000), wallet_of("shop")
    hold = hold_freeze(txn=txn(alice), key="h1", account=alice, amount_minor=400, now=timezone.now())
    hold_confirm(hold_id=hold.pk, credit_account=shop, reason="pay", now=timezone.now())
    hold_confirm(hold_id=hold.pk, credit_account=shop, reason="pay", now=timezone.now())  # a retry
    assert balances(alice) == (600, 600, 0) and balances(shop)[0] == 400
    with pytest.raises(HoldAlreadyResolved):
        hold_cancel(hold_id=hold.pk, now=timezone.now())
    with pytest.raises(HoldAlreadyResolved):
        hold_confirm(hold_id=hold.pk, credit_account=shop, amount_minor=100, reason="pay", now=timezone.now())
    assert_ledger_clean()


def test_cancel_releases_and_is_idempotent(wallet_of):
    alice, shop = wallet_of("alice", balance=1000), wallet_of("shop")
    hold = hold_freeze(txn=txn(alice), key="h1", account=alice, amount_minor=400, now=timezone.now())
    hold_cancel(hold_id=hold.pk, now=timezone.now())
    hold_cancel(hold_id=hold.pk, now=timezone.now())
    assert balances(alice) == (1000, 1000, 0)
    with pytest.raises(HoldAlreadyResolved):
        hold_confirm(hold_id=hold.pk, credit_account=shop, reason="pay", now=timezone.now())
    assert_ledger_clean()


@pytest.mark.parametrize("amount", [0, 401])
def test_confirm_must_be_within_the_hold(wallet_of, amount):
    alice, shop = wallet_of("alice", balance=1000), wallet_of("shop")
    hold = hold_freeze(txn=txn(alice), key="h1", account=alice, amount_minor=400, now=timezone.now())
    with pytest.raises(Exception) as error:
        hold_confirm(
            hold_id=hold.pk, credit_account=shop, amount_minor=amount, reason="pay", now=timezone.now()
        )
    assert getattr(error.value, "code", None) == "invalid_amount"
    assert Hold.objects.get(pk=hold.pk).status == "pending"


def test_expired_holds_are_released_by_the_sweep(wallet_of):
    alice = wallet_of("alice", balance=1000)
    now = timezone.now()
    soon = hold_freeze(
        txn=txn(alice),
        key="h1",
        account=alice,
        amount_minor=100,
        expires_at=now + timedelta(minutes=1),
        now=now,
    )
    later = hold_freeze(
        txn=txn(alice),
        key="h2",
        account=alice,
        amount_minor=200,
        expires_at=now + timedelta(hours=1),
        now=now,
    )
    forever = hold_freeze(txn=txn(alice), key="h3", account=alice, amount_minor=300, now=now)
    assert holds_expire(now=now + timedelta(minutes=2)) == 1
    assert [Hold.objects.get(pk=h.pk).status for h in (soon, later, forever)] == [
        "expired",
        "pending",
        "pending",
    ]
    assert balances(alice) == (1000, 500, 500)
    assert holds_expire(now=now + timedelta(minutes=2)) == 0
    assert_ledger_clean()
