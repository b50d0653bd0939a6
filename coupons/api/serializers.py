from rest_framework import serializers

from coupons.choices import CouponStatus
from coupons.models import BuyerCoupon
from coupons.representations import coupon_scope, coupon_terms
from paycenter.api.inputs import JsonInput


def _printable(value: str) -> str:
    if not value.strip() or not value.isprintable():
        raise serializers.ValidationError("Must be printable and not blank.")
    return value


class CouponClaimInput(JsonInput):
    batch_code = serializers.CharField(max_length=64, trim_whitespace=False, validators=[_printable])
    buyer_external_id = serializers.CharField(max_length=128, trim_whitespace=False, validators=[_printable])


class CouponListQuery(serializers.Serializer):
    buyer_external_id = serializers.CharField(max_length=128, trim_whitespace=False, validators=[_printable])
    status = serializers.ChoiceField(choices=CouponStatus.choices, required=False)
    cursor = serializers.CharField(required=False, max_length=64)
    limit = serializers.IntegerField(min_value=1, max_value=200, default=50)


class CouponScopeOutput(serializers.Serializer):
    type = serializers.ChoiceField(choices=["platform", "seller", "products", "categories"])
    seller_id = serializers.IntegerField(allow_null=True)
    product_ids = serializers.ListField(child=serializers.IntegerField(), allow_null=True)
    categories = serializers.ListField(child=serializers.CharField(), allow_null=True)


class CouponOutput(serializers.ModelSerializer):
    id = serializers.CharField(source="serial")
    batch_code = serializers.CharField(source="batch.code")
    name = serializers.CharField(source="batch.template.name")
    kind = serializers.CharField(source="batch.template.kind")
    funded_by = serializers.CharField(source="batch.template.funded_by")
    currency = serializers.CharField(source="batch.template.currency")
    terms = serializers.SerializerMethodField()
    scope = serializers.SerializerMethodField()
    order_id = serializers.SerializerMethodField(help_text="the order that locked or used it")

    class Meta:
        model = BuyerCoupon
        fields = [
            "id",
            "batch_code",
            "name",
            "kind",
            "funded_by",
            "status",
            "currency",
            "terms",
            "scope",
            "valid_from",
            "valid_until",
            "claimed_at",
            "order_id",
        ]

    def get_terms(self, coupon: BuyerCoupon) -> str:
        return coupon_terms(coupon.batch.template)

    def get_scope(self, coupon: BuyerCoupon) -> CouponScopeOutput:
        return CouponScopeOutput(coupon_scope(coupon.batch.template)).data

    def get_order_id(self, coupon: BuyerCoupon) -> str | None:
        return coupon.order_ref or None


class CouponListOutput(serializers.Serializer):
    coupons = CouponOutput(many=True)
    next_cursor = serializers.CharField(allow_null=True)
