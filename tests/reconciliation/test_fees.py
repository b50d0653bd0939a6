"""Channel fees into the journal: the fees of matched lines posted once (merchant settlement
→ channel fees), never twice for a re-run, a re-import or a second match; lines with an open
discrepancy wait; matching alone still posts nothing."""

import io

import pytest
from django.utils import timezone

from accounts.choices import AccountKind
from accounts.models import Account
from accounts.services import account_get_or_open
from ledger.models import JournalEntry, Transaction
from reconciliation.models import StatementLine
from reconciliation.services import batch_fees_post, batch_match, statement_import
from tests.funding import fund
from tests.ledger.conftest import assert_ledger_clean, settled_balance
from tests.reconciliation.builders import bulk_payments, fee_of, generic_csv, generic_row
from tests.reconciliation.conftest import DAY, DAY_START

pytestmark = pytest.mark.django_db


@pytest.fixture
def funded(merchant):
    settlement = account_get_or_open(
        kind=AccountKind.MERCHANT_SETTLEMENT,
        currency="CNY",
        merchant=merchant,
        buffered=True,
        now=timezone.now(),
    )
    fund(account_id=settlement.pk, amount_minor=1_000_00)
    return settlement


def _import_and_match(mc, rows):
    batch = statement_import(
        merchant_channel_id=mc.pk,
        format="generic",
        day=DAY,
        file=io.BytesIO(generic_csv(rows)),
        now=timezone.now(),
    )
    return batch_match(batch_id=batch.pk, now=timezone.now())


def test_matched_fees_are_posted_once_and_differences_wait(mc, merchant, funded):
    txns = bulk_payments(mc=mc, merchant=merchant, count=4, day_start=DAY_START, amount=lambda i: 10_000 + i)
    rows = [generic_row(t) for t in txns[:3]] + [generic_row(txns[3], fee="9.99")]  # the last: fee_mismatch
    batch = _import_and_match(mc, rows)
    entries = JournalEntry.objects.count()
    assert batch.summary["classes"]["fee_mismatch"]["count"] == 1  # matching posted nothing
    assert JournalEntry.objects.count() == entries

    assert batch_fees_post(batch_id=batch.pk, now=timezone.now()) == 3
    expected = sum(fee_of(t.amount_minor) for t in txns[:3])
    [posting] = Transaction.objects.filter(kind="fee")
    assert (posting.amount_minor, posting.merchant_channel_id) == (expected, mc.pk)
    assert settled_balance(merchant) == 1_000_00 - expected
    assert settled_balance(kind=AccountKind.CHANNEL_FEES) == expected
    assert StatementLine.objects.filter(fee_posting=posting).count() == 3

    # Run again, import the same file again and match again: nothing posted twice.
    assert batch_fees_post(batch_id=batch.pk, now=timezone.now()) == 0
    batch = _import_and_match(mc, rows)
    assert batch_fees_post(batch_id=batch.pk, now=timezone.now()) == 0
    assert Transaction.objects.filter(kind="fee").count() == 1
    assert settled_balance(merchant) == 1_000_00 - expected
    assert_ledger_clean()


def test_refunds_that_give_fees_back_net_against_the_days_fees(mc, merchant, funded):
    [paid] = bulk_payments(mc=mc, merchant=merchant, count=1, day_start=DAY_START, amount=lambda i: 50_00)
    refund = Transaction.objects.create(
        serial="RFDT9", kind="refund", status="succeeded", merchant=merchant, channel="sandbox",
        channel_trade_no="CHR9", amount_minor=50_00, currency="CNY", merchant_channel=mc, refund_of=paid,
        created_at=DAY_START, finished_at=DAY_START,
    )  # fmt: skip
    batch = _import_and_match(mc, [generic_row(paid, fee="0.30"), generic_row(refund, fee="-0.30")])
    assert batch.state == "balanced", batch.summary

    assert batch_fees_post(batch_id=batch.pk, now=timezone.now()) == 0  # 0.30 kept, 0.30 given back
    assert not Transaction.objects.filter(kind="fee").exists()
    assert not Account.objects.filter(kind=AccountKind.CHANNEL_FEES).exclude(total_minor=0).exists()
