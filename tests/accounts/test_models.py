"""The database itself refuses balances that break A5, whatever the code does."""

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.choices import AccountKind
from accounts.models import Account, MerchantApp
from accounts.services import account_get_or_open, customer_get_or_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def wallet(onboarded):
    merchant, _, _ = onboarded
    customer, _ = customer_get_or_create(merchant_id=merchant.pk, external_id="c1", now=timezone.now())
    return customer.accounts.get()


def _update_refused(account, **values):
    with pytest.raises(IntegrityError), transaction.atomic():
        Account.objects.filter(pk=account.pk).update(**values)


def test_negative_available_is_refused(wallet):
    _update_refused(wallet, available_minor=-1, total_minor=-1)


def test_negative_frozen_is_refused(wallet):
    _update_refused(wallet, frozen_minor=-100, available_minor=100, total_minor=0)


def test_total_must_equal_available_plus_frozen(wallet):
    _update_refused(wallet, available_minor=500, frozen_minor=100, total_minor=500)


@pytest.mark.ledger_tampered  # writes balances directly, without postings
def test_cents_add_up_exactly_in_the_database(wallet):
    """0.10 + 0.20 = 0.30 must hold in SQL too (it would not with floating point)."""
    Account.objects.filter(pk=wallet.pk).update(available_minor=10, frozen_minor=20, total_minor=30)
    wallet.refresh_from_db()
    assert (wallet.available_minor, wallet.frozen_minor, wallet.total_minor) == (10, 20, 30)


@pytest.mark.ledger_tampered  # writes balances directly, without postings
def test_overdraft_accounts_may_go_negative(onboarded):
    account = account_get_or_open(
        kind=AccountKind.PLATFORM_FUNDING, currency="CNY", allow_overdraft=True, now=timezone.now()
    )
    Account.objects.filter(pk=account.pk).update(available_minor=-1000, total_minor=-1000)
    account.refresh_from_db()
    assert account.available_minor == -1000


def test_one_wallet_per_customer_and_currency(wallet):
    with pytest.raises(IntegrityError), transaction.atomic():
        Account.objects.create(
            merchant_id=wallet.merchant_id,
            customer_id=wallet.customer_id,
            kind=AccountKind.CUSTOMER_WALLET,
            currency="CNY",
            created_at=timezone.now(),
        )


def test_a_wallet_needs_a_customer(onboarded):
    merchant, _, _ = onboarded
    with pytest.raises(IntegrityError), transaction.atomic():
        Account.objects.create(
            merchant=merchant, kind=AccountKind.CUSTOMER_WALLET, currency="USD", created_at=timezone.now()
        )


def test_app_secret_is_encrypted_at_rest(onboarded):
    from django.db import connection

    _, app, secret = onboarded
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM accounts_merchantapp WHERE id = %s", [app.pk])
        stored = cursor.fetchone()[0]
    assert secret not in stored
    assert MerchantApp.objects.get(pk=app.pk).secret == secret
