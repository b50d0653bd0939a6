"""Balance, statement, recharge, withdrawal and transfer through the signed API (A3, A4)."""

import pytest
from django.utils import timezone

from accounts.services import merchant_onboard
from ledger.models import JournalEntry, Transaction
from tests.conftest import SignedClient
from tests.ledger.conftest import assert_ledger_clean

pytestmark = pytest.mark.django_db
DEST = {"type": "bank", "account": "6222-0000"}


def error(response):
    return response.json()["error"]


@pytest.mark.parametrize(
    "channel",
    [{}, {"channel": "internal"}, {"channel": "balance"}, {"channel": "alipay"}, {"channel": None}],
    ids=["no channel", "internal", "balance", "not activated", "null"],
)
def test_no_recharge_mints_money(api, merchant, wallet_of, channel):
    """Without a channel that confirms the money, no app request credits an account: not the
    customer's wallet, not the merchant's own settlement account (RELIABILITY 26)."""
    from channels.services import merchant_channel_activate

    merchant_channel_activate(merchant_id=merchant.pk, channel="balance", actor="t", now=timezone.now())
    settlement = merchant.accounts.get(kind="merchant_settlement")
    for account in (wallet_of("alice"), settlement):
        body = {"account_id": account.pk, "amount": "999999999999.99", **channel}
        response = api.post("/api/v1/recharges", body, idempotency_key=f"mint-{account.pk}")
        assert response.status_code == 422, response.content
        assert error(response)["code"] == "channel_unavailable"
        assert api.get(f"/api/v1/accounts/{account.pk}").json()["total"] == "0.00"
    assert not Transaction.objects.filter(kind="recharge").exists()
    assert not JournalEntry.objects.exists()
    assert_ledger_clean()


def test_transfer_moves_money_all_or_nothing(api, wallet_of):
    alice, bob = wallet_of("alice", balance=10_000), wallet_of("bob")
    response = api.post(
        "/api/v1/transfers",
        {"from_account_id": alice.pk, "to_account_id": bob.pk, "amount": "30.25", "memo": "rent"},
    )
    assert response.status_code == 201
    body = response.json()
    assert (body["status"], body["from_account_id"], body["to_account_id"], body["memo"]) == (
        "succeeded",
        alice.pk,
        bob.pk,
        "rent",
    )
    assert api.get(f"/api/v1/accounts/{alice.pk}").json()["total"] == "69.75"
    assert api.get(f"/api/v1/accounts/{bob.pk}").json()["total"] == "30.25"


def test_insufficient_funds_is_422_and_nothing_is_written(api, wallet_of):
    alice, bob = wallet_of("alice", balance=1000), wallet_of("bob")
    before = (Transaction.objects.count(), JournalEntry.objects.count())
    response = api.post(
        "/api/v1/transfers", {"from_account_id": alice.pk, "to_account_id": bob.pk, "amount": "10.01"}
    )
    assert response.status_code == 422
    assert error(response) == {
        "code": "insufficient_funds",
        "message": error(response)["message"],
        "field": "amount",
    }
    assert (Transaction.objects.count(), JournalEntry.objects.count()) == before
    response = api.post(
        "/api/v1/withdrawals", {"account_id": alice.pk, "amount": "10.01", "destination": {"bank": "x"}}
    )
    assert response.status_code == 422 and error(response)["code"] == "insufficient_funds"
    assert (Transaction.objects.count(), JournalEntry.objects.count()) == before


def test_withdrawal_freezes_at_once(api, wallet_of):
    alice = wallet_of("alice", balance=10_000)
    response = api.post(
        "/api/v1/withdrawals",
        {"account_id": alice.pk, "amount": "40.00", "destination": {"bank": "ICBC", "account": "6222"}},
    )
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "pending" and body["id"].startswith("WDR")
    shown = api.get(f"/api/v1/accounts/{alice.pk}").json()
    assert (shown["total"], shown["available"], shown["frozen"]) == ("100.00", "60.00", "40.00")
    assert api.get(f"/api/v1/withdrawals/{body['id']}").json()["destination"] == {
        "bank": "ICBC",
        "account": "6222",
    }


@pytest.mark.parametrize(
    ("amount", "code"),
    [
        ("-1.00", "invalid_amount"),
        ("0", "invalid_amount"),
        ("0.00", "invalid_amount"),
        ("1.001", "invalid_amount"),
        ("1e12", "invalid_amount"),
        ("NaN", "invalid_amount"),
        (12.5, "invalid_amount"),
        (10, "invalid_amount"),
        ("1000000000000", "invalid_amount"),
        (None, "invalid_request"),
    ],
)
def test_bad_amounts_are_400(api, wallet_of, amount, code):
    alice, bob = wallet_of("alice", balance=10_000), wallet_of("bob")
    response = api.post(
        "/api/v1/transfers", {"from_account_id": alice.pk, "to_account_id": bob.pk, "amount": amount}
    )
    assert response.status_code == 400
    assert error(response)["code"] == code and error(response)["field"] == "amount"


def test_float_amount_in_raw_json_is_refused(api, wallet_of):
    alice, bob = wallet_of("alice", balance=10_000), wallet_of("bob")
    raw = f'{{"from_account_id": {alice.pk}, "to_account_id": {bob.pk}, "amount": 1.10}}'.encode()
    response = api.post("/api/v1/transfers", raw=raw)
    assert response.status_code == 400 and error(response)["code"] == "invalid_amount"


def test_amount_decimals_follow_the_accounts_currency(api, wallet_of):
    yen = wallet_of("alice", currency="JPY")
    response = api.post(
        "/api/v1/withdrawals", {"account_id": yen.pk, "amount": "100.50", "destination": DEST}
    )
    assert response.status_code == 400 and error(response)["code"] == "invalid_amount"


def test_currency_must_match_the_account(api, wallet_of):
    alice = wallet_of("alice")
    body = {"account_id": alice.pk, "amount": "1.00", "currency": "USD", "destination": DEST}
    response = api.post("/api/v1/withdrawals", body)
    assert response.status_code == 422 and error(response)["code"] == "currency_mismatch"


def test_transfer_to_itself_is_refused(api, wallet_of):
    alice = wallet_of("alice", balance=100)
    response = api.post(
        "/api/v1/transfers", {"from_account_id": alice.pk, "to_account_id": alice.pk, "amount": "1.00"}
    )
    assert response.status_code == 422 and error(response)["code"] == "same_account"


def test_another_merchants_accounts_and_transactions_are_not_found(api, wallet_of):
    alice = wallet_of("alice", balance=10_000)
    _, app, secret = merchant_onboard(name="Other", actor="t", now=timezone.now())
    other = SignedClient(app_id=app.app_id, secret=secret)
    theirs = other.post("/api/v1/customers", {"external_id": "x"}).json()["accounts"][0]["id"]
    mine = api.post(
        "/api/v1/transfers",
        {"from_account_id": alice.pk, "to_account_id": wallet_of("bob").pk, "amount": "1.00"},
    ).json()
    for path in (f"/api/v1/accounts/{theirs}", f"/api/v1/accounts/{theirs}/statement"):
        assert api.get(path).status_code == 404
    assert other.get(f"/api/v1/transfers/{mine['id']}").status_code == 404
    assert other.get(f"/api/v1/accounts/{alice.pk}").status_code == 404
    response = other.post(
        "/api/v1/transfers", {"from_account_id": alice.pk, "to_account_id": theirs, "amount": "1.00"}
    )
    assert response.status_code == 404 and error(response)["field"] == "account_id"
    response = api.post(
        "/api/v1/transfers", {"from_account_id": alice.pk, "to_account_id": theirs, "amount": "1.00"}
    )
    assert response.status_code == 404


def test_statement_lists_every_change_with_balance_after_and_pages_by_cursor(api, wallet_of):
    alice, bob = wallet_of("alice", balance=10_000), wallet_of("bob")
    for cents in range(1, 8):
        api.post(
            "/api/v1/transfers",
            {"from_account_id": alice.pk, "to_account_id": bob.pk, "amount": f"1.0{cents}"},
        )
    first = api.get(f"/api/v1/accounts/{alice.pk}/statement?limit=5").json()
    assert len(first["lines"]) == 5 and first["next_cursor"]
    line = first["lines"][0]
    assert set(line) == {
        "id",
        "created_at",
        "amount",
        "direction",
        "balance_after",
        "reason",
        "transaction_id",
    }
    assert (line["amount"], line["direction"], line["reason"]) == ("1.07", "debit", "transfer")
    assert line["transaction_id"].startswith("TRF")
    second = api.get(f"/api/v1/accounts/{alice.pk}/statement?limit=5&cursor={first['next_cursor']}").json()
    assert len(second["lines"]) == 3 and second["next_cursor"] is None
    lines = first["lines"] + second["lines"]
    assert lines[-1]["reason"] == "adjustment" and lines[-1]["balance_after"] == "100.00"
    assert lines[0]["balance_after"] == api.get(f"/api/v1/accounts/{alice.pk}").json()["total"]


def test_statement_filters_by_time_and_rejects_bad_cursors(api, wallet_of):
    alice = wallet_of("alice", balance=10_000)
    future = api.get(f"/api/v1/accounts/{alice.pk}/statement?from=2100-01-01T00:00:00Z").json()
    assert future["lines"] == []
    past = api.get(f"/api/v1/accounts/{alice.pk}/statement?to=2000-01-01T00:00:00Z").json()
    assert past["lines"] == []
    bad = api.get(f"/api/v1/accounts/{alice.pk}/statement?cursor=nonsense")
    assert bad.status_code == 400 and error(bad)["field"] == "cursor"
    bad = api.get(f"/api/v1/accounts/{alice.pk}/statement?from=yesterday")
    assert bad.status_code == 400 and error(bad)["field"] == "from"


def test_a_retry_after_a_lost_response_does_not_move_money_twice(api, wallet_of):
    """Given a transfer whose stored response was lost (the key released after a 5xx),
    when the app retries with the same key, then it gets the same transfer back."""
    from paycenter.models import IdempotencyRecord

    alice, bob = wallet_of("alice", balance=10_000), wallet_of("bob")
    body = {"from_account_id": alice.pk, "to_account_id": bob.pk, "amount": "5.00"}
    first = api.post("/api/v1/transfers", body, idempotency_key="t-1").json()
    IdempotencyRecord.objects.all().delete()
    again = api.post("/api/v1/transfers", body, idempotency_key="t-1")
    assert again.status_code == 201 and again.json()["id"] == first["id"]
    assert Transaction.objects.filter(kind="transfer").count() == 1
    IdempotencyRecord.objects.all().delete()
    other = api.post("/api/v1/transfers", {**body, "amount": "6.00"}, idempotency_key="t-1")
    assert other.status_code == 422 and error(other)["code"] == "idempotency_key_reused"
