from accounts.choices import MerchantStatus
from accounts.models import Account, Customer, MerchantApp
from paycenter.api.auth import AppCredentials


def app_credentials_get(*, app_id: str) -> AppCredentials | None:
    """For request signing: None when there is no such app."""
    app = MerchantApp.objects.select_related("merchant").filter(app_id=app_id).first()
    if app is None:
        return None
    return AppCredentials(
        pk=app.pk,
        app_id=app.app_id,
        merchant_id=app.merchant_id,
        secret=app.secret,
        active=app.enabled and app.merchant.status == MerchantStatus.ACTIVE,
        ip_allowlist=app.allowlist_entries(),
    )


def customer_accounts(*, customer: Customer) -> list[Account]:
    return list(Account.objects.filter(customer=customer).order_by("id"))
