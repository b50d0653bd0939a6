"""Catalog spreadsheets for the admin (django-import-export): products one row per SKU, and
stock one row per SKU and warehouse. A row is read here (formats: attributes as JSON, tiers
as "1:30.00;10:25.00") and written by one service, whose refusals become that row's errors
in the preview; a preview is rolled back whatever it did, and an import with any row error
imports nothing."""

import json

from django.core.exceptions import ValidationError
from django.db.models import F
from django.utils import timezone
from import_export import fields, resources

from orders.models import Sku, Stock, Warehouse
from orders.services.catalog import price_tiers_format, price_tiers_parse, stock_set
from orders.services.catalog_import import ProductRow, product_row_import
from paycenter.errors import PaycenterError

PRODUCT_COLUMNS = [
    "sku",
    "seller_id",
    "product",
    "category",
    "status",
    "currency",
    "attributes",
    "price_tiers",
]


def _refused(exc: PaycenterError, column: str) -> ValidationError:
    return ValidationError({exc.field if exc.field else column: f"{exc.code}: {exc.message}"})


class _ServiceResource(resources.ModelResource):
    """Rows go to a service, never to save(); the actor is the admin user importing."""

    def __init__(self, *, actor: str = "import", **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.actor = actor

    def import_instance(self, instance: object, row: dict, **kwargs: object) -> None:
        instance._row = self.row_read(row)

    def save_instance(self, instance: object, is_create: bool, row: dict, **kwargs: object) -> None:
        if not self._is_using_transactions(kwargs) and self._is_dry_run(kwargs):
            return  # no transaction to roll a preview back: check only
        saved = self.row_write(instance._row, timezone.now())
        instance.pk = saved.pk
        instance.refresh_from_db()

    def row_read(self, row: dict) -> object:
        raise NotImplementedError

    def row_write(self, parsed: object, now: object) -> object:
        raise NotImplementedError


class ProductResource(_ServiceResource):
    sku = fields.Field(attribute="code", column_name="sku")
    seller_id = fields.Field(column_name="seller_id")
    product = fields.Field(column_name="product")
    category = fields.Field(column_name="category")
    status = fields.Field(column_name="status")
    currency = fields.Field(attribute="currency", column_name="currency")
    attributes = fields.Field(column_name="attributes")
    price_tiers = fields.Field(column_name="price_tiers")

    class Meta:
        model = Sku
        import_id_fields = ["sku"]
        fields = PRODUCT_COLUMNS
        export_order = PRODUCT_COLUMNS

    def get_queryset(self):
        return Sku.objects.select_related("product").prefetch_related("price_tiers").order_by("id")

    def dehydrate_seller_id(self, sku: Sku) -> object:
        return sku.product.seller_id if sku.product_id else ""

    def dehydrate_product(self, sku: Sku) -> str:
        return sku.product.name if sku.product_id else ""

    def dehydrate_category(self, sku: Sku) -> str:
        return sku.product.category if sku.product_id else ""

    def dehydrate_status(self, sku: Sku) -> str:
        return sku.product.status if sku.product_id else ""

    def dehydrate_attributes(self, sku: Sku) -> str:
        return json.dumps(sku.attributes, ensure_ascii=False, sort_keys=True) if sku.pk else ""

    def dehydrate_price_tiers(self, sku: Sku) -> str:
        return price_tiers_format(sku.price_tiers.all(), sku.currency) if sku.pk else ""

    def row_read(self, row: dict) -> ProductRow:
        errors = {}
        seller = str(row.get("seller_id") or "").strip()
        if not seller.isdigit():
            errors["seller_id"] = "The seller's merchant id, a number."
        try:
            attributes = json.loads(str(row.get("attributes") or "{}"))
        except ValueError:
            errors["attributes"] = 'Attributes are a JSON object, e.g. {"size": "M"}.'
            attributes = {}
        currency = str(row.get("currency") or "CNY").strip().upper()
        try:
            tiers = price_tiers_parse(str(row.get("price_tiers") or ""), currency)
        except PaycenterError as exc:
            errors["price_tiers"] = f"{exc.code}: {exc.message}"
            tiers = []
        if errors:
            raise ValidationError(errors)
        return ProductRow(
            sku=str(row.get("sku") or "").strip(),
            seller_id=int(seller),
            product=str(row.get("product") or "").strip(),
            category=str(row.get("category") or "").strip(),
            status=str(row.get("status") or "").strip(),
            currency=currency,
            attributes=attributes,
            price_tiers=tiers,
        )

    def row_write(self, parsed: ProductRow, now: object) -> Sku:
        try:
            return product_row_import(row=parsed, actor=self.actor, now=now)
        except PaycenterError as exc:
            raise _refused(exc, "sku") from None


class StockResource(_ServiceResource):
    sku = fields.Field(column_name="sku")
    warehouse = fields.Field(column_name="warehouse")
    on_hand = fields.Field(attribute="on_hand", column_name="on_hand")
    reserved = fields.Field(attribute="reserved", column_name="reserved", readonly=True)
    available = fields.Field(column_name="available", readonly=True)

    class Meta:
        model = Stock
        import_id_fields = ["sku", "warehouse"]
        fields = ["sku", "warehouse", "on_hand", "reserved", "available"]
        export_order = ["sku", "warehouse", "on_hand", "reserved", "available"]

    def get_queryset(self):
        return Stock.objects.select_related("sku", "warehouse").order_by("sku_id", "warehouse_id")

    def get_instance(self, instance_loader: object, row: dict) -> Stock | None:
        return (
            Stock.objects.filter(
                sku__code=str(row.get("sku") or "").strip(),
                warehouse__code=str(row.get("warehouse") or "").strip(),
                warehouse__merchant_id=F("sku__product__seller_id"),
            ).first()
            if row.get("sku")
            else None
        )

    def dehydrate_sku(self, stock: Stock) -> str:
        return stock.sku.code if stock.sku_id else ""

    def dehydrate_warehouse(self, stock: Stock) -> str:
        return stock.warehouse.code if stock.warehouse_id else ""

    def dehydrate_available(self, stock: Stock) -> object:
        return stock.available if stock.pk else ""

    def row_read(self, row: dict) -> tuple[int, int, int]:
        code = str(row.get("sku") or "").strip()
        sku = Sku.objects.select_related("product").filter(code=code).first()
        if sku is None:
            raise ValidationError({"sku": f"Unknown SKU {code!r}."})
        warehouse_code = str(row.get("warehouse") or "").strip()
        warehouse = Warehouse.objects.filter(merchant_id=sku.product.seller_id, code=warehouse_code).first()
        if warehouse is None:
            raise ValidationError({"warehouse": f"The seller of {code} has no warehouse {warehouse_code!r}."})
        on_hand = str(row.get("on_hand") or "").strip()
        if not on_hand.isdigit():
            raise ValidationError({"on_hand": "Units on hand, a whole number from 0."})
        return sku.pk, warehouse.pk, int(on_hand)

    def row_write(self, parsed: tuple[int, int, int], now: object) -> Stock:
        sku_id, warehouse_id, on_hand = parsed
        try:
            return stock_set(
                sku_id=sku_id, warehouse_id=warehouse_id, on_hand=on_hand, actor=self.actor, now=now
            )
        except PaycenterError as exc:
            raise _refused(exc, "on_hand") from None
