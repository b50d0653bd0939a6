from datetime import UTC, date, datetime

import pytest
from django.db import connection

from channels.models import MerchantChannel
from ledger.models import JournalEntry, Posting

DAY = date(2026, 12, 1)
DAY_START = datetime(2026, 12, 1, tzinfo=UTC)


@pytest.fixture
def mc(merchant):
    """A sandbox merchant channel with a contracted fee of 0.60 %."""
    return MerchantChannel.objects.create(
        merchant=merchant, channel="sandbox", fee_rate_bps=60, created_at=DAY_START
    )


def ledger_fingerprint() -> tuple:
    """What matching must never change: the journal and every transaction's record."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT md5(string_agg(concat_ws('|', id, status, amount_minor, paid_minor, refunded_minor,"
            " channel_trade_no, finished_at), ',' ORDER BY id)) FROM ledger_transaction"
        )
        transactions = cursor.fetchone()[0]
    return JournalEntry.objects.count(), Posting.objects.count(), transactions
