from rest_framework import serializers

from ledger.api.payment_serializers import PayerInput, metadata_check
from orders.choices import SplitBy
from paycenter.api.fields import AmountField
from paycenter.api.inputs import JsonInput

BUYER = r"^[^\x00-\x1f\x7f]{1,128}$"


class ItemInput(JsonInput):
    sku = serializers.CharField(max_length=64)
    quantity = serializers.IntegerField(min_value=1, max_value=10_000)


class OrderPreviewInput(JsonInput):
    buyer_external_id = serializers.RegexField(BUYER, required=False, allow_null=True, default=None)
    items = serializers.ListField(child=ItemInput(), min_length=1, max_length=50)
    coupon_ids = serializers.ListField(
        child=serializers.CharField(max_length=64), required=False, default=list, max_length=10
    )
    split_by = serializers.ChoiceField(choices=SplitBy.choices, required=False, default=SplitBy.MERCHANT)

    def validate(self, data: dict) -> dict:
        if data["coupon_ids"] and not data["buyer_external_id"]:
            raise serializers.ValidationError({"buyer_external_id": "Coupons belong to a buyer: name them."})
        return data


class OrderInput(OrderPreviewInput):
    buyer_external_id = serializers.RegexField(BUYER)
    address = serializers.DictField(required=False, default=dict)

    def validate_address(self, value: object) -> dict:
        return metadata_check(value)


class OrderPayInput(PayerInput):
    """A payment's body without amount and out_trade_no: the order has them."""

    subject = serializers.CharField(max_length=255, required=False, default="")


class OrderRefundInput(JsonInput):
    sub_order_id = serializers.CharField(max_length=48)
    lines = serializers.ListField(child=ItemInput(), required=False, default=None, max_length=50)
    amount = AmountField(required=False, default=None)
    reason = serializers.CharField(max_length=255, required=False, default="", allow_blank=True)


class LineOutput(serializers.Serializer):
    sku = serializers.CharField()
    product_id = serializers.IntegerField()
    quantity = serializers.IntegerField()
    unit_price = serializers.CharField()
    amount = serializers.CharField()
    discount = serializers.CharField()
    payable = serializers.CharField()
    refunded_quantity = serializers.IntegerField()


class SubOrderOutput(serializers.Serializer):
    id = serializers.CharField()
    merchant_id = serializers.IntegerField()
    warehouse = serializers.CharField(allow_null=True)
    category = serializers.CharField(allow_null=True)
    status = serializers.CharField()
    amount = serializers.CharField()
    discount = serializers.CharField()
    payable = serializers.CharField()
    refunded_amount = serializers.CharField()
    lines = LineOutput(many=True)


class OrderOutput(serializers.Serializer):
    """Described for the schema; views return orders.representations.order_data."""

    id = serializers.CharField()
    status = serializers.CharField()
    buyer_external_id = serializers.CharField()
    currency = serializers.CharField()
    split_by = serializers.CharField()
    total = serializers.CharField()
    discount = serializers.CharField()
    payable = serializers.CharField()
    refunded_amount = serializers.CharField()
    coupon_ids = serializers.ListField(child=serializers.CharField())
    payment_id = serializers.CharField(allow_null=True)
    sub_orders = SubOrderOutput(many=True)
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()
    paid_at = serializers.DateTimeField(allow_null=True)


class OrderRefundOutput(serializers.Serializer):
    id = serializers.CharField()
    order_id = serializers.CharField()
    sub_order_id = serializers.CharField()
    refund_id = serializers.CharField(allow_null=True, help_text="the ledger refund, GET /refunds/{id}")
    amount = serializers.CharField()
    status = serializers.CharField()
    reason = serializers.CharField()
