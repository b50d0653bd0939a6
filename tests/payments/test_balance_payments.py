"""Payments paid from a wallet (the balance channel): debited in one local transaction when
captured at once; held, then captured or voided, when pre-authorized."""

from datetime import timedelta

import pytest
from django.utils import timezone

from ledger.models import Hold, Transaction
from paycenter.errors import IdempotencyKeyReused
from paycenter.models import OutboxMessage
from tests.ledger.conftest import assert_ledger_clean

pytestmark = pytest.mark.django_db


def shown(api, account):
    body = api.get(f"/api/v1/accounts/{account.pk}").json()
    return body["total"], body["available"], body["frozen"]


def test_a_balance_payment_succeeds_at_once_and_credits_the_merchant(
    api, merchant, balance_channel, wallet_of, pay, listening
):
    alice = wallet_of("alice", balance=100_00)
    response = pay("12.30", channel="balance", payer_account_id=alice.pk, key="p1")
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["status"], body["channel"], body["method"], body["amount"]) == (
        "succeeded",
        "balance",
        "balance",
        "12.30",
    )
    assert body["id"].startswith("PAY") and body["paid_at"] and body["action"] == {"type": "none"}
    assert shown(api, alice) == ("87.70", "87.70", "0.00")
    settlement = merchant.accounts.get(kind="merchant_settlement")
    assert shown(api, settlement)[0] == "12.30"
    assert OutboxMessage.objects.filter(subscriber="webhook", payload__type="payment.succeeded").count() == 1
    assert api.get(f"/api/v1/payments/{body['id']}").json()["status"] == "succeeded"
    assert api.get("/api/v1/payments?out_trade_no=order-1").json()["id"] == body["id"]
    assert_ledger_clean()


def test_insufficient_balance_writes_nothing(api, balance_channel, wallet_of, pay):
    alice = wallet_of("alice", balance=10_00)
    response = pay("10.01", channel="balance", payer_account_id=alice.pk)
    assert response.status_code == 422 and response.json()["error"]["code"] == "insufficient_funds"
    assert not Transaction.objects.filter(kind="payment").exists()


def test_the_same_out_trade_no_is_409_and_an_idempotent_replay_is_not(api, balance_channel, wallet_of, pay):
    alice = wallet_of("alice", balance=100_00)
    first = pay("1.00", channel="balance", payer_account_id=alice.pk, out_trade_no="o-1", key="k-1")
    again = pay("1.00", channel="balance", payer_account_id=alice.pk, out_trade_no="o-1", key="k-1")
    assert again.status_code == 201 and again.json()["id"] == first.json()["id"]
    other = pay("1.00", channel="balance", payer_account_id=alice.pk, out_trade_no="o-1", key="k-2")
    assert other.status_code == 409 and other.json()["error"]["code"] == "duplicate_out_trade_no"
    assert shown(api, alice)[0] == "99.00"


def test_pre_authorization_holds_then_captures_part(api, merchant, balance_channel, wallet_of, pay):
    alice = wallet_of("alice", balance=100_00)
    body = pay("50.00", channel="balance", payer_account_id=alice.pk, capture=False).json()
    assert body["status"] == "authorized"
    assert shown(api, alice) == ("100.00", "50.00", "50.00")
    captured = api.post(f"/api/v1/payments/{body['id']}/capture", {"amount": "30.00"})
    assert captured.status_code == 200, captured.content
    assert captured.json()["status"] == "succeeded" and captured.json()["captured_amount"] == "30.00"
    assert shown(api, alice) == ("70.00", "70.00", "0.00")
    again = api.post(f"/api/v1/payments/{body['id']}/capture", {"amount": "10.00"})
    assert again.status_code == 409 and again.json()["error"]["code"] == "invalid_state"
    assert_ledger_clean()


def test_capture_above_the_authorization_is_refused(api, balance_channel, wallet_of, pay):
    alice = wallet_of("alice", balance=100_00)
    body = pay("50.00", channel="balance", payer_account_id=alice.pk, capture=False).json()
    response = api.post(f"/api/v1/payments/{body['id']}/capture", {"amount": "50.01"})
    assert response.status_code == 422 and response.json()["error"]["code"] == "capture_exceeds_authorization"


def test_void_releases_the_authorization(api, balance_channel, wallet_of, pay):
    alice = wallet_of("alice", balance=100_00)
    body = pay("50.00", channel="balance", payer_account_id=alice.pk, capture=False).json()
    voided = api.post(f"/api/v1/payments/{body['id']}/void", {})
    assert voided.status_code == 200 and voided.json()["status"] == "closed"
    assert shown(api, alice) == ("100.00", "100.00", "0.00")
    assert Hold.objects.get().status == "cancelled"
    assert_ledger_clean()


def test_partial_and_repeated_refunds_never_exceed_the_payment(
    api, merchant, balance_channel, wallet_of, pay
):
    alice = wallet_of("alice", balance=100_00)
    payment = pay("40.00", channel="balance", payer_account_id=alice.pk).json()
    url = f"/api/v1/payments/{payment['id']}/refunds"
    first = api.post(url, {"amount": "15.00", "reason": "broken cup", "out_refund_no": "r-1"})
    assert first.status_code == 201, first.content
    refund = first.json()
    assert (refund["status"], refund["amount"], refund["payment_id"]) == ("succeeded", "15.00", payment["id"])
    assert api.get(f"/api/v1/payments/{payment['id']}").json()["status"] == "partially_refunded"
    too_much = api.post(url, {"amount": "25.01"})
    assert too_much.status_code == 422 and too_much.json()["error"]["code"] == "refund_exceeds_payment"
    assert api.post(url, {"amount": "25.00"}).json()["status"] == "succeeded"
    body = api.get(f"/api/v1/payments/{payment['id']}").json()
    assert (body["status"], body["refunded_amount"]) == ("refunded", "40.00")
    assert shown(api, alice)[0] == "100.00"
    assert api.get(f"/api/v1/refunds/{refund['id']}").json() == refund
    assert_ledger_clean()


def test_the_merchant_must_have_the_funds_to_refund(api, merchant, balance_channel, wallet_of, pay):
    from ledger.services.withdrawals import withdrawal_request

    alice = wallet_of("alice", balance=100_00)
    payment = pay("40.00", channel="balance", payer_account_id=alice.pk).json()
    settlement = merchant.accounts.get(kind="merchant_settlement")
    withdrawal_request(
        merchant_id=merchant.pk,
        account_id=settlement.pk,
        amount_minor=35_00,
        currency="CNY",
        destination={"bank": "x"},
        now=timezone.now(),
    )
    response = api.post(f"/api/v1/payments/{payment['id']}/refunds", {"amount": "10.00"})
    assert response.status_code == 422 and response.json()["error"]["code"] == "insufficient_funds"
    assert api.get(f"/api/v1/payments/{payment['id']}").json()["refunded_amount"] == "0.00"
    assert_ledger_clean()


def test_the_payer_must_be_one_of_the_merchants_accounts_and_not_its_settlement(
    api, merchant, balance_channel, wallet_of, pay
):
    wallet_of("alice", balance=10_00)
    unknown = pay("1.00", channel="balance", payer_account_id=999_999)
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "account_not_found"
    assert unknown.json()["error"]["field"] == "payer_account_id"
    missing = pay("1.00", channel="balance")
    assert missing.status_code == 400 and missing.json()["error"]["field"] == "payer_account_id"
    settlement = merchant.accounts.get(kind="merchant_settlement")
    for capture in (True, False):  # paid at once and pre-authorized check alike
        to_itself = pay("1.00", channel="balance", payer_account_id=settlement.pk, capture=capture)
        assert to_itself.status_code == 422 and to_itself.json()["error"]["code"] == "same_account"
        unknown = pay("1.00", channel="balance", payer_account_id=999_999, capture=capture)
        assert unknown.json()["error"]["field"] == "payer_account_id"
    assert not Transaction.objects.filter(kind="payment").exists()


def test_no_channel_for_the_merchant_is_422(api, wallet_of, pay):
    response = pay("1.00", channel="sandbox", method="page")
    assert response.status_code == 422 and response.json()["error"]["code"] == "channel_unavailable"


@pytest.mark.parametrize(
    "extra", [{"splits": [{"merchant_id": 1, "amount": "1.00"}]}, {"agreement_id": "AG1"}]
)
def test_fields_not_built_yet_are_refused_not_ignored(api, balance_channel, wallet_of, pay, extra):
    alice = wallet_of("alice", balance=10_00)
    response = pay("1.00", channel="balance", payer_account_id=alice.pk, **extra)
    assert response.status_code == 422 and response.json()["error"]["code"] == "not_supported"
    assert not Transaction.objects.filter(kind="payment").exists()


def test_an_authorization_outlives_the_payment_expiry_until_captured_or_voided(
    api, balance_channel, wallet_of, pay
):
    from ledger.services.holds import holds_expire
    from ledger.services.sweeps import expire_due

    alice = wallet_of("alice", balance=100_00)
    body = pay("50.00", channel="balance", payer_account_id=alice.pk, capture=False, expire_seconds=60).json()
    in_an_hour = timezone.now() + timedelta(hours=1)
    holds_expire(now=in_an_hour)
    expire_due(now=in_an_hour)
    assert api.get(f"/api/v1/payments/{body['id']}").json()["status"] == "authorized"
    assert shown(api, alice) == ("100.00", "50.00", "50.00")
    expire_due(now=timezone.now() + timedelta(days=8))
    assert api.get(f"/api/v1/payments/{body['id']}").json()["status"] == "closed"
    assert shown(api, alice) == ("100.00", "100.00", "0.00")
    assert_ledger_clean()


def test_a_refund_that_succeeds_after_it_was_marked_failed_is_flagged(api, balance_channel, wallet_of, pay):
    from ledger.services.refunds import refund_fail, refund_request, refund_succeed

    alice = wallet_of("alice", balance=100_00)
    payment = Transaction.objects.get(
        serial=pay("10.00", channel="balance", payer_account_id=alice.pk).json()["id"]
    )
    refund = refund_request(app_id=None, payment_id=payment.pk, amount_minor=5_00, now=timezone.now())
    refund_fail(refund_id=refund.pk, reason="channel said not found", now=timezone.now())
    assert refund_succeed(refund_id=refund.pk, channel_refund_no="R1", now=timezone.now()) == "late_success"
    refund.refresh_from_db()
    assert refund.status == "failed" and refund.review_reason.startswith("late_success")
    assert_ledger_clean()


def test_reusing_an_idempotency_key_for_another_order_is_422_not_500(api, balance_channel, wallet_of, pay):
    from paycenter.models import IdempotencyRecord

    alice = wallet_of("alice", balance=100_00)
    pay("1.00", channel="balance", payer_account_id=alice.pk, out_trade_no="a-1", key="reused")
    IdempotencyRecord.objects.all().delete()  # as after the 24 h window
    response = pay("1.00", channel="balance", payer_account_id=alice.pk, out_trade_no="a-2", key="reused")
    assert response.status_code == 422 and response.json()["error"]["code"] == "idempotency_key_reused"


def test_refund_metadata_must_be_an_object(api, balance_channel, wallet_of, pay):
    alice = wallet_of("alice", balance=100_00)
    payment = pay("10.00", channel="balance", payer_account_id=alice.pk).json()
    response = api.post(f"/api/v1/payments/{payment['id']}/refunds", {"amount": "1.00", "metadata": [1]})
    assert response.status_code == 400 and response.json()["error"]["field"] == "metadata"


def test_a_colliding_serial_is_drawn_again_and_nothing_is_paid_twice(
    api, balance_channel, wallet_of, pay, monkeypatch
):
    from ledger.services import records

    alice = wallet_of("alice", balance=10_00)
    draws = iter(["PAY-same", "PAY-same", "PAY-other"])
    monkeypatch.setattr(records, "serial_new", lambda **kwargs: next(draws))
    first = pay("1.00", channel="balance", payer_account_id=alice.pk)
    second = pay("2.00", channel="balance", payer_account_id=alice.pk)
    assert (first.json()["id"], second.json()["id"]) == ("PAY-same", "PAY-other")
    assert shown(api, alice)[0] == "7.00"
    assert_ledger_clean()


def test_a_key_hidden_behind_many_failed_attempts_is_still_recognised(
    onboarded, wallet_of, create_balance_payment
):
    """The look-up reads the key's row first; past it, the unique key still refuses to
    replay one order's payment as another's."""
    merchant, app, _ = onboarded
    alice = wallet_of("alice", balance=10_00)
    paid = create_balance_payment("o-1", payer=alice, key="K")
    long_ago = timezone.now() - timedelta(hours=1)
    Transaction.objects.bulk_create(
        Transaction(
            serial=f"PAYFAILED{n}",
            kind="payment",
            status="failed",
            merchant_id=merchant.pk,
            app_id=app.pk,
            out_trade_no="o-2",
            amount_minor=1_00,
            currency="CNY",
            created_at=long_ago,
            finished_at=long_ago,
        )
        for n in range(25)
    )
    assert create_balance_payment("o-1", payer=alice, key="K").pk == paid.pk
    with pytest.raises(IdempotencyKeyReused):
        create_balance_payment("o-2", payer=alice, key="K")
    assert Transaction.objects.filter(kind="payment", status="succeeded").count() == 1
