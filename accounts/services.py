"""Onboarding and account opening. Balances are never changed here: only ledger postings
change them."""

import ipaddress
import secrets
from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django_fsm import TransitionNotAllowed

from accounts import locks
from accounts.choices import AccountKind, MerchantStatus
from accounts.models import Account, Customer, Merchant, MerchantApp
from paycenter.audit import audit_record
from paycenter.errors import Conflict, InvalidRequest
from paycenter.money import currency_exponent
from paycenter.netguard import notify_url_check

MERCHANT_TRANSITIONS = ("activate", "suspend", "reinstate", "close")


class TransitionRefused(Conflict):
    code = "invalid_state"


def allowlist_check(ip_allowlist: str) -> str:
    for entry in ip_allowlist.replace(",", "\n").splitlines():
        if entry.strip():
            try:
                ipaddress.ip_network(entry.strip(), strict=False)
            except ValueError:
                raise InvalidRequest(
                    f"{entry.strip()!r} is not an address or network.", field="ip_allowlist"
                ) from None
    return ip_allowlist.strip()


@transaction.atomic
def merchant_create(*, name: str, contact_email: str = "", actor: str, now: datetime) -> Merchant:
    if not name.strip():
        raise InvalidRequest("A merchant needs a name.", field="name")
    merchant = Merchant.objects.create(name=name.strip(), contact_email=contact_email, created_at=now)
    account_get_or_open(
        kind=AccountKind.MERCHANT_SETTLEMENT,
        currency=settings.PAYCENTER_DEFAULT_CURRENCY,
        merchant=merchant,
        buffered=True,
        now=now,
    )
    audit_record(
        actor=actor, action="merchant.create", target=merchant, now=now, data={"name": merchant.name}
    )
    return merchant


@transaction.atomic
def merchant_update_contact(*, merchant_id: int, contact_email: str, actor: str, now: datetime) -> Merchant:
    merchant = locks.merchant_for_update(merchant_id=merchant_id)
    if merchant.contact_email != contact_email:
        audit_record(
            actor=actor,
            action="merchant.update_contact",
            target=merchant,
            now=now,
            data={"from": merchant.contact_email, "to": contact_email},
        )
        merchant.contact_email = contact_email
        merchant.save(update_fields=["contact_email"])
    return merchant


@transaction.atomic
def merchant_transition(*, merchant_id: int, transition: str, actor: str, now: datetime) -> Merchant:
    """Run one onboarding transition under a row lock; a stale or invalid one is refused."""
    if transition not in MERCHANT_TRANSITIONS:
        raise InvalidRequest(f"Unknown transition {transition!r}.")
    merchant = locks.merchant_for_update(merchant_id=merchant_id)
    before = merchant.status
    try:
        getattr(merchant, transition)()
    except TransitionNotAllowed:
        raise TransitionRefused(f"A merchant that is {before} cannot {transition}.") from None
    merchant.save()
    audit_record(
        actor=actor,
        action=f"merchant.{transition}",
        target=merchant,
        now=now,
        data={"from": before, "to": merchant.status},
    )
    return merchant


@transaction.atomic
def app_create(
    *,
    merchant_id: int,
    name: str,
    notify_url: str = "",
    ip_allowlist: str = "",
    actor: str,
    now: datetime,
) -> tuple[MerchantApp, str]:
    """The new app and its secret in plain text — the only time anyone sees it."""
    merchant = locks.merchant_for_update(merchant_id=merchant_id)
    if merchant.status == MerchantStatus.CLOSED:
        raise TransitionRefused("A closed merchant cannot get new apps.")
    if notify_url:
        notify_url_check(notify_url)
    secret = secrets.token_urlsafe(32)
    app = MerchantApp.objects.create(
        merchant=merchant,
        app_id=f"app_{secrets.token_hex(8)}",
        name=name.strip() or merchant.name,
        secret=secret,
        notify_url=notify_url,
        ip_allowlist=allowlist_check(ip_allowlist),
        created_at=now,
    )
    audit_record(actor=actor, action="app.create", target=app, now=now, data={"app_id": app.app_id})
    return app, secret


@transaction.atomic
def app_update(
    *,
    app_pk: int,
    name: str,
    notify_url: str,
    ip_allowlist: str,
    enabled: bool,
    actor: str,
    now: datetime,
) -> MerchantApp:
    app = locks.app_for_update(app_pk=app_pk)
    if notify_url:
        notify_url_check(notify_url)
    changes = {}
    for field, value in (
        ("name", name.strip()),
        ("notify_url", notify_url),
        ("ip_allowlist", allowlist_check(ip_allowlist)),
        ("enabled", enabled),
    ):
        if getattr(app, field) != value:
            changes[field] = {"from": getattr(app, field), "to": value}
            setattr(app, field, value)
    if changes:
        app.save(update_fields=[*changes])
        audit_record(actor=actor, action="app.update", target=app, now=now, data=changes)
    return app


@transaction.atomic
def app_secret_rotate(*, app_pk: int, actor: str, now: datetime) -> str:
    """A new secret for the app, in plain text — the only time anyone sees it. The old one
    stops working within PAYCENTER_HOT_CACHE_SECONDS (workers keep credentials that long)."""
    app = locks.app_for_update(app_pk=app_pk)
    secret = secrets.token_urlsafe(32)
    app.secret = secret
    app.save(update_fields=["secret"])
    audit_record(actor=actor, action="app.rotate_secret", target=app, now=now, data={"app_id": app.app_id})
    return secret


def merchant_onboard(
    *, name: str, notify_url: str = "", actor: str, now: datetime
) -> tuple[Merchant, MerchantApp, str]:
    """Scripted onboarding: an active merchant with one app, in one transaction."""
    with transaction.atomic():
        merchant = merchant_create(name=name, actor=actor, now=now)
        merchant = merchant_transition(merchant_id=merchant.pk, transition="activate", actor=actor, now=now)
        app, secret = app_create(
            merchant_id=merchant.pk, name=name, notify_url=notify_url, actor=actor, now=now
        )
    return merchant, app, secret


def customer_get_or_create(
    *, merchant_id: int, external_id: str, name: str = "", currency: str | None = None, now: datetime
) -> tuple[Customer, bool]:
    """The merchant's customer with this external id and a wallet in `currency`; created
    when new."""
    currency = currency or settings.PAYCENTER_DEFAULT_CURRENCY
    currency_exponent(currency)
    existing = Customer.objects.filter(merchant_id=merchant_id, external_id=external_id).first()
    if existing is not None:
        _wallet_open(customer=existing, currency=currency, now=now)
        return existing, False
    try:
        with transaction.atomic():
            customer = Customer.objects.create(
                merchant_id=merchant_id, external_id=external_id, name=name, created_at=now
            )
            _wallet_open(customer=customer, currency=currency, now=now)
    except IntegrityError:
        # Another request created it first; the unique constraint decided.
        return Customer.objects.get(merchant_id=merchant_id, external_id=external_id), False
    return customer, True


def _wallet_open(*, customer: Customer, currency: str, now: datetime) -> Account:
    return account_get_or_open(
        kind=AccountKind.CUSTOMER_WALLET,
        currency=currency,
        merchant_id=customer.merchant_id,
        customer=customer,
        now=now,
    )


def account_get_or_open(
    *,
    kind: str,
    currency: str,
    merchant: Merchant | None = None,
    merchant_id: int | None = None,
    customer: Customer | None = None,
    allow_overdraft: bool = False,
    buffered: bool = False,
    now: datetime,
) -> Account:
    """The account of this owner, kind and currency; opened (empty) when missing."""
    currency_exponent(currency)
    merchant_id = merchant.pk if merchant is not None else merchant_id
    lookup = {"kind": kind, "currency": currency, "merchant_id": merchant_id, "customer": customer}
    account = Account.objects.filter(**lookup).first()
    if account is not None:
        return account
    try:
        with transaction.atomic():
            return Account.objects.create(
                **lookup, allow_overdraft=allow_overdraft, buffered=buffered, created_at=now
            )
    except IntegrityError:
        return Account.objects.get(**lookup)


PLATFORM_KINDS = {
    AccountKind.PLATFORM_REVENUE,
    AccountKind.CHANNEL_CLEARING,
    AccountKind.PLATFORM_FUNDING,
    AccountKind.COUPON_SUBSIDY,
    AccountKind.CHANNEL_FEES,
}
OVERDRAWN_PLATFORM_KINDS = {
    AccountKind.CHANNEL_CLEARING,
    AccountKind.PLATFORM_FUNDING,
    AccountKind.COUPON_SUBSIDY,
    AccountKind.CHANNEL_FEES,  # a day of refunds can give back more fees than it took
}


def platform_account_get_or_open(*, kind: str, currency: str, now: datetime) -> Account:
    """The platform's own account of a kind (clearing, revenue, funding, coupon subsidy,
    channel fees), opened on first use. The coupon subsidy account goes negative by what the platform's
    coupons have cost it, as funding does by what the platform has put in."""
    if kind not in PLATFORM_KINDS:
        raise InvalidRequest(f"{kind} is not a platform account kind.")
    return account_get_or_open(
        kind=kind,
        currency=currency,
        allow_overdraft=kind in OVERDRAWN_PLATFORM_KINDS,
        buffered=True,
        now=now,
    )
