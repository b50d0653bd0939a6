"""Who may order what: an app orders its own merchant's products and, when its merchant is a
marketplace, every active seller's."""

from django.db.models import F, Prefetch, Q, QuerySet, Sum
from django.db.models.functions import Coalesce

from ledger.selectors import decode_cursor, encode_cursor
from orders.choices import ProductStatus
from orders.models import MarketplaceSeller, Product, Sku


def sellers_of(*, merchant_id: int) -> dict[int, int]:
    """Seller merchant id → the platform's commission in basis points, for the merchant's
    own products (no commission) and its marketplace's active sellers."""
    rows = MarketplaceSeller.objects.filter(marketplace_id=merchant_id, active=True)
    return {merchant_id: 0, **dict(rows.values_list("seller_id", "commission_bps"))}


def orderable_skus(*, merchant_id: int) -> QuerySet[Sku]:
    """Active SKUs of active products that the merchant's apps may order."""
    return Sku.objects.filter(
        Q(product__seller_id__in=list(sellers_of(merchant_id=merchant_id))),
        active=True,
        product__status=ProductStatus.ACTIVE,
    )


PRODUCTS_PAGE = 20
PRODUCTS_PAGE_MAX = 100


def products_page(
    *,
    merchant_id: int,
    seller_id: int | None = None,
    category: str | None = None,
    cursor: str | None = None,
    limit: int = PRODUCTS_PAGE,
) -> tuple[list[Product], str | None]:
    """Products the merchant's apps may order, by id, each with its orderable SKUs (price
    tiers prefetched, `available_stock` summed over warehouses) and the next page's cursor.
    Four queries whatever the page size."""
    skus = orderable_skus(merchant_id=merchant_id)
    products = Product.objects.filter(pk__in=skus.values("product_id")).order_by("id")
    if seller_id is not None:
        products = products.filter(seller_id=seller_id)
    if category:
        products = products.filter(category=category)
    if cursor:
        products = products.filter(pk__gt=decode_cursor(cursor))
    available = Coalesce(Sum(F("stocks__on_hand") - F("stocks__reserved")), 0)
    page = list(
        products.prefetch_related(
            Prefetch(
                "skus",
                queryset=skus.annotate(available_stock=available).order_by("id"),
                to_attr="orderable_skus",
            ),
            Prefetch("orderable_skus__price_tiers"),
        )[: limit + 1]
    )
    if len(page) > limit:
        return page[:limit], encode_cursor(page[limit - 1].pk)
    return page, None
