"""Platform-funded credits: finance proposes with a reason; above the threshold a second
finance user approves; everything audited (RELIABILITY 23, 26)."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from ledger.errors import InvalidState
from ledger.models import JournalEntry, Transaction
from ledger.services.adjustments import (
    SecondApprovalRequired,
    adjustment_approve,
    adjustment_propose,
    adjustment_reject,
)
from paycenter.errors import InvalidRequest
from paycenter.models import AuditEntry

pytestmark = pytest.mark.django_db


def propose(account, amount_minor, *, actor="fin-a", reason="goodwill for order 17"):
    return adjustment_propose(
        account_id=account.pk,
        amount_minor=amount_minor,
        currency="CNY",
        reason=reason,
        actor=actor,
        now=timezone.now(),
    )


def balance(account) -> int:
    account.refresh_from_db()
    return account.total_minor


def test_up_to_the_threshold_one_finance_user_posts_it(wallet_of, settings):
    settings.PAYCENTER_ADJUSTMENT_SECOND_APPROVAL_ABOVE = "100.00"
    alice = wallet_of("alice")
    txn = propose(alice, 100_00)
    assert txn.status == "succeeded" and txn.metadata["approved_by"] == "fin-a"
    assert balance(alice) == 100_00
    assert list(
        AuditEntry.objects.filter(action__startswith="adjustment")
        .order_by("id")
        .values_list("action", "actor")
    ) == [
        ("adjustment.propose", "fin-a"),
        ("adjustment.approve", "fin-a"),
    ]


def test_above_the_threshold_a_second_finance_user_must_approve(wallet_of, settings):
    settings.PAYCENTER_ADJUSTMENT_SECOND_APPROVAL_ABOVE = "100.00"
    alice = wallet_of("alice")
    txn = propose(alice, 100_01)
    assert txn.status == "pending" and balance(alice) == 0

    with pytest.raises(SecondApprovalRequired) as refused:
        adjustment_approve(transaction_id=txn.pk, actor="fin-a", now=timezone.now())
    assert refused.value.code == "second_approval_required"
    assert balance(alice) == 0 and not JournalEntry.objects.exists()

    approved = adjustment_approve(transaction_id=txn.pk, actor="fin-b", now=timezone.now())
    assert approved.status == "succeeded" and approved.metadata["approved_by"] == "fin-b"
    assert balance(alice) == 100_01
    with pytest.raises(InvalidState):
        adjustment_approve(transaction_id=txn.pk, actor="fin-c", now=timezone.now())
    assert balance(alice) == 100_01 and JournalEntry.objects.count() == 1
    assert AuditEntry.objects.filter(action="adjustment.approve").count() == 1


def test_a_rejected_adjustment_moves_nothing(wallet_of, settings):
    settings.PAYCENTER_ADJUSTMENT_SECOND_APPROVAL_ABOVE = "1.00"
    alice = wallet_of("alice")
    txn = propose(alice, 5_00)
    rejected = adjustment_reject(transaction_id=txn.pk, actor="fin-b", now=timezone.now(), reason="no")
    assert rejected.status == "rejected" and balance(alice) == 0
    with pytest.raises(InvalidState):
        adjustment_approve(transaction_id=txn.pk, actor="fin-c", now=timezone.now())
    assert not JournalEntry.objects.exists()


@pytest.mark.parametrize(("amount", "reason"), [(1_00, "  "), (0, "why"), (-5, "why")])
def test_an_adjustment_needs_a_reason_and_a_positive_amount(wallet_of, amount, reason):
    with pytest.raises(InvalidRequest):
        propose(wallet_of("alice"), amount, reason=reason)
    assert not Transaction.objects.filter(kind="adjustment").exists()


def test_platform_accounts_are_not_adjusted(merchant):
    from ledger.services.records import funding_account_get_or_open

    funding = funding_account_get_or_open(currency="CNY", now=timezone.now())
    with pytest.raises(InvalidRequest):
        propose(funding, 1_00)


@pytest.fixture
def finance_users(client):
    def make(name):
        user = get_user_model().objects.create_user(username=name, password="pw-fin-123", is_staff=True)
        user.groups.add(Group.objects.get(name="finance"))
        return user

    return make("fin-a"), make("fin-b")


def test_finance_proposes_and_a_colleague_approves_in_the_admin(client, wallet_of, finance_users, settings):
    settings.PAYCENTER_ADJUSTMENT_SECOND_APPROVAL_ABOVE = "100.00"
    alice = wallet_of("alice")
    first, second = finance_users
    client.force_login(first)
    assert "Propose an adjustment" in client.get("/admin/ledger/transaction/").content.decode()
    response = client.post(
        "/admin/ledger/transaction/adjustment/propose/",
        {"account": alice.pk, "amount": "250.00", "currency": "CNY", "reason": "duplicate charge refund"},
    )
    assert response.status_code == 302, response.content[:3000]
    txn = Transaction.objects.get(kind="adjustment")
    assert txn.status == "pending" and balance(alice) == 0

    # The proposer's own approval is refused
    client.post(f"/admin/ledger/transaction/{txn.pk}/adjustment/approve/")
    txn.refresh_from_db()
    assert txn.status == "pending" and balance(alice) == 0

    client.force_login(second)
    page = client.get(f"/admin/ledger/transaction/{txn.pk}/change/").content.decode()
    assert f"/admin/ledger/transaction/{txn.pk}/adjustment/approve/" in page
    client.post(f"/admin/ledger/transaction/{txn.pk}/adjustment/approve/")
    txn.refresh_from_db()
    assert txn.status == "succeeded" and balance(alice) == 250_00
    assert AuditEntry.objects.get(action="adjustment.approve").actor == "fin-b"


def test_too_many_decimals_is_a_form_error_not_a_rounding(client, wallet_of, finance_users):
    client.force_login(finance_users[0])
    response = client.post(
        "/admin/ledger/transaction/adjustment/propose/",
        {"account": wallet_of("alice").pk, "amount": "1.005", "currency": "CNY", "reason": "x"},
    )
    assert response.status_code == 200 and not Transaction.objects.filter(kind="adjustment").exists()


def test_operations_staff_cannot_propose(client, wallet_of):
    user = get_user_model().objects.create_user(username="ops", password="pw-ops-123", is_staff=True)
    user.groups.add(Group.objects.get(name="operations"))
    client.force_login(user)
    client.post(
        "/admin/ledger/transaction/adjustment/propose/",
        {"account": wallet_of("alice").pk, "amount": "1.00", "currency": "CNY", "reason": "x"},
    )
    assert not Transaction.objects.filter(kind="adjustment").exists()
