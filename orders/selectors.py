"""Who may order what: an app orders its own merchant's products and, when its merchant is a
marketplace, every active seller's."""

from django.db.models import Q, QuerySet

from orders.choices import ProductStatus
from orders.models import MarketplaceSeller, Sku


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
