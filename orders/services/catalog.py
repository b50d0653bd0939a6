"""The catalog, as operations and imports change it: sellers on a marketplace, warehouses,
products and their state, SKUs with price tiers, and stock. Stock on hand is set or moved by
a conditional UPDATE the database re-checks under its row lock, so it never goes below what
unpaid orders have reserved, whatever runs at once (checkout reserves by the same rule)."""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import F
from django_fsm import TransitionNotAllowed

from accounts.models import Merchant
from orders.errors import (
    CatalogCodeTaken,
    CatalogNotFound,
    InvalidPriceTiers,
    ProductState,
    SellerAlreadyAdded,
    SellerInvalid,
    StockBelowReserved,
    WarehouseNotOfSeller,
)
from orders.models import MarketplaceSeller, PriceTier, Product, Sku, Stock, Warehouse
from paycenter.audit import audit_record
from paycenter.errors import InvalidRequest
from paycenter.money import currency_exponent, format_minor, parse_minor

CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
MAX_TIERS = 20
MAX_ATTRIBUTES = 20
MAX_STOCK = 10**12  # far beyond any warehouse; keeps sums of rows inside a bigint


@dataclass(frozen=True)
class Tier:
    min_quantity: int
    unit_price_minor: int


def _merchant(merchant_id: int, field: str) -> Merchant:
    merchant = Merchant.objects.filter(pk=merchant_id).first()
    if merchant is None:
        raise CatalogNotFound("No such merchant.", field=field)
    return merchant


def _code(value: str, field: str) -> str:
    value = (value or "").strip()
    if not CODE.fullmatch(value):
        raise InvalidRequest("Codes are 1-64 letters, digits, '.', '_' or '-'.", field=field)
    return value


def _text(value: str, field: str, max_length: int) -> str:
    value = (value or "").strip()
    if not value or len(value) > max_length:
        raise InvalidRequest(f"{field} is 1 to {max_length} characters.", field=field)
    return value


@transaction.atomic
def marketplace_seller_add(
    *, marketplace_id: int, seller_id: int, commission_bps: int, actor: str, now: datetime
) -> MarketplaceSeller:
    """The seller sells through the marketplace; the platform keeps `commission_bps` of
    what the seller is owed on each sub-order (500 = 5%)."""
    marketplace = _merchant(marketplace_id, "marketplace_id")
    seller = _merchant(seller_id, "seller_id")
    if marketplace.pk == seller.pk:
        raise SellerInvalid("A merchant cannot sell through itself.", field="seller_id")
    if not 0 <= commission_bps <= 10_000:
        raise InvalidRequest("The commission is 0 to 10000 basis points.", field="commission_bps")
    try:
        with transaction.atomic():
            link = MarketplaceSeller.objects.create(
                marketplace=marketplace, seller=seller, commission_bps=commission_bps, created_at=now
            )
    except IntegrityError:
        raise SellerAlreadyAdded(field="seller_id") from None
    audit_record(
        actor=actor, action="marketplace.seller_add", target=link, now=now, data={"bps": commission_bps}
    )
    return link


@transaction.atomic
def warehouse_create(*, merchant_id: int, code: str, name: str, actor: str, now: datetime) -> Warehouse:
    merchant = _merchant(merchant_id, "merchant_id")
    code = _code(code, "code")
    try:
        with transaction.atomic():
            warehouse = Warehouse.objects.create(
                merchant=merchant, code=code, name=_text(name, "name", 200), created_at=now
            )
    except IntegrityError:
        raise CatalogCodeTaken(f"The merchant has a warehouse {code} already.", field="code") from None
    audit_record(actor=actor, action="warehouse.create", target=warehouse, now=now, data={"code": code})
    return warehouse


@transaction.atomic
def product_create(
    *, seller_id: int, name: str, category: str, description: str = "", actor: str, now: datetime
) -> Product:
    """A draft product: apps see it once it has SKUs and is activated."""
    product = Product.objects.create(
        seller=_merchant(seller_id, "seller_id"),
        name=_text(name, "name", 200),
        category=_code(category, "category"),
        description=description or "",
        created_at=now,
    )
    audit_record(actor=actor, action="product.create", target=product, now=now, data={"name": product.name})
    return product


@transaction.atomic
def product_update(
    *, product_id: int, name: str, category: str, description: str | None = None, actor: str, now: datetime
) -> Product:
    product = Product.objects.select_for_update().filter(pk=product_id).first()
    if product is None:
        raise CatalogNotFound("No such product.", field="product")
    changes = {"name": _text(name, "name", 200), "category": _code(category, "category")}
    if description is not None:
        changes["description"] = description
    changed = {k: v for k, v in changes.items() if getattr(product, k) != v}
    if changed:
        Product.objects.filter(pk=product.pk).update(**changed)
        audit_record(actor=actor, action="product.update", target=product, now=now, data=changed)
        product.refresh_from_db()
    return product


def _transition(product_id: int, name: str, actor: str, now: datetime) -> Product:
    product = Product.objects.select_for_update().filter(pk=product_id).first()
    if product is None:
        raise CatalogNotFound("No such product.", field="product")
    before = product.status
    if name == "activate" and not product.skus.filter(active=True).exists():
        raise ProductState("A product needs an active SKU before it goes on sale.")
    try:
        getattr(product, name)()
    except TransitionNotAllowed:
        raise ProductState(f"A {before} product cannot {name}.") from None
    product.save()
    audit_record(
        actor=actor,
        action=f"product.{name}",
        target=product,
        now=now,
        data={"from": before, "to": product.status},
    )
    return product


@transaction.atomic
def product_activate(*, product_id: int, actor: str, now: datetime) -> Product:
    """On sale: the apps that may order the seller's products see it."""
    return _transition(product_id, "activate", actor, now)


@transaction.atomic
def product_delist(*, product_id: int, actor: str, now: datetime) -> Product:
    """Off sale; orders already placed go on (their stock stays reserved)."""
    return _transition(product_id, "delist", actor, now)


def price_tiers_check(tiers: Sequence[Tier]) -> list[Tier]:
    """Tiers by quantity: one from 1 unit, thresholds distinct, prices positive."""
    tiers = sorted(tiers, key=lambda t: t.min_quantity)
    if not 1 <= len(tiers) <= MAX_TIERS:
        raise InvalidPriceTiers(f"A SKU has 1 to {MAX_TIERS} price tiers.", field="price_tiers")
    quantities = [t.min_quantity for t in tiers]
    if any(not isinstance(q, int) or q < 1 for q in quantities) or len(set(quantities)) < len(quantities):
        raise InvalidPriceTiers("Tier quantities are distinct whole numbers from 1.", field="price_tiers")
    if quantities[0] != 1:
        raise InvalidPriceTiers("A SKU needs a price tier from 1 unit.", field="price_tiers")
    if any(not isinstance(t.unit_price_minor, int) or t.unit_price_minor <= 0 for t in tiers):
        raise InvalidPriceTiers("Unit prices are greater than zero.", field="price_tiers")
    return tiers


def _attributes(attributes: Mapping) -> dict:
    if not isinstance(attributes, Mapping) or len(attributes) > MAX_ATTRIBUTES:
        raise InvalidRequest(
            f"Attributes are an object of at most {MAX_ATTRIBUTES} names.", field="attributes"
        )
    for key, value in attributes.items():
        if not isinstance(key, str) or not key or len(key) > 64:
            raise InvalidRequest("Attribute names are 1-64 characters.", field="attributes")
        if not isinstance(value, str | int | bool) or len(str(value)) > 200:
            raise InvalidRequest(f"Attribute {key!r} is a string, number or boolean.", field="attributes")
    return dict(attributes)


def _tiers_replace(sku: Sku, tiers: list[Tier]) -> None:
    PriceTier.objects.filter(sku=sku).delete()
    PriceTier.objects.bulk_create(
        [PriceTier(sku=sku, min_quantity=t.min_quantity, unit_price_minor=t.unit_price_minor) for t in tiers]
    )


@transaction.atomic
def sku_create(
    *,
    product_id: int,
    code: str,
    attributes: Mapping,
    price_tiers: Sequence[Tier],
    currency: str = "CNY",
    actor: str,
    now: datetime,
) -> Sku:
    product = Product.objects.filter(pk=product_id).first()
    if product is None:
        raise CatalogNotFound("No such product.", field="product")
    code = _code(code, "sku")
    currency_exponent(currency)
    tiers = price_tiers_check(price_tiers)
    try:
        with transaction.atomic():
            sku = Sku.objects.create(
                product=product,
                code=code,
                attributes=_attributes(attributes),
                currency=currency.upper(),
                created_at=now,
            )
    except IntegrityError:
        raise CatalogCodeTaken(f"SKU {code} exists already.", field="sku") from None
    _tiers_replace(sku, tiers)
    audit_record(actor=actor, action="sku.create", target=sku, now=now, data={"code": code})
    return sku


@transaction.atomic
def sku_update(
    *, sku_id: int, attributes: Mapping, price_tiers: Sequence[Tier], actor: str, now: datetime
) -> Sku:
    """New attributes and tiers. Orders already placed keep the prices they were placed at."""
    sku = Sku.objects.select_for_update().filter(pk=sku_id).first()
    if sku is None:
        raise CatalogNotFound("No such SKU.", field="sku")
    tiers = price_tiers_check(price_tiers)
    sku.attributes = _attributes(attributes)
    sku.save(update_fields=["attributes"])
    _tiers_replace(sku, tiers)
    audit_record(
        actor=actor,
        action="sku.update",
        target=sku,
        now=now,
        data={"tiers": [[t.min_quantity, t.unit_price_minor] for t in tiers]},
    )
    return sku


def _stock_row(sku_id: int, warehouse_id: int) -> Stock:
    sku = Sku.objects.select_related("product").filter(pk=sku_id).first()
    if sku is None:
        raise CatalogNotFound("No such SKU.", field="sku")
    warehouse = Warehouse.objects.filter(pk=warehouse_id).first()
    if warehouse is None:
        raise CatalogNotFound("No such warehouse.", field="warehouse")
    if warehouse.merchant_id != sku.product.seller_id:
        raise WarehouseNotOfSeller(field="warehouse")
    # The unique (sku, warehouse) decides between two first writers.
    stock, _ = Stock.objects.get_or_create(sku=sku, warehouse=warehouse)
    return stock


@transaction.atomic
def stock_set(*, sku_id: int, warehouse_id: int, on_hand: int, actor: str, now: datetime) -> Stock:
    """A count: the units on hand are `on_hand`, refused (409 stock_below_reserved) while
    unpaid orders hold more than that."""
    if not isinstance(on_hand, int) or not 0 <= on_hand <= MAX_STOCK:
        raise InvalidRequest(f"On hand is a whole number from 0 to {MAX_STOCK}.", field="on_hand")
    stock = _stock_row(sku_id, warehouse_id)
    if not Stock.objects.filter(pk=stock.pk, reserved__lte=on_hand).update(on_hand=on_hand):
        stock.refresh_from_db()
        raise StockBelowReserved(stock.sku.code, stock.reserved)
    stock.refresh_from_db()
    audit_record(actor=actor, action="stock.set", target=stock, now=now, data={"on_hand": on_hand})
    return stock


@transaction.atomic
def stock_adjust(*, sku_id: int, warehouse_id: int, delta: int, actor: str, now: datetime) -> Stock:
    """Units in (delta > 0) or out (delta < 0), relative to whatever is on hand when the
    update runs; never below what is reserved."""
    if not isinstance(delta, int) or delta == 0 or abs(delta) > MAX_STOCK:
        raise InvalidRequest("The change is a non-zero whole number.", field="delta")
    stock = _stock_row(sku_id, warehouse_id)
    moved = Stock.objects.filter(
        pk=stock.pk, on_hand__gte=F("reserved") - delta, on_hand__lte=MAX_STOCK - delta
    ).update(on_hand=F("on_hand") + delta)
    if not moved:
        stock.refresh_from_db()
        raise StockBelowReserved(stock.sku.code, stock.reserved)
    stock.refresh_from_db()
    audit_record(actor=actor, action="stock.adjust", target=stock, now=now, data={"delta": delta})
    return stock


def price_tiers_parse(text: str, currency: str) -> list[Tier]:
    """Tiers as imports and the demo write them: "1:30.00;10:25.00" (from 1 unit 30.00 each,
    from 10 units 25.00 each), amounts in the currency's decimals, never rounded."""
    tiers = []
    for part in (text or "").replace(",", ";").split(";"):
        if not part.strip():
            continue
        quantity, _, price = part.partition(":")
        if not quantity.strip().isdigit() or not price.strip():
            raise InvalidPriceTiers(f"{part.strip()!r} is not quantity:price.", field="price_tiers")
        tiers.append(Tier(int(quantity), parse_minor(price.strip(), currency, field="price_tiers")))
    return price_tiers_check(tiers)


def price_tiers_format(tiers: Sequence[PriceTier], currency: str) -> str:
    return ";".join(f"{t.min_quantity}:{format_minor(t.unit_price_minor, currency)}" for t in tiers)
