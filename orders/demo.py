"""The demo marketplace: "Demo Mall" (balance and sandbox channels, an app), a buyer with a
funded wallet, two sellers with catalogs across two warehouses each, and coupon batches of
every kind (coupons.demo). `seed_demo` prints
the mall app's credentials: an app that lists products and places orders is a marketplace's.

Idempotent: everything is looked up by its name or code first and made only when missing.
Seeders registered after this one (order > 30) find `context["mall"]`, the dict `mall_seed`
returns."""

from datetime import datetime

from django.conf import settings
from django.utils import timezone

from accounts import services as accounts
from accounts.choices import MerchantStatus
from accounts.demo import DEMO_CUSTOMER
from accounts.models import Account, Merchant, MerchantApp
from channels.demo import demo_channels_activate
from coupons.demo import coupon_batches_seed
from ledger.services.adjustments import adjustment_propose
from orders.choices import ProductStatus
from orders.models import MarketplaceSeller, Product, Sku, Warehouse
from orders.services.catalog import (
    marketplace_seller_add,
    price_tiers_parse,
    product_activate,
    product_create,
    sku_create,
    stock_set,
    warehouse_create,
)
from paycenter.demo import register
from paycenter.money import format_minor, parse_minor

DEMO_MALL = "Demo Mall"
DEMO_BUYER_BALANCE = "1000.00"
ACTOR = "seed_demo"
CURRENCY = "CNY"

# seller → commission in basis points, warehouses {code: name}
SELLERS = {
    "Demo Books": (500, {"BJ": "Beijing", "SH": "Shanghai"}),
    "Demo Tea": (800, {"HZ": "Hangzhou", "GZ": "Guangzhou"}),
}
# seller, product, category, SKU, attributes, price tiers (as imports write them), units on hand
SKUS = [
    ("Demo Books", "The Pragmatic Ledger", "books", "book-ledger-pb", {"format": "paperback"},
     "1:59.00;10:52.00", {"BJ": 80, "SH": 40}),
    ("Demo Books", "The Pragmatic Ledger", "books", "book-ledger-hc", {"format": "hardcover"},
     "1:89.00;5:80.00", {"BJ": 12}),
    ("Demo Books", "Tales of Two Accounts", "books", "book-tales", {},
     "1:39.00;20:33.00", {"SH": 250, "BJ": 150}),
    ("Demo Books", "World Atlas", "maps", "map-atlas", {"edition": "2026"},
     "1:120.00", {"BJ": 5}),
    ("Demo Tea", "Longjing Green Tea", "tea", "tea-longjing-100g", {"weight": "100g"},
     "1:68.00;5:62.00;20:55.00", {"HZ": 300, "GZ": 100}),
    ("Demo Tea", "Longjing Green Tea", "tea", "tea-longjing-250g", {"weight": "250g"},
     "1:158.00;5:145.00", {"HZ": 60}),
    ("Demo Tea", "Tieguanyin Oolong", "tea", "tea-oolong-100g", {"weight": "100g"},
     "1:48.00;10:42.00", {"GZ": 90, "HZ": 30}),
    ("Demo Tea", "Celadon Cup Set", "teaware", "teaware-cups", {"colour": "celadon"},
     "1:128.00", {"GZ": 8}),
]  # fmt: skip


def _merchant(name: str, now: datetime) -> Merchant:
    merchant = Merchant.objects.filter(name=name).order_by("id").first()
    if merchant is None:
        merchant = accounts.merchant_create(name=name, actor=ACTOR, now=now)
    if merchant.status == MerchantStatus.APPLIED:
        merchant = accounts.merchant_transition(
            merchant_id=merchant.pk, transition="activate", actor=ACTOR, now=now
        )
    return merchant


def _app(mall: Merchant, now: datetime) -> MerchantApp:
    app = MerchantApp.objects.filter(merchant=mall).order_by("id").first()
    if app is None:
        app, _ = accounts.app_create(merchant_id=mall.pk, name=DEMO_MALL, actor=ACTOR, now=now)
    if settings.DEMO_NOTIFY_URL and app.notify_url != settings.DEMO_NOTIFY_URL:
        # `make run`: the webhook receiver beside the server prints what the mall's app gets.
        app = accounts.app_update(
            app_pk=app.pk,
            name=app.name,
            notify_url=settings.DEMO_NOTIFY_URL,
            ip_allowlist=app.ip_allowlist,
            enabled=app.enabled,
            actor=ACTOR,
            now=now,
        )
    return app


def _buyer_wallet(mall: Merchant, now: datetime) -> Account:
    """The buyer's wallet, funded once as finance would: an adjustment, never a balance write."""
    customer, _ = accounts.customer_get_or_create(merchant_id=mall.pk, external_id=DEMO_CUSTOMER, now=now)
    currency = settings.PAYCENTER_DEFAULT_CURRENCY
    wallet = customer.accounts.get(currency=currency)
    if wallet.total_minor == 0:
        adjustment_propose(
            account_id=wallet.pk,
            amount_minor=parse_minor(DEMO_BUYER_BALANCE, currency),
            currency=currency,
            reason="demo funds",
            actor=ACTOR,
            now=now,
        )
        wallet.refresh_from_db()
    return wallet


def _seller(mall: Merchant, name: str, now: datetime) -> Merchant:
    commission_bps, warehouses = SELLERS[name]
    seller = _merchant(name, now)
    if not MarketplaceSeller.objects.filter(marketplace=mall, seller=seller).exists():
        marketplace_seller_add(
            marketplace_id=mall.pk, seller_id=seller.pk, commission_bps=commission_bps, actor=ACTOR, now=now
        )
    for code, warehouse_name in warehouses.items():
        if not Warehouse.objects.filter(merchant=seller, code=code).exists():
            warehouse_create(merchant_id=seller.pk, code=code, name=warehouse_name, actor=ACTOR, now=now)
    return seller


def _catalog(sellers: dict[str, Merchant], now: datetime) -> None:
    for seller_name, product_name, category, code, attributes, tiers, stock in SKUS:
        seller = sellers[seller_name]
        product = Product.objects.filter(seller=seller, name=product_name).order_by("id").first()
        if product is None:
            product = product_create(
                seller_id=seller.pk, name=product_name, category=category, actor=ACTOR, now=now
            )
        if not Sku.objects.filter(code=code).exists():
            sku = sku_create(
                product_id=product.pk,
                code=code,
                attributes=attributes,
                price_tiers=price_tiers_parse(tiers, CURRENCY),
                currency=CURRENCY,
                actor=ACTOR,
                now=now,
            )
            for warehouse_code, units in stock.items():
                warehouse = Warehouse.objects.get(merchant=seller, code=warehouse_code)
                stock_set(sku_id=sku.pk, warehouse_id=warehouse.pk, on_hand=units, actor=ACTOR, now=now)
        if product.status != ProductStatus.ACTIVE:
            product = product_activate(product_id=product.pk, actor=ACTOR, now=now)


def mall_seed(*, now: datetime, wait_for_sandbox: bool = True) -> dict:
    """The demo marketplace, made or found. Returns its merchant, app credentials, buyer
    wallet, sellers and notes for `seed_demo` to print."""
    notes: list[str] = []
    mall = _merchant(DEMO_MALL, now)
    app = _app(mall, now)
    demo_channels_activate(merchant_id=mall.pk, notes=notes, wait=wait_for_sandbox)
    wallet = _buyer_wallet(mall, now)
    sellers = {name: _seller(mall, name, now) for name in SELLERS}
    _catalog(sellers, now)
    products = Product.objects.filter(seller__in=sellers.values()).order_by("id")
    batches = coupon_batches_seed(
        merchant=mall,
        sellers=list(sellers.values()),
        product_ids=list(products.values_list("id", flat=True)),
        categories=sorted(set(products.values_list("category", flat=True))),
        currency=CURRENCY,
        now=now,
    )
    balance = f"{format_minor(wallet.total_minor, wallet.currency)} {wallet.currency}"
    shown = ", ".join(f"{n} (merchant {s.pk}, {SELLERS[n][0] / 100:g}%)" for n, s in sellers.items())
    notes[:0] = [
        f"marketplace: {DEMO_MALL} (merchant {mall.pk}); the credentials above are its app's",
        f"sellers: {shown}; GET /api/v1/products lists their catalogs",
        f"buyer: {DEMO_CUSTOMER}, wallet {wallet.pk} balance {balance}",
        "coupon batches (POST /api/v1/coupons/claim): " + ", ".join(b.code for b in batches),
    ]
    return {
        "merchant_id": mall.pk,
        "app_id": app.app_id,
        # Demo only: a real app's secret is shown once and never again.
        "secret": app.secret,
        "buyer_wallet": wallet,
        "sellers": {name: seller.pk for name, seller in sellers.items()},
        "notes": notes,
    }


@register(order=30, name="orders")
def seed(context: dict) -> None:
    # The shop's seeder (channels) waited for the sandbox to start already: one try here.
    mall = mall_seed(now=context.get("now") or timezone.now(), wait_for_sandbox=False)
    context["mall"] = mall
    # `seed_demo --json` (make run, the quick start) prints the marketplace app's credentials.
    context.update(merchant_id=mall["merchant_id"], app_id=mall["app_id"], secret=mall["secret"])
    context.setdefault("notes", []).extend(mall["notes"])
