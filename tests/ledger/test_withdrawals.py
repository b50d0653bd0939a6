"""Withdrawal: freeze → finance approves → paid out, or rejects → unfrozen (A4)."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from ledger.errors import InvalidState
from ledger.models import JournalEntry, Transaction
from ledger.services.withdrawals import (
    withdrawal_approve,
    withdrawal_pay_out,
    withdrawal_reject,
    withdrawal_request,
)
from paycenter.models import AuditEntry, OutboxMessage
from tests.ledger.conftest import assert_ledger_clean
from tests.ledger.snapshots import money_snapshot

pytestmark = pytest.mark.django_db


@pytest.fixture
def request_withdrawal(merchant, onboarded, listening):
    _, app, _ = onboarded

    def make(account, amount):
        return withdrawal_request(
            merchant_id=merchant.pk,
            account_id=account.pk,
            amount_minor=amount,
            currency="CNY",
            destination={"bank": "ICBC"},
            app_id=app.pk,
            now=timezone.now(),
        )

    return make


def balances(account):
    account.refresh_from_db()
    return account.total_minor, account.available_minor, account.frozen_minor


def test_approved_withdrawal_is_paid_out_from_the_frozen_funds(wallet_of, request_withdrawal):
    alice = wallet_of("alice", balance=10_000)
    txn = request_withdrawal(alice, 4_000)
    assert balances(alice) == (10_000, 6_000, 4_000)
    withdrawal_approve(transaction_id=txn.pk, actor="fin", now=timezone.now())
    assert balances(alice) == (10_000, 6_000, 4_000)
    withdrawal_pay_out(transaction_id=txn.pk, actor="fin", now=timezone.now())
    txn.refresh_from_db()
    assert txn.status == "paid_out" and txn.finished_at
    assert balances(alice) == (6_000, 6_000, 0)
    event = OutboxMessage.objects.get(subscriber="webhook")
    assert event.payload["type"] == "withdrawal.paid_out" and event.payload["data"]["id"] == txn.serial
    assert list(AuditEntry.objects.filter(target_id=str(txn.pk)).values_list("action", "actor")) == [
        ("withdrawal.approve", "fin"),
        ("withdrawal.pay_out", "fin"),
    ]
    assert_ledger_clean()


@pytest.mark.parametrize("approve_first", [False, True])
def test_rejected_withdrawal_is_unfrozen(wallet_of, request_withdrawal, approve_first):
    alice = wallet_of("alice", balance=10_000)
    txn = request_withdrawal(alice, 4_000)
    if approve_first:
        withdrawal_approve(transaction_id=txn.pk, actor="fin", now=timezone.now())
    withdrawal_reject(transaction_id=txn.pk, actor="fin", reason="name mismatch", now=timezone.now())
    txn.refresh_from_db()
    assert txn.status == "rejected" and txn.metadata["rejection_reason"] == "name mismatch"
    assert balances(alice) == (10_000, 10_000, 0)
    assert OutboxMessage.objects.get(subscriber="webhook").payload["type"] == "withdrawal.rejected"
    assert_ledger_clean()


def test_out_of_order_decisions_are_refused(wallet_of, request_withdrawal):
    alice = wallet_of("alice", balance=10_000)
    txn = request_withdrawal(alice, 4_000)
    with pytest.raises(InvalidState):
        withdrawal_pay_out(transaction_id=txn.pk, actor="fin", now=timezone.now())
    withdrawal_reject(transaction_id=txn.pk, actor="fin", now=timezone.now())
    for step in (withdrawal_approve, withdrawal_pay_out, withdrawal_reject):
        with pytest.raises(InvalidState):
            step(transaction_id=txn.pk, actor="fin", now=timezone.now())
    assert balances(alice) == (10_000, 10_000, 0)


DECISIONS = {"approve": withdrawal_approve, "pay_out": withdrawal_pay_out, "reject": withdrawal_reject}


def decide(txn, step):
    return DECISIONS[step](transaction_id=txn.pk, actor="fin", now=timezone.now())


def audit_actions(txn):
    rows = AuditEntry.objects.filter(target_id=str(txn.pk)).order_by("id")
    return list(rows.values_list("action", flat=True))


def test_approving_twice_is_refused_and_audited_once(wallet_of, request_withdrawal):
    alice = wallet_of("alice", balance=10_000)
    txn = request_withdrawal(alice, 4_000)
    decide(txn, "approve")
    before = money_snapshot()
    with pytest.raises(InvalidState) as refused:
        decide(txn, "approve")
    assert (refused.value.code, refused.value.status) == ("invalid_state", 409)
    assert money_snapshot() == before
    assert audit_actions(txn) == ["withdrawal.approve"]
    assert Transaction.objects.get(pk=txn.pk).status == "approved"


def test_paying_out_twice_is_refused_and_the_app_is_told_once(wallet_of, request_withdrawal):
    """An app that pays its user on `withdrawal.paid_out` would pay twice on a second event."""
    alice = wallet_of("alice", balance=10_000)
    txn = request_withdrawal(alice, 4_000)
    decide(txn, "approve")
    decide(txn, "pay_out")
    before = money_snapshot()
    with pytest.raises(InvalidState) as refused:
        decide(txn, "pay_out")
    assert (refused.value.code, refused.value.status) == ("invalid_state", 409)
    assert money_snapshot() == before
    events = OutboxMessage.objects.filter(subscriber="webhook")
    assert [m.payload["type"] for m in events] == ["withdrawal.paid_out"]
    assert audit_actions(txn) == ["withdrawal.approve", "withdrawal.pay_out"]
    assert JournalEntry.objects.filter(transaction=txn).count() == 1
    assert balances(alice) == (6_000, 6_000, 0)
    assert_ledger_clean()


@pytest.mark.parametrize(
    ("done", "refused_step"),
    [
        ([], "pay_out"),  # money out without a finance decision
        (["approve"], "approve"),
        (["approve", "pay_out"], "pay_out"),
        (["approve", "pay_out"], "approve"),
        (["approve", "pay_out"], "reject"),  # the money has left: nothing to unfreeze
        (["reject"], "reject"),
        (["reject"], "approve"),
        (["reject"], "pay_out"),
        (["approve", "reject"], "pay_out"),
    ],
)
def test_a_decision_in_the_wrong_state_is_refused_and_changes_nothing(
    wallet_of, request_withdrawal, done, refused_step
):
    alice = wallet_of("alice", balance=10_000)
    txn = request_withdrawal(alice, 4_000)
    for step in done:
        decide(txn, step)
    status = Transaction.objects.get(pk=txn.pk).status
    before = money_snapshot()
    with pytest.raises(InvalidState) as refused:
        decide(txn, refused_step)
    assert (refused.value.code, refused.value.status) == ("invalid_state", 409)
    assert money_snapshot() == before
    assert Transaction.objects.get(pk=txn.pk).status == status
    assert_ledger_clean()


def test_an_admin_button_in_the_wrong_state_changes_nothing(client, wallet_of, request_withdrawal):
    alice = wallet_of("alice", balance=10_000)
    txn = request_withdrawal(alice, 4_000)
    decide(txn, "approve")
    decide(txn, "pay_out")
    finance = staff(client, "fin", "finance")
    before = money_snapshot()
    response = finance.post(f"/admin/ledger/transaction/{txn.pk}/withdrawal/pay_out/", follow=True)
    assert response.status_code == 200
    assert "cannot pay out" in response.content.decode()
    assert money_snapshot() == before


def staff(client, username, *groups):
    user = get_user_model().objects.create_user(username=username, password="pw-12345-x", is_staff=True)
    user.groups.set(Group.objects.filter(name__in=groups))
    client.force_login(user)
    return client


def test_finance_decides_withdrawals_with_admin_buttons(client, wallet_of, request_withdrawal):
    alice = wallet_of("alice", balance=10_000)
    txn = request_withdrawal(alice, 4_000)
    finance = staff(client, "fin", "finance")
    page = finance.get(f"/admin/ledger/transaction/{txn.pk}/change/").content.decode()
    assert (
        "withdrawal/approve/" in page and "withdrawal/reject/" in page and "withdrawal/pay_out/" not in page
    )
    assert finance.post(f"/admin/ledger/transaction/{txn.pk}/withdrawal/approve/").status_code == 302
    assert finance.post(f"/admin/ledger/transaction/{txn.pk}/withdrawal/pay_out/").status_code == 302
    assert Transaction.objects.get(pk=txn.pk).status == "paid_out"
    assert balances(alice) == (6_000, 6_000, 0)


def test_operations_staff_cannot_decide_withdrawals(client, wallet_of, request_withdrawal):
    alice = wallet_of("alice", balance=10_000)
    txn = request_withdrawal(alice, 4_000)
    ops = staff(client, "ops", "operations", "auditor")
    page = ops.get(f"/admin/ledger/transaction/{txn.pk}/change/").content.decode()
    assert "withdrawal/approve/" not in page
    ops.post(f"/admin/ledger/transaction/{txn.pk}/withdrawal/approve/")
    assert Transaction.objects.get(pk=txn.pk).status == "pending"


def test_admin_statement_exports_csv_with_decimal_amounts(admin_client, wallet_of):
    alice = wallet_of("alice", balance=12_345)
    page = admin_client.get(f"/admin/ledger/posting/?account__id__exact={alice.pk}")
    assert page.status_code == 200 and "123.45" in page.content.decode()
    columns = [
        "id",
        "created_at",
        "account",
        "currency",
        "direction",
        "amount",
        "balance_after",
        "seq",
        "reason",
        "transaction_id",
    ]
    response = admin_client.post(
        f"/admin/ledger/posting/export/?account__id__exact={alice.pk}",
        {"format": "0", "resource": "0", **{f"postingresource_{c}": "on" for c in columns}},
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    header, line = response.content.decode().splitlines()[:2]
    assert header.split(",")[:6] == ["id", "created_at", "account", "currency", "direction", "amount"]
    assert ",CNY,credit,123.45,123.45,1,adjustment,ADJ" in line


@pytest.mark.parametrize(
    "url",
    [
        "/admin/ledger/transaction/",
        "/admin/ledger/posting/",
        "/admin/ledger/journalentry/",
        "/admin/ledger/hold/",
    ],
)
def test_ledger_admin_lists_render_and_refuse_writes(admin_client, wallet_of, url):
    wallet_of("alice", balance=100)
    assert admin_client.get(url).status_code == 200
    assert admin_client.get(url + "add/").status_code == 403
