"""The demo marketplace: made once, found after; `seed_demo --json` prints its app's
credentials, which list both sellers' catalogs and can pay from the funded buyer wallet."""

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts.models import Account, Merchant, MerchantApp
from channels.models import MerchantChannel
from orders.demo import DEMO_MALL, mall_seed
from orders.models import MarketplaceSeller, PriceTier, Product, Sku, Stock, Warehouse
from tests.conftest import SignedClient

pytestmark = pytest.mark.django_db

CATALOG_MODELS = (Merchant, MerchantApp, MarketplaceSeller, Warehouse, Product, Sku, PriceTier, Stock)


def _counts() -> dict:
    return {model.__name__: model.objects.count() for model in CATALOG_MODELS}


def test_the_mall_is_seeded_once_with_two_sellers_and_their_catalogs(settings):
    settings.SANDBOX_CHANNEL_URL = "http://127.0.0.1:9"  # nothing listens: noted, not waited for
    first = mall_seed(now=timezone.now(), wait_for_sandbox=False)
    counts = _counts()
    second = mall_seed(now=timezone.now(), wait_for_sandbox=False)

    assert _counts() == counts
    assert {k: first[k] for k in ("merchant_id", "app_id", "secret")} == {
        k: second[k] for k in ("merchant_id", "app_id", "secret")
    }
    mall = Merchant.objects.get(pk=first["merchant_id"])
    assert mall.name == DEMO_MALL and mall.status == "active"
    links = MarketplaceSeller.objects.filter(marketplace=mall).select_related("seller")
    assert {(link.seller.name, link.commission_bps) for link in links} == {
        ("Demo Books", 500),
        ("Demo Tea", 800),
    }
    for link in links:
        assert Warehouse.objects.filter(merchant=link.seller).count() == 2
        assert Product.objects.filter(seller=link.seller, status="active").count() >= 3
    assert Stock.objects.filter(on_hand__lt=100).exists()
    assert not PriceTier.objects.filter(unit_price_minor__lte=0).exists()
    wallet = Account.objects.get(pk=first["buyer_wallet"].pk)
    assert wallet.total_minor == 1000_00 and wallet.customer.merchant_id == mall.pk
    assert MerchantChannel.objects.filter(merchant=mall, channel="balance", status="active").exists()
    assert any("sandbox channel not activated" in note for note in first["notes"])

    client = SignedClient(app_id=first["app_id"], secret=first["secret"])
    products = client.get("/api/v1/products?limit=100").json()["products"]
    assert {p["merchant_id"] for p in products} == set(first["sellers"].values())


def test_seed_demo_twice_prints_the_same_marketplace_credentials(sandbox, settings):
    settings.SANDBOX_CHANNEL_URL = sandbox.url

    def run() -> dict:
        out = StringIO()
        call_command("seed_demo", "--json", stdout=out)
        return json.loads(out.getvalue())

    first = run()
    counts = _counts()
    second = run()

    assert first == second and set(first) == {"merchant_id", "app_id", "secret"}
    assert _counts() == counts
    assert Merchant.objects.get(pk=first["merchant_id"]).name == DEMO_MALL
    assert MerchantChannel.objects.filter(merchant_id=first["merchant_id"], status="active").count() == 2
    client = SignedClient(app_id=first["app_id"], secret=first["secret"])
    assert client.post("/api/v1/customers", {"external_id": "demo-customer"}).status_code == 200

    out = StringIO()
    call_command("seed_demo", stdout=out)
    printed = out.getvalue()
    assert f"app_id: {first['app_id']}" in printed and "marketplace: Demo Mall" in printed
