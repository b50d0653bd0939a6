import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from accounts.models import Merchant, MerchantApp
from tests.conftest import SignedClient

pytestmark = pytest.mark.django_db


def run(*args):
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_onboard_merchant_prints_working_credentials():
    credentials = json.loads(run("onboard_merchant", "--name", "Tea House", "--json"))
    assert set(credentials) == {"merchant_id", "app_id", "secret", "channels"}
    merchant = Merchant.objects.get(pk=credentials["merchant_id"])
    assert merchant.status == "active"
    client = SignedClient(app_id=credentials["app_id"], secret=credentials["secret"])
    assert client.post("/api/v1/customers", {"external_id": "x"}).status_code == 201


def test_onboard_merchant_refuses_a_private_notify_url(settings):
    settings.ALLOW_PRIVATE_NOTIFY_URLS = False
    with pytest.raises(CommandError, match="notify_url_refused"):
        run("onboard_merchant", "--name", "Bad", "--notify-url", "http://10.0.0.1/x", "--json")
    assert not Merchant.objects.exists()


def test_seed_demo_is_idempotent_and_its_credentials_work():
    first = json.loads(run("seed_demo", "--json"))
    second = json.loads(run("seed_demo", "--json"))
    assert first == second
    # The shop, and the marketplace (orders.demo) with its two sellers; apps: shop and mall.
    assert Merchant.objects.count() == 4 and MerchantApp.objects.count() == 2
    client = SignedClient(app_id=first["app_id"], secret=first["secret"])
    assert client.post("/api/v1/customers", {"external_id": "demo-customer"}).status_code == 200
