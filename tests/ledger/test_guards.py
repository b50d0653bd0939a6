"""Each service-level money guard on its own (A4, A5, C3): the use case refuses with its own
error and code, and nothing moves — no balance, journal entry, hold, outbox or audit row.

The database's CHECK `account_available_not_negative` stands behind the conditional
UPDATEs of ledger/balances.py (`WHERE available_minor >= amount`). Here it is dropped for
the test, so a broken WHERE clause shows up as money that moved, not as a 500 from the
second line of defence."""

import pytest
from django.utils import timezone

from ledger.choices import TransactionKind
from ledger.errors import InsufficientFunds
from ledger.services.holds import hold_freeze
from ledger.services.records import transaction_insert
from ledger.services.transfers import transfer_create
from ledger.services.withdrawals import withdrawal_request
from tests.ledger.conftest import assert_ledger_clean
from tests.ledger.snapshots import money_snapshot, without_check

pytestmark = pytest.mark.django_db


@pytest.fixture
def overdraft_check_off():
    without_check("accounts_account", "account_available_not_negative")


@pytest.fixture
def funded(wallet_of):
    """alice holds 10.00; bob holds nothing."""
    return wallet_of("alice", balance=10_00), wallet_of("bob")


def assert_insufficient(excinfo) -> None:
    assert type(excinfo.value) is InsufficientFunds
    assert (excinfo.value.code, excinfo.value.status) == ("insufficient_funds", 422)


def test_a_transfer_beyond_the_available_balance_is_refused(funded, merchant, overdraft_check_off):
    alice, bob = funded
    before = money_snapshot()
    with pytest.raises(InsufficientFunds) as refused:
        transfer_create(
            merchant_id=merchant.pk,
            from_account_id=alice.pk,
            to_account_id=bob.pk,
            amount_minor=10_01,
            currency="CNY",
            now=timezone.now(),
        )
    assert_insufficient(refused)
    assert refused.value.field == "amount"
    assert money_snapshot() == before


def test_a_transfer_of_exactly_the_balance_goes_through(funded, merchant):
    alice, bob = funded
    transfer_create(
        merchant_id=merchant.pk,
        from_account_id=alice.pk,
        to_account_id=bob.pk,
        amount_minor=10_00,
        currency="CNY",
        now=timezone.now(),
    )
    alice.refresh_from_db()
    assert (alice.total_minor, alice.available_minor) == (0, 0)
    assert_ledger_clean()


def test_a_withdrawal_beyond_the_available_balance_is_refused(funded, merchant, overdraft_check_off):
    alice, _ = funded
    before = money_snapshot()
    with pytest.raises(InsufficientFunds) as refused:
        withdrawal_request(
            merchant_id=merchant.pk,
            account_id=alice.pk,
            amount_minor=10_01,
            currency="CNY",
            destination={"bank": "ICBC"},
            now=timezone.now(),
        )
    assert_insufficient(refused)
    assert money_snapshot() == before


def test_frozen_funds_are_not_available_to_a_second_withdrawal(funded, merchant, overdraft_check_off):
    alice, _ = funded
    withdrawal_request(
        merchant_id=merchant.pk,
        account_id=alice.pk,
        amount_minor=6_00,
        currency="CNY",
        destination={"bank": "ICBC"},
        now=timezone.now(),
    )
    before = money_snapshot()
    with pytest.raises(InsufficientFunds) as refused:
        withdrawal_request(
            merchant_id=merchant.pk,
            account_id=alice.pk,
            amount_minor=4_01,
            currency="CNY",
            destination={"bank": "ICBC"},
            now=timezone.now(),
        )
    assert_insufficient(refused)
    assert money_snapshot() == before


def test_a_hold_beyond_the_available_balance_is_refused(funded, merchant, overdraft_check_off):
    alice, _ = funded
    txn = transaction_insert(
        kind=TransactionKind.PAYMENT,
        amount_minor=10_01,
        currency="CNY",
        merchant_id=merchant.pk,
        now=timezone.now(),
    )
    before = money_snapshot()
    with pytest.raises(InsufficientFunds) as refused:
        hold_freeze(key="h-too-much", account=alice, amount_minor=10_01, txn=txn, now=timezone.now())
    assert_insufficient(refused)
    assert money_snapshot() == before


# --- The same guards through the API: 422 with the stable code, nothing written ----------


def test_api_transfer_beyond_the_balance_is_422_insufficient_funds(api, funded, overdraft_check_off):
    alice, bob = funded
    before = money_snapshot()
    response = api.post(
        "/api/v1/transfers", {"from_account_id": alice.pk, "to_account_id": bob.pk, "amount": "10.01"}
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "insufficient_funds"
    assert money_snapshot() == before


def test_api_withdrawal_beyond_the_balance_is_422_insufficient_funds(api, funded, overdraft_check_off):
    alice, _ = funded
    before = money_snapshot()
    response = api.post(
        "/api/v1/withdrawals", {"account_id": alice.pk, "amount": "10.01", "destination": {"bank": "x"}}
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "insufficient_funds"
    assert money_snapshot() == before
