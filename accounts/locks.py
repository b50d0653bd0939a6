"""The row locks of accounts, always taken through here (order: merchant → app → account)."""

from accounts.models import Merchant, MerchantApp
from paycenter.errors import NotFound


def merchant_for_update(*, merchant_id: int) -> Merchant:
    merchant = Merchant.objects.select_for_update().filter(pk=merchant_id).first()
    if merchant is None:
        raise NotFound("No such merchant.")
    return merchant


def app_for_update(*, app_pk: int) -> MerchantApp:
    app = MerchantApp.objects.select_for_update().filter(pk=app_pk).first()
    if app is None:
        raise NotFound("No such app.")
    return app
