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
