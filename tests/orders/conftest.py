"""A marketplace (the onboarded merchant "Acme", whose app the `api` fixture signs for) with
two sellers, two warehouses and a small catalog; a funded buyer; balance channel active."""

from dataclasses import dataclass

import pytest
from django.utils import timezone

from accounts.services import merchant_create, merchant_transition
from channels.services import merchant_channel_activate
from orders.choices import ProductStatus
from orders.models import MarketplaceSeller, PriceTier, Product, Sku, Stock, Warehouse


@dataclass
class Mall:
    marketplace: object
    books: object  # seller, 5% commission
    tea: object  # seller, 8% commission
    north: object  # warehouses of the sellers
    south: object
    east: object


def _seller(name: str, marketplace, commission_bps: int, now):
    seller = merchant_create(name=name, actor="test", now=now)
    merchant_transition(merchant_id=seller.pk, transition="activate", actor="test", now=now)
    MarketplaceSeller.objects.create(
        marketplace=marketplace, seller=seller, commission_bps=commission_bps, created_at=now
    )
    return seller


def add_sku(*, seller, code: str, category: str, tiers: list[tuple[int, int]], stock: dict, now=None):
    """A product with one SKU; `stock` maps warehouses to units on hand."""
    now = now or timezone.now()
    product = Product.objects.create(
        seller=seller, name=code.title(), category=category, status=ProductStatus.ACTIVE, created_at=now
    )
    sku = Sku.objects.create(product=product, code=code, attributes={"size": "M"}, created_at=now)
    for min_quantity, price in tiers:
        PriceTier.objects.create(sku=sku, min_quantity=min_quantity, unit_price_minor=price)
    for warehouse, units in stock.items():
        Stock.objects.create(sku=sku, warehouse=warehouse, on_hand=units)
    return sku


@pytest.fixture
def mall(merchant):
    now = timezone.now()
    books = _seller("Books", merchant, 500, now)
    tea = _seller("Tea", merchant, 800, now)
    north = Warehouse.objects.create(merchant=books, code="N", name="North", created_at=now)
    south = Warehouse.objects.create(merchant=books, code="S", name="South", created_at=now)
    east = Warehouse.objects.create(merchant=tea, code="E", name="East", created_at=now)
    add_sku(
        seller=books,
        code="novel",
        category="books",
        tiers=[(1, 30_00), (10, 25_00)],
        stock={north: 50, south: 50},
    )
    add_sku(seller=books, code="atlas", category="maps", tiers=[(1, 120_00)], stock={south: 5})
    add_sku(seller=tea, code="oolong", category="tea", tiers=[(1, 48_00), (5, 45_00)], stock={east: 100})
    merchant_channel_activate(merchant_id=merchant.pk, channel="balance", actor="test", now=now)
    return Mall(marketplace=merchant, books=books, tea=tea, north=north, south=south, east=east)


@pytest.fixture
def buyer(wallet_of):
    """The buyer's funded wallet (10,000.00)."""
    return wallet_of("buyer-1", balance=10_000_00)
