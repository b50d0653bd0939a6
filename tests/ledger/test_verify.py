from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

pytestmark = pytest.mark.django_db


def test_ledger_verify_passes_on_a_sound_ledger(wallet_of):
    wallet_of("alice", balance=5_000)
    out = StringIO()
    call_command("ledger_verify", stdout=out)
    assert "all invariants hold" in out.getvalue()


@pytest.mark.parametrize(
    ("tamper", "broken"),
    [
        (
            "UPDATE accounts_account SET total_minor = total_minor + 1, available_minor = available_minor + 1"
            " WHERE id = %s",
            "sum of its applied postings",
        ),
        (
            "UPDATE accounts_account SET frozen_minor = 1, total_minor = total_minor + 1 WHERE id = %s",
            "sum of its pending holds",
        ),
        ("UPDATE accounts_account SET seq = seq + 1 WHERE id = %s", "statement position"),
    ],
)
@pytest.mark.ledger_tampered
def test_ledger_verify_reports_a_tampered_account_and_fails(wallet_of, tamper, broken):
    alice = wallet_of("alice", balance=5_000)
    with connection.cursor() as cursor:
        cursor.execute(tamper, [alice.pk])
    out = StringIO()
    with pytest.raises(CommandError):
        call_command("ledger_verify", stdout=out)
    failing = [line for line in out.getvalue().splitlines() if line.startswith("FAIL")]
    assert any(broken in line for line in failing), out.getvalue()


@pytest.mark.ledger_tampered
@pytest.mark.parametrize("kind", ["recharge", "transfer", "payment"])
def test_a_balanced_entry_that_takes_platform_funds_without_approval_is_flagged(merchant, wallet_of, kind):
    """RELIABILITY 26: an entry can balance and still create money. A credit from the
    funding account that is not an approved adjustment (what the old internal recharge did)
    fails the proof."""
    from django.db import transaction
    from django.utils import timezone

    from ledger.services.journal import Leg, journal_post
    from ledger.services.records import funding_account_get_or_open, transaction_insert

    alice = wallet_of("alice")
    now = timezone.now()
    with transaction.atomic():
        txn = transaction_insert(
            kind=kind, amount_minor=500, currency="CNY", merchant_id=merchant.pk, now=now
        )
        journal_post(
            txn=txn,
            reason=kind,
            legs=[
                Leg(
                    account=funding_account_get_or_open(currency="CNY", now=now),
                    direction="debit",
                    amount_minor=500,
                ),
                Leg(account=alice, direction="credit", amount_minor=500),
            ],
            now=now,
        )
    out = StringIO()
    with pytest.raises(CommandError):
        call_command("ledger_verify", stdout=out)
    [failing] = [line for line in out.getvalue().splitlines() if line.startswith("FAIL")]
    assert "platform account" in failing and txn.serial in out.getvalue()


def test_approved_adjustments_pass_the_funding_proof(wallet_of):
    wallet_of("alice", balance=5_000_00)  # above the second-approval threshold: two approvers
    out = StringIO()
    call_command("ledger_verify", stdout=out)
    assert "all invariants hold" in out.getvalue()


def test_the_nightly_proof_is_scheduled_and_passes_on_a_sound_ledger(wallet_of, settings):
    from ledger.tasks import ledger_verify_task

    assert settings.CELERY_BEAT_SCHEDULE["ledger-verify-nightly"]["task"] == "ledger.tasks.ledger_verify_task"
    wallet_of("alice", balance=5_000)
    assert ledger_verify_task() is True


@pytest.mark.ledger_tampered
def test_the_nightly_proof_raises_an_alert_on_a_broken_ledger(wallet_of, caplog):
    from ledger.tasks import ledger_verify_task

    alice = wallet_of("alice", balance=5_000)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE accounts_account SET seq = seq + 1 WHERE id = %s", [alice.pk])
    assert ledger_verify_task() is False
    assert any(
        "ALERT ledger_verify failed" in r.message and "statement position" in r.message
        for r in caplog.records
    )
