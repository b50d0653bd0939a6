"""Hot accounts (C8): credits to a buffered account are posted without touching its row
and folded in later, in order; balances and statements stay exact throughout."""

import pytest
from django.utils import timezone

from ledger import balances
from ledger.models import Posting
from ledger.selectors import account_balance, statement_lines
from ledger.services.journal import account_apply_pending
from ledger.services.transfers import transfer_create
from ledger.services.withdrawals import withdrawal_request
from tests.ledger.conftest import assert_ledger_clean

pytestmark = pytest.mark.django_db


@pytest.fixture
def no_auto_apply(monkeypatch):
    """Keep the buffer full: the after-commit trigger does nothing."""
    monkeypatch.setattr("ledger.services.journal.schedule_apply", lambda **kwargs: None)


@pytest.fixture
def hot(merchant):
    account = merchant.accounts.get(kind="merchant_settlement")
    assert account.buffered
    return account


def pay(merchant, payer, hot, amount):
    return transfer_create(
        merchant_id=merchant.pk,
        from_account_id=payer.pk,
        to_account_id=hot.pk,
        amount_minor=amount,
        currency="CNY",
        now=timezone.now(),
    )


def test_credits_wait_in_the_buffer_but_count_in_the_balance(merchant, wallet_of, hot, no_auto_apply):
    alice = wallet_of("alice", balance=10_000)
    for amount in (100, 250, 650):
        pay(merchant, alice, hot, amount)
    hot.refresh_from_db()
    assert hot.total_minor == 0 and hot.seq == 0  # the hot row was never touched
    shown = account_balance(account=hot)
    assert (shown.total_minor, shown.available_minor) == (1000, 1000)
    assert Posting.objects.filter(account=hot, applied=False).count() == 3
    assert_ledger_clean()


def test_applying_folds_the_buffer_in_posting_order(merchant, wallet_of, hot, no_auto_apply):
    alice = wallet_of("alice", balance=10_000)
    for amount in (100, 250, 650):
        pay(merchant, alice, hot, amount)
    assert account_apply_pending(account_id=hot.pk) == 3
    hot.refresh_from_db()
    assert (hot.total_minor, hot.available_minor, hot.seq) == (1000, 1000, 3)
    lines, _ = statement_lines(account=hot)
    assert [(line.seq, line.amount_minor, line.balance_after_minor) for line in lines] == [
        (3, 650, 1000),
        (2, 250, 350),
        (1, 100, 100),
    ]
    assert account_apply_pending(account_id=hot.pk) == 0
    assert_ledger_clean()


def test_a_debit_of_a_hot_account_first_folds_in_its_credits(merchant, wallet_of, hot, no_auto_apply):
    alice = wallet_of("alice", balance=10_000)
    pay(merchant, alice, hot, 700)
    withdrawal_request(
        merchant_id=merchant.pk,
        account_id=hot.pk,
        amount_minor=500,
        currency="CNY",
        destination={"bank": "x"},
        now=timezone.now(),
    )
    hot.refresh_from_db()
    assert (hot.total_minor, hot.available_minor, hot.frozen_minor) == (700, 200, 500)
    assert balances.pending_net(account_id=hot.pk) == 0
    assert_ledger_clean()


def test_the_commit_trigger_applies_the_buffer(merchant, wallet_of, hot, django_capture_on_commit_callbacks):
    from django.core.cache import cache

    cache.delete(f"ledger:apply:{hot.pk}")
    alice = wallet_of("alice", balance=10_000)
    with django_capture_on_commit_callbacks(execute=True):
        pay(merchant, alice, hot, 300)
    hot.refresh_from_db()
    assert hot.total_minor == 300 and not Posting.objects.filter(account=hot, applied=False).exists()


def test_the_sweep_applies_every_account_with_a_buffer(merchant, wallet_of, hot, no_auto_apply):
    from ledger.tasks import ledger_apply_all_pending_task

    alice = wallet_of("alice", balance=10_000)
    pay(merchant, alice, hot, 300)
    assert ledger_apply_all_pending_task() >= 1
    assert not Posting.objects.filter(applied=False).exists()
    assert_ledger_clean()


def test_the_embedded_beat_applies_buffers_and_runs_every_periodic_task(
    merchant, wallet_of, hot, no_auto_apply
):
    """`manage.py run_periodic` (the beat of `make run`) runs the schedule's tasks in-process."""
    from io import StringIO

    from django.conf import settings
    from django.core.management import call_command

    pay(merchant, wallet_of("alice", balance=10_000), hot, 300)
    assert Posting.objects.filter(applied=False).exists()
    out = StringIO()
    call_command("run_periodic", "--once", stdout=out)
    assert f"Running {len(settings.CELERY_BEAT_SCHEDULE)} periodic tasks" in out.getvalue()
    assert not Posting.objects.filter(applied=False).exists()
    hot.refresh_from_db()
    assert hot.total_minor == 300
