"""Finance and operations in a real browser: an adjustment proposed by one finance user and
approved by another; a merchant channel activated with its button."""

import pytest
from django.contrib.auth import get_user_model
from selenium.webdriver.support.ui import Select

from channels.models import MerchantChannel
from ledger.models import Transaction
from tests.roles import role

pytestmark = pytest.mark.django_db(transaction=True)


def staff(name: str, group: str):
    user = get_user_model().objects.create_user(username=name, password=f"pw-{name}-123", is_staff=True)
    user.groups.add(role(group))
    return name, f"pw-{name}-123"


def test_a_large_adjustment_needs_a_second_finance_user(admin_site, wallet_of, settings):
    settings.PAYCENTER_ADJUSTMENT_SECOND_APPROVAL_ABOVE = "100.00"
    alice = wallet_of("alice")
    first, second = staff("fin-a", "finance"), staff("fin-b", "finance")

    # fin-a proposes 250.00 with a reason, from the transactions list
    admin_site.log_in(*first)
    admin_site.open("/admin/ledger/transaction/")
    admin_site.press("Propose an adjustment")
    driver = admin_site.driver
    driver.find_element("name", "account").send_keys(str(alice.pk))
    driver.find_element("name", "amount").send_keys("250.00")
    Select(driver.find_element("name", "currency")).select_by_value("CNY")
    driver.find_element("name", "reason").send_keys("double charge on order 881")
    admin_site.submit(driver.find_element("css selector", "input[type=submit]"))
    assert any("waiting for a second finance user" in m for m in admin_site.messages())
    txn = Transaction.objects.get(kind="adjustment")

    # fin-a's own approval is refused
    admin_site.press("Approve")
    assert any("other than the proposer" in m for m in admin_site.messages())
    txn.refresh_from_db()
    assert txn.status == "pending"

    # fin-b approves it
    admin_site.log_in(*second)
    admin_site.open(f"/admin/ledger/transaction/{txn.pk}/change/")
    admin_site.press("Approve")
    assert any("approve done" in m for m in admin_site.messages())
    txn.refresh_from_db()
    alice.refresh_from_db()
    assert txn.status == "succeeded" and alice.total_minor == 250_00
    assert "250.00" in driver.find_element("css selector", "#content").text


def test_operations_activate_the_sandbox_with_its_button(
    admin_site, merchant, sandbox, settings, live_server
):
    settings.SANDBOX_CHANNEL_URL = "http://127.0.0.1:9"  # not this one: the form's URL is used
    settings.PAYCENTER_PUBLIC_URL = live_server.url
    admin_site.log_in(*staff("ops", "operations"))
    admin_site.open("/admin/channels/merchantchannel/add/")
    driver = admin_site.driver
    admin_site.autocomplete("merchant", merchant.name)
    Select(driver.find_element("name", "channel")).select_by_value("sandbox")
    admin_site.submit(driver.find_element("name", "_save"))
    mc = MerchantChannel.objects.get(channel="sandbox")
    assert mc.status == "pending"

    admin_site.open(f"/admin/channels/merchantchannel/{mc.pk}/change/")
    admin_site.press("Activate")  # opens the sandbox's parameter form
    driver.find_element("name", "base_url").send_keys(sandbox.url)
    admin_site.press("Activate")
    assert any("activate done" in m for m in admin_site.messages())
    mc.refresh_from_db()
    assert mc.status == "active" and mc.params["base_url"] == sandbox.url
