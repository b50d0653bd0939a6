"""Operations set up a channel in a real browser: the form built from the plugin's declared
parameters refuses a bad key beside its field, activates with good ones, and never shows
a secret back."""

import json

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from selenium.webdriver.support.ui import Select

from channels.models import MerchantChannel
from channels.services import merchant_channel_disable
from tests.channels.declared import bare, declared_channel, good_values, public_pem
from tests.roles import role

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures(declared_channel.__name__)]


def test_operations_set_up_a_channel_from_its_declared_parameters(admin_site, merchant):
    user = get_user_model().objects.create_user(username="ops", password="pw-ops-123", is_staff=True)
    user.groups.add(role("operations"))
    admin_site.log_in("ops", "pw-ops-123")
    driver = admin_site.driver
    admin_site.open("/admin/channels/merchantchannel/add/")
    admin_site.autocomplete("merchant", merchant.name)
    Select(driver.find_element("name", "channel")).select_by_value("declared")
    admin_site.submit(driver.find_element("name", "_save"))
    mc = MerchantChannel.objects.get(channel="declared")

    admin_site.open(f"/admin/channels/merchantchannel/{mc.pk}/change/")
    admin_site.press("Activate")
    values = good_values()
    driver.find_element("name", "app_id").send_keys(values["app_id"])
    driver.find_element("name", "app_private_key").send_keys(public_pem())  # the wrong key
    driver.find_element("name", "platform_public_key").send_keys(values["platform_public_key"])
    driver.find_element("name", "api_key").send_keys(values["api_key"])
    driver.find_element("name", "gateway_url").send_keys(values["gateway_url"])
    admin_site.press("Activate")
    errors = " ".join(e.text for e in driver.find_elements("css selector", ".errorlist"))
    assert "App private key: this is a public key or certificate" in errors
    mc.refresh_from_db()
    assert mc.status == "pending"

    # shown again: the public values kept, the typed secret not
    assert driver.find_element("name", "app_id").get_attribute("value") == values["app_id"]
    assert driver.find_element("name", "api_key").get_attribute("value") == ""
    driver.find_element("name", "app_private_key").send_keys(values["app_private_key"])
    driver.find_element("name", "api_key").send_keys(values["api_key"])
    admin_site.press("Activate")
    assert any("activate done" in m for m in admin_site.messages())
    mc.refresh_from_db()
    assert mc.status == "active" and set(json.loads(mc.secrets)) == {"app_private_key", "api_key"}

    merchant_channel_disable(mc_id=mc.pk, actor="t", now=timezone.now())
    admin_site.open(f"/admin/channels/merchantchannel/{mc.pk}/change/")
    assert "api_key: set" in driver.page_source
    admin_site.press("Activate")
    page = driver.page_source
    assert page.count("Set — leave empty to keep.") == 2
    assert values["api_key"] not in page and bare(values["app_private_key"])[:60] not in page
    admin_site.press("Activate")  # secrets left empty: kept
    assert any("activate done" in m for m in admin_site.messages())
    mc.refresh_from_db()
    assert mc.status == "active" and json.loads(mc.secrets)["api_key"] == values["api_key"]
