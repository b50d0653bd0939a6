from rest_framework import serializers

from accounts.models import Account
from paycenter.api.fields import CurrencyField, MoneyAmountField
from paycenter.api.inputs import JsonInput


def account_owner(account: Account) -> dict:
    owner: dict = {"type": account.owner_type}
    if account.customer_id:
        owner.update(id=account.customer_id, external_id=account.customer.external_id)
    elif account.merchant_id:
        owner["id"] = account.merchant_id
    return owner


class AccountOutput(serializers.ModelSerializer):
    owner = serializers.SerializerMethodField()
    total = MoneyAmountField(source="total_minor")
    available = MoneyAmountField(source="available_minor")
    frozen = MoneyAmountField(source="frozen_minor")

    class Meta:
        model = Account
        fields = ["id", "owner", "kind", "currency", "total", "available", "frozen", "status"]

    def get_owner(self, account: Account) -> dict:
        return account_owner(account)


class CustomerInput(JsonInput):
    external_id = serializers.CharField(max_length=128, trim_whitespace=False)
    name = serializers.CharField(max_length=200, required=False, default="", allow_blank=True)
    currency = CurrencyField(required=False, help_text="currency of the wallet opened for a new customer")

    def validate_external_id(self, value: str) -> str:
        if not value.strip() or not value.isprintable():
            raise serializers.ValidationError("external_id must be printable and not blank.")
        return value


class CustomerOutput(serializers.Serializer):
    id = serializers.IntegerField()
    external_id = serializers.CharField()
    name = serializers.CharField()
    accounts = AccountOutput(many=True)
