import pytest
from django.utils import timezone

from accounts.services import customer_get_or_create
from ledger.services.recharges import recharge_create
from ledger.verify import ledger_verify


@pytest.fixture
def merchant(onboarded):
    return onboarded[0]


@pytest.fixture
def wallet_of(merchant):
    """wallet_of("alice", balance=50_00) → a funded customer wallet of the merchant."""

    def make(external_id: str, *, balance: int = 0, currency: str = "CNY"):
        customer, _ = customer_get_or_create(
            merchant_id=merchant.pk, external_id=external_id, currency=currency, now=timezone.now()
        )
        account = customer.accounts.get(currency=currency)
        if balance:
            recharge_create(
                merchant_id=merchant.pk,
                account_id=account.pk,
                amount_minor=balance,
                currency=currency,
                now=timezone.now(),
            )
        account.refresh_from_db()
        return account

    return make


def assert_ledger_clean():
    report = ledger_verify()
    assert report.clean, "\n".join(report.lines())
