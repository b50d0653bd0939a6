"""The demo merchant, its app and a customer with a wallet, for the embedded default."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone

from accounts import services
from accounts.choices import AccountKind, MerchantStatus
from accounts.models import Account, Merchant, MerchantApp
from paycenter.demo import register

DEMO_MERCHANT = "Demo Shop"
DEMO_CUSTOMER = "demo-customer"
DEMO_ADMIN = ("admin", "admin")


@register(order=10, name="accounts")
def seed(context: dict) -> None:
    now = timezone.now()
    merchant = Merchant.objects.filter(name=DEMO_MERCHANT).order_by("id").first()
    if merchant is None:
        merchant, app, secret = services.merchant_onboard(name=DEMO_MERCHANT, actor="seed_demo", now=now)
    else:
        if merchant.status == MerchantStatus.APPLIED:
            services.merchant_transition(
                merchant_id=merchant.pk, transition="activate", actor="seed_demo", now=now
            )
        app = MerchantApp.objects.filter(merchant=merchant).order_by("id").first()
        if app is None:
            app, secret = services.app_create(
                merchant_id=merchant.pk, name=DEMO_MERCHANT, actor="seed_demo", now=now
            )
        # Demo only: a real app's secret is shown once and never again.
        secret = app.secret
    if settings.DEMO_NOTIFY_URL and app.notify_url != settings.DEMO_NOTIFY_URL:
        # `make run` starts a local receiver (manage.py webhook_receiver) that prints each webhook.
        app = services.app_update(
            app_pk=app.pk,
            name=app.name,
            notify_url=settings.DEMO_NOTIFY_URL,
            ip_allowlist=app.ip_allowlist,
            enabled=app.enabled,
            actor="seed_demo",
            now=now,
        )
    customer, _ = services.customer_get_or_create(merchant_id=merchant.pk, external_id=DEMO_CUSTOMER, now=now)
    wallet = Account.objects.get(
        customer=customer, kind=AccountKind.CUSTOMER_WALLET, currency=settings.PAYCENTER_DEFAULT_CURRENCY
    )

    user_model = get_user_model()
    username, password = DEMO_ADMIN
    if not user_model.objects.filter(username=username).exists():
        user_model.objects.create_superuser(username=username, email="", password=password)

    context.update(
        merchant_id=merchant.pk,
        app_id=app.app_id,
        secret=secret,
        customer=customer,
        wallet=wallet,
        now=now,
    )
    context.setdefault("notes", []).extend(
        [
            f"{DEMO_MERCHANT} (merchant {merchant.pk}, app {app.app_id}): customer {customer.external_id},"
            f" wallet account {wallet.pk}",
            f"admin: {settings.PAYCENTER_PUBLIC_URL}/admin/  login {username} / {password}",
            f"API docs: {settings.PAYCENTER_PUBLIC_URL}/api/docs/",
            f"webhooks: {app.notify_url or 'none (the demo app has no notify URL)'}",
        ]
    )
