"""One row of a product import: the SKU created or updated, its product found by seller and
name (or created), and the product's state moved when the row names another — each step by
the catalog service that owns it, in one transaction."""

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction

from orders.choices import ProductStatus
from orders.models import Product, Sku
from orders.services.catalog import (
    Tier,
    product_activate,
    product_create,
    product_delist,
    product_update,
    sku_create,
    sku_update,
)
from paycenter.errors import InvalidRequest


@dataclass(frozen=True)
class ProductRow:
    sku: str
    seller_id: int
    product: str
    category: str
    status: str  # "" leaves the product's state as it is
    currency: str
    attributes: dict
    price_tiers: list[Tier]


@transaction.atomic
def product_row_import(*, row: ProductRow, actor: str, now: datetime) -> Sku:
    if row.status and row.status not in ProductStatus.values:
        raise InvalidRequest(f"status is one of {', '.join(ProductStatus.values)}.", field="status")
    sku = Sku.objects.select_related("product").filter(code=row.sku).first()
    if sku is None:
        product = Product.objects.filter(seller_id=row.seller_id, name=row.product).order_by("id").first()
        if product is None:
            product = product_create(
                seller_id=row.seller_id, name=row.product, category=row.category, actor=actor, now=now
            )
        sku = sku_create(
            product_id=product.pk,
            code=row.sku,
            attributes=row.attributes,
            price_tiers=row.price_tiers,
            currency=row.currency,
            actor=actor,
            now=now,
        )
    else:
        if sku.product.seller_id != row.seller_id:
            raise InvalidRequest(f"{row.sku} is another seller's SKU.", field="seller_id")
        if sku.currency != row.currency:
            raise InvalidRequest(f"{row.sku} is priced in {sku.currency}.", field="currency")
        product = product_update(
            product_id=sku.product_id, name=row.product, category=row.category, actor=actor, now=now
        )
        sku = sku_update(
            sku_id=sku.pk, attributes=row.attributes, price_tiers=row.price_tiers, actor=actor, now=now
        )
    if row.status and row.status != product.status:
        if row.status == ProductStatus.ACTIVE:
            product_activate(product_id=product.pk, actor=actor, now=now)
        elif row.status == ProductStatus.DELISTED:
            product_delist(product_id=product.pk, actor=actor, now=now)
        else:
            raise InvalidRequest("A product on sale goes back to draft only by delisting.", field="status")
    return sku
