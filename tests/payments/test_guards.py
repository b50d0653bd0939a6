"""Each service-level guard of payments, refunds and pre-authorization on its own (C5, C6):
the use case refuses with its own PaycenterError subclass and stable code — through the API
with its HTTP status — and nothing moves: no balance, journal entry, hold, outbox row,
audit row or channel call.

The database CHECKs behind two of them (`account_available_not_negative` behind the
payer's conditional debit, `transaction_refunded_within_paid` behind the refund's
conditional reservation) are dropped for those tests, so a broken service guard shows up
as money that moved rather than as a 500 from the last line of defence."""

import pytest
from django.utils import timezone

from channels.models import ChannelRequestLog
from ledger.errors import InsufficientFunds, InvalidState, RefundExceedsPayment
from ledger.models import Transaction
from ledger.services.payment_query import payment_close
from ledger.services.preauth import payment_capture, payment_void
from ledger.services.refunds import refund_create
from tests.ledger.conftest import assert_ledger_clean
from tests.ledger.snapshots import money_snapshot, without_check

pytestmark = pytest.mark.django_db


def snapshot() -> dict:
    return {**money_snapshot(), "channel_calls": ChannelRequestLog.objects.count()}


def nothing_moved_since(before: dict) -> None:
    assert snapshot() == before


def error(response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


@pytest.fixture
def paid(balance_channel, wallet_of, pay):
    """paid(amount) → a succeeded balance payment (API body) from alice's wallet of 100.00."""
    alice = wallet_of("alice", balance=100_00)

    def make(amount: str, **fields):
        response = pay(amount, channel="balance", payer_account_id=alice.pk, **fields)
        assert response.status_code == 201, response.content
        return response.json()

    make.payer = alice
    return make


def pk_of(body: dict) -> int:
    return Transaction.objects.get(serial=body["id"]).pk


# --- Insufficient funds on a balance payment --------------------------------------------


def test_a_balance_payment_beyond_the_wallet_is_refused(wallet_of, create_balance_payment):
    without_check("accounts_account", "account_available_not_negative")
    alice = wallet_of("alice", balance=10_00)
    before = snapshot()
    with pytest.raises(InsufficientFunds) as refused:
        create_balance_payment("o-1", payer=alice, key="k-1", amount_minor=10_01)
    assert (type(refused.value), refused.value.code, refused.value.status) == (
        InsufficientFunds,
        "insufficient_funds",
        422,
    )
    nothing_moved_since(before)


def test_api_balance_payment_beyond_the_wallet_is_422(balance_channel, wallet_of, pay):
    without_check("accounts_account", "account_available_not_negative")
    alice = wallet_of("alice", balance=10_00)
    before = snapshot()
    response = pay("10.01", channel="balance", payer_account_id=alice.pk)
    assert error(response) == (422, "insufficient_funds")
    nothing_moved_since(before)


def test_api_pre_authorization_beyond_the_wallet_is_422(balance_channel, wallet_of, pay):
    without_check("accounts_account", "account_available_not_negative")
    alice = wallet_of("alice", balance=10_00)
    before = snapshot()
    response = pay("10.01", channel="balance", payer_account_id=alice.pk, capture=False)
    assert error(response) == (422, "insufficient_funds")
    nothing_moved_since(before)


# --- Refunds -----------------------------------------------------------------------------


@pytest.fixture
def refund_check_off():
    without_check("ledger_transaction", "transaction_refunded_within_paid")


def test_a_refund_beyond_what_was_paid_is_refused(onboarded, paid, refund_check_off):
    _, app, _ = onboarded
    payment = paid("40.00")
    paid("40.00")  # the merchant holds 80.00: the refund is refused for the payment, not the funds
    before = snapshot()
    with pytest.raises(RefundExceedsPayment) as refused:
        refund_create(app_id=app.pk, payment_id=pk_of(payment), amount_minor=40_01, now=timezone.now())
    assert (refused.value.code, refused.value.status, refused.value.field) == (
        "refund_exceeds_payment",
        422,
        "amount",
    )
    nothing_moved_since(before)


def test_refunds_together_never_exceed_what_was_paid(onboarded, paid, refund_check_off):
    _, app, _ = onboarded
    payment = paid("40.00")
    paid("40.00")
    refund_create(app_id=app.pk, payment_id=pk_of(payment), amount_minor=15_00, now=timezone.now())
    before = snapshot()
    with pytest.raises(RefundExceedsPayment):
        refund_create(app_id=app.pk, payment_id=pk_of(payment), amount_minor=25_01, now=timezone.now())
    nothing_moved_since(before)
    refund_create(app_id=app.pk, payment_id=pk_of(payment), amount_minor=25_00, now=timezone.now())
    assert Transaction.objects.get(pk=pk_of(payment)).status == "refunded"
    assert_ledger_clean()


def test_api_refund_beyond_what_was_paid_is_422(api, paid, refund_check_off):
    payment = paid("40.00")
    paid("40.00")
    before = snapshot()
    response = api.post(f"/api/v1/payments/{payment['id']}/refunds", {"amount": "40.01"})
    assert error(response) == (422, "refund_exceeds_payment")
    nothing_moved_since(before)


def test_a_payment_not_yet_paid_cannot_be_refunded(api, onboarded, paid, pay):
    _, app, _ = onboarded
    paid("40.00")  # the merchant has funds: only the payment's state refuses
    authorized = pay("20.00", channel="balance", payer_account_id=paid.payer.pk, capture=False).json()
    assert authorized["status"] == "authorized"
    before = snapshot()
    with pytest.raises(InvalidState) as refused:
        refund_create(app_id=app.pk, payment_id=pk_of(authorized), amount_minor=1_00, now=timezone.now())
    assert (refused.value.code, refused.value.status) == ("invalid_state", 409)
    nothing_moved_since(before)
    response = api.post(f"/api/v1/payments/{authorized['id']}/refunds", {"amount": "1.00"})
    assert error(response) == (409, "invalid_state")
    nothing_moved_since(before)


def test_a_fully_refunded_payment_cannot_be_refunded_again(api, onboarded, paid):
    _, app, _ = onboarded
    payment = paid("40.00")
    paid("40.00")
    refund_create(app_id=app.pk, payment_id=pk_of(payment), amount_minor=40_00, now=timezone.now())
    before = snapshot()
    response = api.post(f"/api/v1/payments/{payment['id']}/refunds", {"amount": "0.01"})
    assert error(response) == (409, "invalid_state")
    nothing_moved_since(before)


# --- Pre-authorization: capture and void -------------------------------------------------


@pytest.fixture
def authorized(balance_channel, wallet_of, pay):
    alice = wallet_of("alice", balance=100_00)
    body = pay("50.00", channel="balance", payer_account_id=alice.pk, capture=False).json()
    assert body["status"] == "authorized"
    return body


def test_capturing_twice_is_refused(api, authorized):
    payment_capture(txn_id=pk_of(authorized), amount_minor=30_00, now=timezone.now())
    before = snapshot()
    with pytest.raises(InvalidState) as refused:
        payment_capture(txn_id=pk_of(authorized), amount_minor=10_00, now=timezone.now())
    assert (refused.value.code, refused.value.status) == ("invalid_state", 409)
    nothing_moved_since(before)
    response = api.post(f"/api/v1/payments/{authorized['id']}/capture", {"amount": "10.00"})
    assert error(response) == (409, "invalid_state")
    nothing_moved_since(before)
    assert Transaction.objects.get(pk=pk_of(authorized)).captured_minor == 30_00


def test_a_capture_under_way_is_claimed_once(authorized):
    """The claim (`captured_minor` set only while null) on its own: a capture already claimed
    by another request is refused before any channel call."""
    Transaction.objects.filter(pk=pk_of(authorized)).update(captured_minor=20_00)
    before = snapshot()
    with pytest.raises(InvalidState) as refused:
        payment_capture(txn_id=pk_of(authorized), amount_minor=10_00, now=timezone.now())
    assert refused.value.code == "invalid_state"
    nothing_moved_since(before)


def test_a_captured_payment_cannot_be_voided(api, authorized):
    payment_capture(txn_id=pk_of(authorized), amount_minor=None, now=timezone.now())
    before = snapshot()
    with pytest.raises(InvalidState) as refused:
        payment_void(txn_id=pk_of(authorized), now=timezone.now())
    assert refused.value.code == "invalid_state"
    nothing_moved_since(before)
    response = api.post(f"/api/v1/payments/{authorized['id']}/void", {})
    assert error(response) == (409, "invalid_state")
    nothing_moved_since(before)


def test_a_captured_payment_is_not_captured_again_through_the_api(api, authorized):
    payment_capture(txn_id=pk_of(authorized), amount_minor=None, now=timezone.now())
    before = snapshot()
    response = api.post(f"/api/v1/payments/{authorized['id']}/capture", {})
    assert error(response) == (409, "invalid_state")
    nothing_moved_since(before)


# --- Close ---------------------------------------------------------------------------------


def test_a_succeeded_payment_cannot_be_closed(api, paid):
    payment = paid("12.30")
    before = snapshot()
    with pytest.raises(InvalidState) as refused:
        payment_close(txn_id=pk_of(payment), now=timezone.now())
    assert (refused.value.code, refused.value.status) == ("invalid_state", 409)
    nothing_moved_since(before)
    response = api.post(f"/api/v1/payments/{payment['id']}/close", {})
    assert error(response) == (409, "invalid_state")
    nothing_moved_since(before)
    assert Transaction.objects.get(pk=pk_of(payment)).status == "succeeded"


def test_an_authorized_payment_is_not_closed_by_close(api, authorized):
    """close is for pending payments; an authorization is voided."""
    before = snapshot()
    response = api.post(f"/api/v1/payments/{authorized['id']}/close", {})
    assert error(response) == (409, "invalid_state")
    nothing_moved_since(before)
