"""The database itself refuses balances that break A5, whatever the code does."""

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.choices import AccountKind
from accounts.models import Account, MerchantApp
from accounts.services import account_open, customer_get_or_create

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
    _update_refused(wallet, available=Decimal("-0.01"), total=Decimal("-0.01"))


def test_negative_frozen_is_refused(wallet):
    _update_refused(wallet, frozen=Decimal("-1"), available=Decimal("1"), total=Decimal("0"))


def test_total_must_equal_available_plus_frozen(wallet):
    _update_refused(wallet, available=Decimal("5"), frozen=Decimal("1"), total=Decimal("5"))


def test_overdraft_accounts_may_go_negative(onboarded):
    account = account_open(
        kind=AccountKind.PLATFORM_FUNDING, currency="CNY", allow_overdraft=True, now=timezone.now()
    )
    Account.objects.filter(pk=account.pk).update(available=Decimal("-10"), total=Decimal("-10"))
    account.refresh_from_db()
    assert account.available == Decimal("-10")


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
