from rest_framework import serializers

from accounts.api.serializers import account_owner
from channels.choices import Method
from ledger.api.payment_serializers import ORDER_NUMBER, ChannelField, metadata_check
from ledger.models import Posting
from paycenter.api.fields import AmountField, CurrencyField, MoneyAmountField
from paycenter.api.inputs import JsonInput


class BalanceOutput(serializers.Serializer):
    id = serializers.IntegerField(source="account.pk")
    owner = serializers.SerializerMethodField()
    kind = serializers.CharField(source="account.kind")
    currency = serializers.CharField()
    total = MoneyAmountField(source="total_minor")
    available = MoneyAmountField(source="available_minor")
    frozen = MoneyAmountField(source="frozen_minor")
    status = serializers.CharField()

    def get_owner(self, balance: object) -> dict:
        return account_owner(balance.account)


class StatementQuery(serializers.Serializer):
    # `from`/`to` are Python keywords; the API names win (see StatementQuery.to_internal_value).
    start = serializers.DateTimeField(required=False)
    end = serializers.DateTimeField(required=False)
    cursor = serializers.CharField(required=False, max_length=64)
    limit = serializers.IntegerField(min_value=1, max_value=200, default=50)

    def to_internal_value(self, data: object) -> dict:
        renamed = {{"from": "start", "to": "end"}.get(key, key): value for key, value in data.items()}
        try:
            return super().to_internal_value(renamed)
        except serializers.ValidationError as exc:
            exc.detail = {{"start": "from", "end": "to"}.get(k, k): v for k, v in exc.detail.items()}
            raise


class StatementLineOutput(serializers.ModelSerializer):
    amount = MoneyAmountField(source="amount_minor")
    balance_after = MoneyAmountField(source="balance_after_minor")
    reason = serializers.CharField(source="entry.reason")
    transaction_id = serializers.CharField(source="entry.transaction.serial")

    class Meta:
        model = Posting
        fields = ["id", "created_at", "amount", "direction", "balance_after", "reason", "transaction_id"]


class StatementOutput(serializers.Serializer):
    lines = StatementLineOutput(many=True)
    next_cursor = serializers.CharField(allow_null=True)


class RechargeInput(JsonInput):
    """Money into an account through a payment channel; credited when the channel confirms."""

    account_id = serializers.IntegerField()
    amount = AmountField()
    currency = CurrencyField(default=None, allow_null=True)
    channel = ChannelField(default=None, allow_null=True, help_text="omitted: routing picks one")
    method = serializers.ChoiceField(choices=Method.choices, required=False, allow_null=True, default=None)
    out_trade_no = serializers.RegexField(ORDER_NUMBER, max_length=64, default=None, allow_null=True)
    subject = serializers.CharField(max_length=255, default="Recharge")
    expire_seconds = serializers.IntegerField(min_value=60, max_value=7 * 24 * 3600, default=900)
    metadata = serializers.DictField(default=dict)

    def validate_metadata(self, value: object) -> dict:
        return metadata_check(value)


class WithdrawalInput(JsonInput):
    account_id = serializers.IntegerField()
    amount = AmountField()
    currency = CurrencyField(default=None, allow_null=True)
    destination = serializers.DictField(help_text='where to pay: e.g. {"type": "bank", "account": "…"}')

    def validate_destination(self, value: object) -> dict:
        if not isinstance(value, dict) or not value or len(str(value)) > 2000:
            raise serializers.ValidationError("destination is a non-empty object.")
        return value


class TransferInput(JsonInput):
    from_account_id = serializers.IntegerField()
    to_account_id = serializers.IntegerField()
    amount = AmountField()
    currency = CurrencyField(default=None, allow_null=True)
    memo = serializers.CharField(max_length=255, default="", allow_blank=True)


class TransactionOutput(serializers.Serializer):
    """Described for the schema; views return ledger.representations.transaction_data."""

    id = serializers.CharField()
    kind = serializers.CharField()
    status = serializers.CharField()
    amount = serializers.CharField()
    currency = serializers.CharField()
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    # The rest depend on the kind (ledger.representations.transaction_data).
    account_id = serializers.IntegerField(required=False, help_text="withdrawals and recharges")
    destination = serializers.JSONField(required=False, help_text="withdrawals")
    from_account_id = serializers.IntegerField(required=False, help_text="transfers")
    to_account_id = serializers.IntegerField(required=False, help_text="transfers")
    memo = serializers.CharField(required=False, help_text="transfers")
    out_trade_no = serializers.CharField(required=False, allow_null=True, help_text="recharges")
    channel_trade_no = serializers.CharField(required=False, allow_null=True, help_text="recharges")
    channel = serializers.CharField(required=False, help_text="recharges")
    method = serializers.CharField(required=False, allow_null=True, help_text="recharges")
    action = serializers.JSONField(required=False, help_text="recharges")
    paid_at = serializers.DateTimeField(required=False, allow_null=True, help_text="recharges")
    channel_state = serializers.CharField(
        required=False, allow_null=True, help_text="recharges: the channel's last known state"
    )
    metadata = serializers.JSONField(required=False, help_text="recharges")
    failure_reason = serializers.CharField(required=False, allow_null=True, help_text="recharges")
    expires_at = serializers.DateTimeField(required=False, allow_null=True, help_text="recharges")
