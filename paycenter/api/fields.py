"""Serializer fields for money: decimal strings in, decimal strings out, never floats."""

from decimal import Decimal

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from paycenter.errors import PaycenterError
from paycenter.money import currency_exponent, format_minor, parse_amount


@extend_schema_field({"type": "string", "enum": list(settings.CURRENCIES), "example": "CNY"})
class CurrencyField(serializers.CharField):
    def __init__(self, **kwargs: object) -> None:
        kwargs.setdefault("max_length", 3)
        kwargs.setdefault("min_length", 3)
        kwargs.setdefault("default", settings.PAYCENTER_DEFAULT_CURRENCY)
        super().__init__(**kwargs)

    def run_validation(self, data: object = serializers.empty) -> object:
        if data is None and not self.allow_null:
            raise serializers.ValidationError("currency may not be null.", code="invalid_currency")
        return super().run_validation(data)

    def to_internal_value(self, data: object) -> str:
        if not isinstance(data, str):  # CharField would take 1 for "1"
            raise serializers.ValidationError(
                'A currency is an ISO 4217 code such as "CNY".', code="invalid_currency"
            )
        currency = data.upper()
        if currency not in settings.CURRENCIES:
            raise serializers.ValidationError(
                f"Unsupported currency {currency[:8]!r}.", code="invalid_currency"
            )
        try:
            currency_exponent(currency)
        except PaycenterError as exc:
            raise serializers.ValidationError(exc.message, code=exc.code) from None
        return currency


_AMOUNT_SCHEMA = {"type": "string", "pattern": r"^(0|[1-9][0-9]*)(\.[0-9]+)?$", "example": "12.30"}


@extend_schema_field(_AMOUNT_SCHEMA)
class AmountField(serializers.Field):
    """A decimal string in major units → an exact Decimal. When the body names a currency
    the decimals are checked against it here; otherwise the caller converts with
    `paycenter.money.to_minor(amount, currency, field=...)` once it knows the currency."""

    def __init__(
        self, *, currency_field: str = "currency", allow_zero: bool = False, **kwargs: object
    ) -> None:
        self.currency_field = currency_field
        self.allow_zero = allow_zero
        kwargs["write_only"] = True
        super().__init__(**kwargs)

    def to_internal_value(self, data: object) -> Decimal:
        initial = getattr(self.parent, "initial_data", None) or {}
        currency = initial.get(self.currency_field) if isinstance(initial, dict) else None
        if not isinstance(currency, str) or currency.upper() not in settings.CURRENCIES:
            currency = None  # a bad one is the currency field's error, not this one's
        try:
            return parse_amount(
                data,
                currency.upper() if currency else None,
                field=self.field_name,
                allow_zero=self.allow_zero,
            )
        except PaycenterError as exc:
            raise serializers.ValidationError(exc.message, code=exc.code) from None

    def to_representation(self, value: object) -> str:
        raise NotImplementedError("AmountField is for input; output uses MoneyAmountField")


@extend_schema_field(_AMOUNT_SCHEMA)
class MoneyAmountField(serializers.Field):
    """Reads a `*_minor` attribute and writes it as a decimal string in `instance.currency`."""

    def __init__(self, *, currency_attr: str = "currency", **kwargs: object) -> None:
        self.currency_attr = currency_attr
        kwargs["read_only"] = True
        super().__init__(**kwargs)

    def get_attribute(self, instance: object) -> tuple[int, str]:
        return super().get_attribute(instance), getattr(instance, self.currency_attr)

    def to_representation(self, value: tuple[int, str]) -> str:
        units, currency = value
        return format_minor(units, currency)
