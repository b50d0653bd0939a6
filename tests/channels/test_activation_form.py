"""The admin's activation form, built from the plugin's declared parameters: a field per
parameter by kind, the checks of channels.parameters, secrets never rendered back, and
only operations (or a superuser) may use it."""

import json

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone

from channels.models import MerchantChannel
from channels.services import merchant_channel_add, merchant_channel_disable
from paycenter.models import AuditEntry
from tests.channels.declared import bare, declared_channel, good_values, private_pem
from tests.roles import role

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures(declared_channel.__name__)]


def staff(client, group: str) -> None:
    user = get_user_model().objects.create_user(username=group, password="pw-123", is_staff=True)
    user.groups.add(role(group))
    client.force_login(user)


def pending(merchant, channel: str) -> MerchantChannel:
    return merchant_channel_add(
        merchant_id=merchant.pk,
        channel=channel,
        params={},
        priority=100,
        min_amount_minor=1,
        max_amount_minor=None,
        actor="t",
        now=timezone.now(),
    )


def url(mc: MerchantChannel) -> str:
    return f"/admin/channels/merchantchannel/{mc.pk}/transition/activate/"


def raw_secrets(mc: MerchantChannel) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT secrets FROM {MerchantChannel._meta.db_table} WHERE id = %s", [mc.pk])
        return cursor.fetchone()[0]


def test_the_change_page_links_activate_to_the_parameter_form(client, merchant):
    staff(client, "operations")
    mc = pending(merchant, "declared")
    page = client.get(f"/admin/channels/merchantchannel/{mc.pk}/change/").content.decode()
    assert f'href="{url(mc)}"' in page
    add_page = client.get("/admin/channels/merchantchannel/add/").content.decode()
    assert 'name="params"' not in add_page  # no JSON text area


def test_the_form_has_a_field_per_declared_parameter_by_kind(client, merchant):
    staff(client, "operations")
    page = client.get(url(pending(merchant, "declared"))).content.decode()
    assert '<select name="mode"' in page and '<option value="service_provider">' in page
    assert '<input type="text" name="app_id"' in page
    assert '<textarea name="app_private_key"' in page and '<textarea name="platform_public_key"' in page
    assert '<input type="password" name="api_key"' in page
    assert '<input type="url" name="gateway_url"' in page
    assert 'name="sub_mchid"' in page and "(service-provider mode only.)" in page
    assert 'name="params"' not in page


def test_the_sandbox_form_asks_for_its_url_and_the_balance_form_for_nothing(client, merchant):
    staff(client, "operations")
    page = client.get(url(pending(merchant, "sandbox"))).content.decode()
    assert '<input type="url" name="base_url"' in page
    page = client.get(url(pending(merchant, "balance"))).content.decode()
    assert "This channel takes no parameters." in page and "<textarea" not in page


def test_bad_values_are_shown_beside_their_fields_and_nothing_is_activated(client, merchant):
    staff(client, "operations")
    mc = pending(merchant, "declared")
    typed_key = private_pem()
    values = good_values(app_id="", gateway_url="not a url", platform_public_key="-----BEGIN nonsense")
    response = client.post(url(mc), {**values, "app_private_key": typed_key})
    page = response.content.decode()
    assert response.status_code == 200
    assert "App ID is required." in page
    assert "Gateway URL: not a valid http(s) URL." in page
    assert "Platform public key: not a valid PEM public key" in page
    assert bare(typed_key)[:60] not in page and values["api_key"] not in page  # not echoed
    mc.refresh_from_db()
    assert mc.status == "pending" and mc.secrets == ""


def test_activation_stores_params_and_encrypted_secrets_and_never_shows_them(client, merchant):
    staff(client, "operations")
    mc = pending(merchant, "declared")
    values = good_values()
    response = client.post(url(mc), values)
    assert response.status_code == 302
    mc.refresh_from_db()
    assert mc.status == "active" and mc.params["app_id"] == values["app_id"]
    assert json.loads(mc.secrets) == {
        "app_private_key": values["app_private_key"],
        "api_key": values["api_key"],
    }
    assert values["api_key"] not in raw_secrets(mc) and "PRIVATE KEY" not in raw_secrets(mc)
    assert AuditEntry.objects.filter(
        action="channel.activate", actor="operations", target_id=str(mc.pk)
    ).exists()

    change = client.get(f"/admin/channels/merchantchannel/{mc.pk}/change/").content.decode()
    assert "api_key: set" in change and "app_private_key: set" in change
    assert values["api_key"] not in change and bare(values["app_private_key"])[:60] not in change

    merchant_channel_disable(mc_id=mc.pk, actor="t", now=timezone.now())
    form = client.get(url(mc)).content.decode()
    assert form.count("Set — leave empty to keep.") == 2
    assert values["api_key"] not in form and bare(values["app_private_key"])[:60] not in form
    assert 'value="2021000000000001"' in form  # public ones are shown to edit

    # opened again with the secrets left empty: the stored ones are kept
    response = client.post(
        url(mc), {**values, "app_private_key": "", "api_key": "", "app_id": "2021000000000002"}
    )
    assert response.status_code == 302
    mc.refresh_from_db()
    assert (mc.status, mc.params["app_id"]) == ("active", "2021000000000002")
    assert json.loads(mc.secrets)["api_key"] == values["api_key"]


@pytest.mark.parametrize("group", ["finance", "auditor"])
def test_only_operations_may_activate(client, merchant, group):
    staff(client, group)
    mc = pending(merchant, "declared")
    response = client.post(url(mc), good_values())
    assert response.status_code in {302, 403}
    mc.refresh_from_db()
    assert mc.status == "pending"


def test_an_active_channel_has_nothing_to_activate(client, merchant):
    staff(client, "operations")
    mc = pending(merchant, "declared")
    assert client.post(url(mc), good_values()).status_code == 302
    response = client.get(url(mc), follow=True)
    assert "The channel is active: nothing to activate." in response.content.decode()
