"""What can be ordered: products of seller merchants, their SKUs, price tiers by quantity,
and stock per SKU and warehouse. A marketplace merchant's apps order every active seller's
products; any merchant's apps order its own."""

from django.db import models
from django.db.models import F, Q
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from accounts.models import Merchant
from orders.choices import ProductStatus

P = ProductStatus


class MarketplaceSeller(models.Model):
    """A seller selling through a marketplace, and the commission the platform takes on it."""

    marketplace = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="marketplace_sellers")
    seller = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="marketplaces")
    commission_bps = models.PositiveIntegerField(
        default=0, help_text="the platform's commission in basis points of the seller's share (500 = 5%)"
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["marketplace_id", "seller_id"]
        constraints = [
            models.UniqueConstraint(fields=["marketplace", "seller"], name="marketplaceseller_unique"),
            models.CheckConstraint(condition=~Q(marketplace=F("seller")), name="marketplaceseller_not_self"),
            models.CheckConstraint(condition=Q(commission_bps__lte=10000), name="marketplaceseller_rate"),
        ]

    def __str__(self) -> str:
        return f"{self.seller} on {self.marketplace}"


class Warehouse(models.Model):
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="warehouses")
    code = models.CharField(max_length=32)
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["merchant_id", "code"]
        constraints = [models.UniqueConstraint(fields=["merchant", "code"], name="warehouse_unique_code")]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class Product(ConcurrentTransitionMixin, models.Model):
    seller = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="products")
    name = models.CharField(max_length=200)
    category = models.CharField(max_length=64, db_index=True)
    description = models.TextField(blank=True)
    status = FSMField(max_length=16, choices=P.choices, default=P.DRAFT)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name

    @transition(field=status, source=[P.DRAFT, P.DELISTED], target=P.ACTIVE)
    def activate(self) -> None:
        """On sale: apps see it and may order it."""

    @transition(field=status, source=P.ACTIVE, target=P.DELISTED)
    def delist(self) -> None:
        """Off sale; orders already placed go on."""


class Sku(models.Model):
    """One orderable specification of a product (size, colour…), by a code unique everywhere."""

    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="skus")
    code = models.CharField(max_length=64, unique=True)
    attributes = models.JSONField(default=dict, blank=True)
    currency = models.CharField(max_length=3, default="CNY")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["id"]
        verbose_name = "SKU"

    def __str__(self) -> str:
        return self.code


class PriceTier(models.Model):
    """The unit price from `min_quantity` units on; every SKU has a tier from 1."""

    sku = models.ForeignKey(Sku, on_delete=models.CASCADE, related_name="price_tiers")
    min_quantity = models.PositiveIntegerField()
    unit_price_minor = models.BigIntegerField()

    class Meta:
        ordering = ["sku_id", "min_quantity"]
        constraints = [
            models.UniqueConstraint(fields=["sku", "min_quantity"], name="pricetier_unique_quantity"),
            models.CheckConstraint(condition=Q(min_quantity__gte=1), name="pricetier_quantity_positive"),
            models.CheckConstraint(condition=Q(unit_price_minor__gt=0), name="pricetier_price_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.sku} from {self.min_quantity}"


class Stock(models.Model):
    """Units of a SKU in a warehouse. `reserved` units are promised to unpaid orders; the
    database keeps available (on_hand - reserved) from going negative whatever runs at once."""

    sku = models.ForeignKey(Sku, on_delete=models.PROTECT, related_name="stocks")
    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="stocks")
    on_hand = models.BigIntegerField(default=0)
    reserved = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["sku_id", "warehouse_id"]
        constraints = [
            models.UniqueConstraint(fields=["sku", "warehouse"], name="stock_unique_sku_warehouse"),
            models.CheckConstraint(condition=Q(reserved__gte=0), name="stock_reserved_not_negative"),
            models.CheckConstraint(
                condition=Q(reserved__lte=F("on_hand")), name="stock_available_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.sku} @ {self.warehouse.code}"

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved
