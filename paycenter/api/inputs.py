"""The base of request-body serializers: JSON types as the schema states them.

DRF coerces: a CharField takes 12 for "12", an IntegerField "12" for 12, a BooleanField
"yes" for true. The schema says string, integer, boolean, so an app that sends anything
else gets a 400 naming the field instead of a guess.
"""

from collections.abc import Mapping

from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail

from paycenter.api.fields import CurrencyField

_JSON_TYPES: list[tuple[type[serializers.Field], str]] = [
    (serializers.BooleanField, "a boolean"),
    (serializers.IntegerField, "an integer"),
    (serializers.CharField, "a string"),
]


def _fits(field: serializers.Field, value: object) -> bool:
    if isinstance(field, serializers.BooleanField):
        return isinstance(value, bool)
    if isinstance(field, serializers.IntegerField):
        integral_float = isinstance(value, float) and value.is_integer()  # JSON Schema's integer too
        return (isinstance(value, int) and not isinstance(value, bool)) or integral_float
    return isinstance(value, str)


class JsonInput(serializers.Serializer):
    def to_internal_value(self, data: object) -> dict:
        if isinstance(data, Mapping):
            errors = {}
            for name, field in self.fields.items():
                value = data.get(name)
                if value is None or isinstance(field, CurrencyField):  # it reports its own type
                    continue
                what = next((what for kind, what in _JSON_TYPES if isinstance(field, kind)), None)
                if what is not None and not _fits(field, value):
                    errors[name] = [ErrorDetail(f"{name} must be {what}.", code="invalid")]
            if errors:
                raise serializers.ValidationError(errors)
        return super().to_internal_value(data)
