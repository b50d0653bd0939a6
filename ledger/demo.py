"""Gives the demo customer's wallet a balance: a platform-funded adjustment, as finance
would post one (an app cannot credit a wallet without a channel confirming the money)."""

from django.conf import settings

from ledger.services.adjustments import adjustment_propose
from paycenter.demo import register
from paycenter.money import format_minor, parse_minor

DEMO_WALLET_BALANCE = "1000.00"


@register(order=20, name="ledger")
def seed(context: dict) -> None:
    wallet = context["wallet"]
    wallet.refresh_from_db()
    currency = settings.PAYCENTER_DEFAULT_CURRENCY
    if wallet.total_minor == 0:
        adjustment_propose(
            account_id=wallet.pk,
            amount_minor=parse_minor(DEMO_WALLET_BALANCE, currency),
            currency=currency,
            reason="demo funds",
            actor="seed_demo",
            now=context["now"],
        )
        wallet.refresh_from_db()
    context.setdefault("notes", []).append(
        f"wallet {wallet.pk} balance: {format_minor(wallet.total_minor, currency)} {currency}"
    )
