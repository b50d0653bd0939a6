"""Must show: 10,000 lines with three planted differences → exactly those three, the
ledger untouched; the same file again adds nothing; an import killed halfway (a real
process, SIGKILL) and run again leaves no duplicate and the same result."""

import json
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from io import StringIO
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import Count

from reconciliation.models import Discrepancy, StatementLine
from tests.reconciliation.builders import bulk_payments, generic_csv, generic_row, yuan
from tests.reconciliation.conftest import DAY, DAY_START, ledger_fingerprint

ROOT = Path(__file__).resolve().parents[2]
LINES = 10_000
EXPECTED = {
    "missing_ours": 1,
    "missing_channel": 1,
    "amount_mismatch": 1,
    "status_mismatch": 0,
    "currency_mismatch": 0,
    "fee_mismatch": 0,
}


def _statement(mc, merchant, path: Path) -> Path:
    """10,000 of ours; the file lists 9,999 of them (one with a wrong amount) and one line
    we never made."""
    txns = bulk_payments(mc=mc, merchant=merchant, count=LINES, day_start=DAY_START + timedelta(hours=1))
    rows = [generic_row(t) for t in txns[:-1]]
    rows[4321]["amount"] = yuan(txns[4321].amount_minor + 100)
    rows.append(
        {**generic_row(txns[0]), "channel_trade_no": "NOT-OURS-1", "trade_no": "", "out_trade_no": ""}
    )
    path.write_bytes(generic_csv(rows))
    return path


def _command(*args: str) -> dict:
    out = StringIO()
    call_command("reconcile_import", *args, stdout=out)
    return json.loads(out.getvalue().strip().splitlines()[-1])


@pytest.mark.django_db
def test_ten_thousand_lines_three_differences_and_a_second_import_adds_nothing(mc, merchant, tmp_path):
    path = _statement(mc, merchant, tmp_path / "statement.csv")
    before = ledger_fingerprint()
    args = [
        "--merchant-channel",
        str(mc.pk),
        "--format",
        "generic",
        "--date",
        DAY.isoformat(),
        str(path),
        "--json",
    ]

    result = _command(*args)

    assert result["lines"] == LINES and result["matched"] == LINES - 2
    assert result["discrepancies"] == EXPECTED
    assert Discrepancy.objects.count() == 3
    assert ledger_fingerprint() == before  # matching posted nothing, changed no transaction

    # The same file again, this time naming the merchant and channel: nothing added
    again = _command("--merchant", str(merchant.pk), "--channel", "sandbox", *args[2:])
    assert again == result
    assert StatementLine.objects.count() == LINES and Discrepancy.objects.count() == 3
    assert ledger_fingerprint() == before


def _run(path: Path, mc_id: int, *, chunk_rows: int) -> subprocess.Popen:
    url = urlsplit(os.environ["DATABASE_URL"])
    env = {
        **os.environ,
        # The test database, not the one DATABASE_URL names.
        "DATABASE_URL": urlunsplit(url._replace(path="/" + connection.settings_dict["NAME"])),
        "RECON_IMPORT_CHUNK_ROWS": str(chunk_rows),
    }
    command = [sys.executable, "manage.py", "reconcile_import", "--merchant-channel", str(mc_id)]
    command += ["--format", "generic", "--date", DAY.isoformat(), str(path), "--json"]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.mark.django_db(transaction=True)
def test_an_import_killed_halfway_resumes_without_duplicates(mc, merchant, tmp_path):
    path = _statement(mc, merchant, tmp_path / "statement.csv")

    # When the import is killed (SIGKILL) after some chunks were committed
    process = _run(path, mc.pk, chunk_rows=50)
    stored = 0
    deadline = time.monotonic() + 60
    while stored == 0 and process.poll() is None and time.monotonic() < deadline:
        stored = StatementLine.objects.count()
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    process.wait()
    killed_at = StatementLine.objects.count()
    assert 0 < killed_at < LINES, f"the import was not caught halfway ({killed_at} lines)"
    assert not Discrepancy.objects.exists()

    # And run again to the end
    rerun = _run(path, mc.pk, chunk_rows=2000)
    out, err = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, err.decode()

    # Then every line is there once, and the result is the full file's
    result = json.loads(out.decode().strip().splitlines()[-1])
    assert result["lines"] == LINES and result["discrepancies"] == EXPECTED
    assert StatementLine.objects.count() == LINES
    duplicates = StatementLine.objects.values("channel", "line_type", "channel_serial").annotate(
        n=Count("id")
    )
    assert not duplicates.filter(n__gt=1).exists()
    assert Discrepancy.objects.count() == 3
