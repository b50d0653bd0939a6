import json

from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from rest_framework import serializers

from channels import registry
from channels.choices import ChannelState, Method
from paycenter.api.fields import AmountField, CurrencyField
from paycenter.api.inputs import JsonInput
from paycenter.errors import Unprocessable


class NotSupported(Unprocessable):
    code = "not_supported"


# The app's own numbers (out_trade_no, out_refund_no): what channels accept in theirs.
ORDER_NUMBER = r"^[A-Za-z0-9_\-.:]{1,64}$"


class ChannelField(serializers.CharField):
    """The name of a registered channel plugin. docs/api.md names a channel (quickpay) that
    has no plugin yet: it is 422 channel_unavailable until one registers."""

    def __init__(self, **kwargs: object) -> None:
        kwargs.setdefault("max_length", 32)
        super().__init__(**kwargs)

    def to_internal_value(self, data: object) -> str:
        name = super().to_internal_value(data)
        registry.plugin_for(name)  # raises ChannelUnavailable, 422 channel_unavailable
        return name


class ChannelFieldSchema(OpenApiSerializerFieldExtension):
    target_class = ChannelField

    def map_serializer_field(self, auto_schema: object, direction: str) -> dict:
        return {"type": "string", "enum": registry.names(), "description": "a registered channel"}


def metadata_check(value: object) -> dict:
    if not isinstance(value, dict):
        raise serializers.ValidationError("metadata is an object.")
    if len(json.dumps(value)) > 4096:
        raise serializers.ValidationError("metadata is at most 4 KB of JSON.")
    sandbox = value.get("sandbox")
    if sandbox is not None and not isinstance(sandbox, dict):
        raise serializers.ValidationError("metadata.sandbox is an object.")
    return value


class PayerInput(JsonInput):
    """How a payment is paid: what a payment's body and an order's payment body share."""

    channel = ChannelField(required=False, allow_null=True, default=None)
    method = serializers.ChoiceField(choices=Method.choices, required=False, allow_null=True, default=None)
    payer_account_id = serializers.IntegerField(required=False, allow_null=True, default=None)
    expire_seconds = serializers.IntegerField(min_value=60, max_value=7 * 24 * 3600, default=900)
    metadata = serializers.DictField(default=dict)

    def validate_metadata(self, value: object) -> dict:
        return metadata_check(value)

    def validate(self, data: dict) -> dict:
        if data["channel"] == "balance" or data["method"] == Method.BALANCE:
            data["channel"], data["method"] = "balance", Method.BALANCE
            if data["payer_account_id"] is None:
                raise serializers.ValidationError(
                    {"payer_account_id": "Balance payments need the payer's account."}
                )
        return data


class PaymentInput(PayerInput):
    out_trade_no = serializers.RegexField(ORDER_NUMBER, max_length=64)
    amount = AmountField()
    currency = CurrencyField()
    subject = serializers.CharField(max_length=255)
    capture = serializers.BooleanField(default=True)

    def validate(self, data: dict) -> dict:
        for unsupported in ("splits", "agreement_id"):
            if self.initial_data.get(unsupported) not in (None, [], ""):
                # Silently ignoring them would take money the app meant to split.
                raise NotSupported(f"{unsupported} is not supported yet.", field=unsupported)
        return super().validate(data)


class CaptureInput(JsonInput):
    amount = AmountField(required=False)


class RefundInput(JsonInput):
    amount = AmountField()
    reason = serializers.CharField(max_length=255, required=False, default="", allow_blank=True)
    out_refund_no = serializers.RegexField(ORDER_NUMBER, required=False, default=None, allow_null=True)
    metadata = serializers.DictField(default=dict)

    def validate_metadata(self, value: object) -> dict:
        return metadata_check(value)


class PaymentOutput(serializers.Serializer):
    """Described for the schema; views return ledger.representations.payment_data (a test
    holds the two to the same fields)."""

    id = serializers.CharField()
    out_trade_no = serializers.CharField()
    channel_trade_no = serializers.CharField(allow_null=True)
    status = serializers.ChoiceField(
        choices=["pending", "authorized", "succeeded", "failed", "closed", "partially_refunded", "refunded"]
    )
    amount = serializers.CharField()
    currency = serializers.CharField()
    refunded_amount = serializers.CharField()
    captured_amount = serializers.CharField(
        allow_null=True, help_text="set once an authorization is captured"
    )
    channel = serializers.CharField()
    method = serializers.CharField()
    channel_state = serializers.ChoiceField(
        choices=ChannelState.choices, allow_null=True, help_text="what the channel last said, normalized"
    )
    action = serializers.JSONField()
    subject = serializers.CharField()
    metadata = serializers.JSONField()
    failure_reason = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField(allow_null=True)
    paid_at = serializers.DateTimeField(allow_null=True)


class RefundOutput(serializers.Serializer):
    id = serializers.CharField()
    payment_id = serializers.CharField()
    out_refund_no = serializers.CharField(allow_null=True)
    amount = serializers.CharField()
    currency = serializers.CharField()
    status = serializers.ChoiceField(choices=["pending", "succeeded", "failed"])
    reason = serializers.CharField()
    channel_refund_no = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
