import pytest
from django.utils import timezone

from accounts import services
from accounts.choices import AccountKind, MerchantStatus
from accounts.models import Customer
from paycenter.models import AuditEntry

pytestmark = pytest.mark.django_db


def now():
    return timezone.now()


def test_onboarding_walks_the_merchant_lifecycle():
    merchant = services.merchant_create(name="Shop", actor="ops", now=now())
    assert merchant.status == MerchantStatus.APPLIED
    assert merchant.accounts.get().kind == AccountKind.MERCHANT_SETTLEMENT
    for transition, status in [
        ("activate", "active"),
        ("suspend", "suspended"),
        ("reinstate", "active"),
        ("close", "closed"),
    ]:
        merchant = services.merchant_transition(
            merchant_id=merchant.pk, transition=transition, actor="ops", now=now()
        )
        assert merchant.status == status
    actions = list(
        AuditEntry.objects.filter(target_id=str(merchant.pk)).values_list("action", flat=True).order_by("id")
    )
    assert actions == [
        "merchant.create",
        "merchant.activate",
        "merchant.suspend",
        "merchant.reinstate",
        "merchant.close",
    ]


@pytest.mark.parametrize(
    ("start", "transition"), [("applied", "suspend"), ("applied", "reinstate"), ("closed", "activate")]
)
def test_transitions_out_of_order_are_refused(start, transition):
    merchant = services.merchant_create(name="Shop", actor="ops", now=now())
    if start == "closed":
        services.merchant_transition(merchant_id=merchant.pk, transition="close", actor="ops", now=now())
    with pytest.raises(services.TransitionRefused) as error:
        services.merchant_transition(merchant_id=merchant.pk, transition=transition, actor="ops", now=now())
    assert error.value.code == "invalid_state"


def test_a_closed_merchant_gets_no_new_app():
    merchant = services.merchant_create(name="Shop", actor="ops", now=now())
    services.merchant_transition(merchant_id=merchant.pk, transition="close", actor="ops", now=now())
    with pytest.raises(services.TransitionRefused):
        services.app_create(merchant_id=merchant.pk, name="x", actor="ops", now=now())


def test_app_secrets_are_long_random_and_distinct(onboarded):
    merchant, app, secret = onboarded
    other, other_secret = services.app_create(merchant_id=merchant.pk, name="second", actor="ops", now=now())
    assert len(secret) >= 40 and secret != other_secret and app.app_id != other.app_id


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://10.0.0.5/hook",
        "http://169.254.169.254/",
        "http://localhost:8000/",
        "http://[::1]/x",
        "ftp://example.com/",
        "http://192.168.1.1/",
    ],
)
def test_private_notify_urls_are_refused(onboarded, url, settings):
    settings.ALLOW_PRIVATE_NOTIFY_URLS = False
    merchant, _, _ = onboarded
    with pytest.raises(services.InvalidRequest) as error:
        services.app_create(merchant_id=merchant.pk, name="x", notify_url=url, actor="ops", now=now())
    assert error.value.field == "notify_url"


def test_private_notify_urls_are_allowed_by_the_development_setting(onboarded, settings):
    settings.ALLOW_PRIVATE_NOTIFY_URLS = True
    merchant, _, _ = onboarded
    app, _ = services.app_create(
        merchant_id=merchant.pk, name="x", notify_url="http://127.0.0.1:9/hook", actor="ops", now=now()
    )
    assert app.notify_url == "http://127.0.0.1:9/hook"


def test_public_notify_url_is_accepted(onboarded, settings):
    settings.ALLOW_PRIVATE_NOTIFY_URLS = False
    merchant, _, _ = onboarded
    app, _ = services.app_create(
        merchant_id=merchant.pk, name="x", notify_url="https://93.184.216.34/hook", actor="ops", now=now()
    )
    assert app.notify_url.startswith("https://")


def test_bad_allowlist_entry_is_refused(onboarded):
    merchant, _, _ = onboarded
    with pytest.raises(services.InvalidRequest):
        services.app_create(
            merchant_id=merchant.pk, name="x", ip_allowlist="10.0.0.0/8\nnot-an-ip", actor="ops", now=now()
        )


def test_customer_get_or_create_is_idempotent_and_opens_a_wallet(onboarded):
    merchant, _, _ = onboarded
    first, created = services.customer_get_or_create(merchant_id=merchant.pk, external_id="u1", now=now())
    again, created_again = services.customer_get_or_create(
        merchant_id=merchant.pk, external_id="u1", now=now()
    )
    assert created and not created_again and first.pk == again.pk
    wallet = first.accounts.get()
    assert (wallet.kind, wallet.currency, wallet.merchant_id) == (
        AccountKind.CUSTOMER_WALLET,
        "CNY",
        merchant.pk,
    )
    assert Customer.objects.count() == 1
