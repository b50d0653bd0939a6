"""The onboarding screens as operations staff use them."""

import re

import pytest
from django.contrib.auth import get_user_model

from accounts.models import Merchant, MerchantApp
from paycenter.models import AuditEntry
from tests.conftest import SignedClient

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client):
    user = get_user_model().objects.create_superuser(username="ops", email="", password="pw-ops-123")
    client.force_login(user)
    return client


def test_operations_onboard_a_merchant_end_to_end(staff):
    # Given a new merchant created on the add screen
    response = staff.post(
        "/admin/accounts/merchant/add/",
        {"name": "Noodle Bar", "contact_email": "a@b.cn", "apps-TOTAL_FORMS": "0", "apps-INITIAL_FORMS": "0"},
    )
    assert response.status_code == 302, response.content[:2000]
    merchant = Merchant.objects.get(name="Noodle Bar")
    assert merchant.status == "applied"

    # When it is activated with the transition button
    page = staff.get(f"/admin/accounts/merchant/{merchant.pk}/change/").content.decode()
    assert "activate" in page.lower()
    staff.post(
        f"/admin/accounts/merchant/{merchant.pk}/change/",
        {
            "_fsm_transition_to": "activate",
            "contact_email": "a@b.cn",
            "apps-TOTAL_FORMS": "0",
            "apps-INITIAL_FORMS": "0",
        },
    )
    merchant.refresh_from_db()
    assert merchant.status == "active"

    # And an app is added
    response = staff.post(
        "/admin/accounts/merchantapp/add/",
        {"merchant": merchant.pk, "name": "Web shop", "notify_url": "", "ip_allowlist": ""},
    )
    # Then the secret is shown once, and it signs requests
    assert response.status_code == 200
    page = response.content.decode()
    secret = re.search(r'<code id="app-secret">([^<]+)</code>', page).group(1)
    app = MerchantApp.objects.get(merchant=merchant)
    assert app.app_id in page
    assert "no-store" in response["Cache-Control"]
    assert (
        SignedClient(app_id=app.app_id, secret=secret)
        .post("/api/v1/customers", {"external_id": "x"})
        .status_code
        == 201
    )

    # And never again
    assert secret not in staff.get(f"/admin/accounts/merchantapp/{app.pk}/change/").content.decode()
    assert secret not in staff.get("/admin/accounts/merchantapp/").content.decode()
    actions = set(AuditEntry.objects.values_list("action", flat=True))
    assert {"merchant.create", "merchant.activate", "app.create"} <= actions
    assert set(AuditEntry.objects.values_list("actor", flat=True)) == {"ops"}


def test_a_private_notify_url_is_a_form_error(staff, onboarded, settings):
    settings.ALLOW_PRIVATE_NOTIFY_URLS = False
    merchant, _, _ = onboarded
    response = staff.post(
        "/admin/accounts/merchantapp/add/",
        {"merchant": merchant.pk, "name": "x", "notify_url": "http://10.0.0.1/hook", "ip_allowlist": ""},
    )
    assert response.status_code == 200
    assert "private address" in response.content.decode()
    assert MerchantApp.objects.count() == 1


def test_editing_an_app_goes_through_the_service_and_is_audited(staff, onboarded):
    _, app, _ = onboarded
    response = staff.post(
        f"/admin/accounts/merchantapp/{app.pk}/change/",
        {"name": "Renamed", "notify_url": "", "ip_allowlist": "203.0.113.0/24", "enabled": ""},
    )
    assert response.status_code == 302
    app.refresh_from_db()
    assert (app.name, app.enabled, app.ip_allowlist) == ("Renamed", False, "203.0.113.0/24")
    assert AuditEntry.objects.filter(action="app.update", target_id=str(app.pk)).exists()


@pytest.mark.parametrize(
    "url",
    [
        "/admin/accounts/account/",
        "/admin/accounts/customer/",
        "/admin/paycenter/auditentry/",
        "/admin/paycenter/outboxmessage/",
        "/admin/accounts/merchant/",
    ],
)
def test_admin_lists_render(staff, onboarded, url):
    assert staff.get(url).status_code == 200


def test_accounts_cannot_be_edited_in_the_admin(staff, onboarded):
    merchant, _, _ = onboarded
    account = merchant.accounts.get()
    assert staff.get("/admin/accounts/account/add/").status_code == 403
    assert staff.post(f"/admin/accounts/account/{account.pk}/delete/", {"post": "yes"}).status_code == 403
