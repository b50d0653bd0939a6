import pytest
from django.utils import timezone

from channels.services import merchant_channel_activate


@pytest.fixture
def balance_channel(merchant):
    return merchant_channel_activate(
        merchant_id=merchant.pk, channel="balance", actor="test", now=timezone.now()
    )


@pytest.fixture
def pay(api):
    """pay(amount, **fields) → the API's response to POST /payments."""
    counter = {"n": 0}

    def send(amount: str, *, key: str | None = None, **fields):
        counter["n"] += 1
        body = {
            "out_trade_no": fields.pop("out_trade_no", f"order-{counter['n']}"),
            "amount": amount,
            "subject": "Tea",
            **fields,
        }
        return api.post("/api/v1/payments", body, idempotency_key=key)

    return send


@pytest.fixture
def create_balance_payment(onboarded, balance_channel):
    """create_balance_payment(out_trade_no, payer=…, key=…) → payment_create called directly,
    below the HTTP layer and its Idempotency-Key claim."""
    from ledger.services.collect import PaymentRequest
    from ledger.services.payment_create import payment_create

    merchant, app, _ = onboarded

    def create(out_trade_no: str, *, payer, key: str | None, amount_minor: int = 1_00, now=None):
        request = PaymentRequest(
            out_trade_no=out_trade_no,
            amount_minor=amount_minor,
            currency="CNY",
            subject="Tea",
            channel="balance",
            payer_account_id=payer.pk,
        )
        return payment_create(
            app_id=app.pk,
            merchant_id=merchant.pk,
            request=request,
            idempotency_key=key,
            now=now or timezone.now(),
        )

    return create
