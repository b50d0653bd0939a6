"""Small helpers shared by the admin classes of every app."""

from collections.abc import Callable

from django.contrib import admin
from django.http import HttpRequest

from paycenter.money import format_minor


def amount_column(
    field: str, label: str, *, currency_attr: str = "currency"
) -> Callable[[admin.ModelAdmin, object], str]:
    """A list/detail column showing a `*_minor` field as a decimal amount; assign it as a
    ModelAdmin class attribute."""

    @admin.display(description=label, ordering=field)
    def show(model_admin: admin.ModelAdmin, obj: object) -> str:
        value = getattr(obj, field)
        return "" if value is None else format_minor(value, getattr(obj, currency_attr))

    return show


class ReadOnlyAdmin(admin.ModelAdmin):
    """For records that only services write: ledger rows, logs, audit."""

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
