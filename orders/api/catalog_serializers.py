from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from orders.models import PriceTier, Product, Sku
from orders.selectors import PRODUCTS_PAGE, PRODUCTS_PAGE_MAX
from orders.services.catalog import CODE
from paycenter.money import format_minor


class ProductQuery(serializers.Serializer):
    merchant_id = serializers.IntegerField(
        required=False, min_value=1, max_value=2**63 - 1, help_text="only this seller's products"
    )
    category = serializers.RegexField(rf"^{CODE.pattern}\Z", required=False, max_length=64)
    cursor = serializers.CharField(required=False, max_length=64)
    limit = serializers.IntegerField(min_value=1, max_value=PRODUCTS_PAGE_MAX, default=PRODUCTS_PAGE)


class PriceTierOutput(serializers.ModelSerializer):
    unit_price = serializers.SerializerMethodField()

    class Meta:
        model = PriceTier
        fields = ["min_quantity", "unit_price"]

    @extend_schema_field(OpenApiTypes.STR)
    def get_unit_price(self, tier: PriceTier) -> str:
        # The tier came prefetched from its SKU, which is cached on it: no query.
        return format_minor(tier.unit_price_minor, tier.sku.currency)


class SkuOutput(serializers.ModelSerializer):
    sku = serializers.CharField(source="code")
    price_tiers = PriceTierOutput(many=True)
    available_stock = serializers.IntegerField(help_text="units on hand not reserved, over all warehouses")

    class Meta:
        model = Sku
        fields = ["sku", "attributes", "currency", "price_tiers", "available_stock"]


class ProductOutput(serializers.ModelSerializer):
    merchant_id = serializers.IntegerField(source="seller_id", help_text="the seller")
    skus = SkuOutput(many=True, source="orderable_skus")

    class Meta:
        model = Product
        fields = ["id", "name", "category", "description", "merchant_id", "status", "skus"]


class ProductListOutput(serializers.Serializer):
    products = ProductOutput(many=True)
    next_cursor = serializers.CharField(allow_null=True)
