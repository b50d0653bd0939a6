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
def test_ledger_verify_reports_a_tampered_account_and_fails(wallet_of, tamper, broken):
    alice = wallet_of("alice", balance=5_000)
    with connection.cursor() as cursor:
        cursor.execute(tamper, [alice.pk])
    out = StringIO()
    with pytest.raises(CommandError):
        call_command("ledger_verify", stdout=out)
    failing = [line for line in out.getvalue().splitlines() if line.startswith("FAIL")]
    assert any(broken in line for line in failing), out.getvalue()
