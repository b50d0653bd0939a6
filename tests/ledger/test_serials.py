import re
from datetime import UTC, datetime

import pytest
from django.utils import timezone

from ledger.choices import TransactionKind
from ledger.serials import serial_new
from ledger.services import records


def test_serial_is_prefixed_time_ordered_and_readable():
    serial = serial_new(
        kind=TransactionKind.PAYMENT, now=datetime(2026, 11, 23, 16, 5, 12, 41234, tzinfo=UTC)
    )
    assert re.fullmatch(r"PAY20261123160512041234\d{6}", serial)
    later = serial_new(kind=TransactionKind.PAYMENT, now=datetime(2026, 11, 23, 16, 5, 13, tzinfo=UTC))
    assert later[:23] > serial[:23]


@pytest.mark.django_db
def test_a_colliding_serial_is_drawn_again(merchant, monkeypatch):
    draws = iter(["ADJ-same", "ADJ-same", "ADJ-other"])
    monkeypatch.setattr(records, "serial_new", lambda **kwargs: next(draws))
    common = {
        "kind": TransactionKind.ADJUSTMENT,
        "amount_minor": 1,
        "currency": "CNY",
        "merchant_id": merchant.pk,
    }
    first = records.transaction_insert(**common, now=timezone.now())
    second = records.transaction_insert(**common, now=timezone.now())
    assert (first.serial, second.serial) == ("ADJ-same", "ADJ-other")
