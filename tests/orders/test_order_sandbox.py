"""Orders paid through the sandbox platform over real HTTP: the split lands when the
channel's notification does, once; a success after the order closed is flagged, not applied."""

from datetime import timedelta

import pytest
import requests
from django.utils import timezone

from accounts.choices import AccountKind
from ledger.models import JournalEntry, Transaction
from orders.models import Order
from orders.services.lifecycle import order_paid, orders_close_expired
from tests.ledger.conftest import assert_ledger_clean
from tests.orders.test_order_flow import _balance, _place
from tests.waiting import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def _pay_by_sandbox(api, order, **behaviour):
    return api.post(
        f"/api/v1/orders/{order['id']}/pay",
        {"channel": "sandbox", "metadata": {"sandbox": {"outcome": "succeed", **behaviour}}},
    )


def test_an_order_paid_through_the_sandbox_is_split_when_the_notification_lands(api, mall, sandbox_channel):
    order = _place(api, [("novel", 1), ("oolong", 2)]).json()
    paid = _pay_by_sandbox(api, order, delay_ms=100, notify_times=3)
    assert paid.status_code == 201 and paid.json()["status"] == "pending", paid.json()

    wait_for(lambda: Order.objects.get(serial=order["id"]).status == "paid", timeout=15)
    payment = Transaction.objects.get(serial=paid.json()["id"])
    wait_for(
        lambda: payment.metadata is not None and Transaction.objects.get(pk=payment.pk).status == "succeeded"
    )
    assert JournalEntry.objects.filter(transaction=payment).count() == 1  # three notifications, one entry
    assert _balance(mall.books) == 30_00 - 30_00 * 500 // 10_000
    assert _balance(mall.tea) == 96_00 - 96_00 * 800 // 10_000
    assert _balance(kind=AccountKind.CHANNEL_CLEARING) == -126_00
    assert_ledger_clean()


def test_a_success_after_the_order_closed_is_flagged_not_applied(
    api, mall, sandbox_channel, receiver, live_server, settings
):
    settings.PAYCENTER_PUBLIC_URL = receiver.url.split("/notify/")[0]
    order = _place(api, [("atlas", 1)]).json()
    paid = _pay_by_sandbox(api, order, delay_ms=200).json()
    [genuine] = receiver.wait_for(1)  # the platform took the money; its word has not reached us
    # The payment was closed on our side first (a race the sandbox cannot stage by itself).
    Transaction.objects.filter(serial=paid["id"]).update(status="closed", finished_at=timezone.now())
    assert orders_close_expired(now=timezone.now() + timedelta(hours=1)) == 1

    headers = {
        k: v for k, v in genuine.headers.items() if k.lower().startswith(("x-sandbox", "content-type"))
    }
    reply = requests.post(
        f"{live_server.url}/notify/sandbox/{sandbox_channel.pk}",
        data=genuine.body,
        headers=headers,
        timeout=5,
    )

    assert reply.status_code == 200
    payment = Transaction.objects.get(serial=paid["id"])
    assert payment.status == "closed" and payment.review_reason.startswith("late_success")
    assert Order.objects.get(serial=order["id"]).status == "closed"
    assert not JournalEntry.objects.filter(transaction=payment).exists()


def test_a_paid_event_for_an_order_given_up_meanwhile_flags_the_payment(api, mall, buyer, onboarded):
    order = _place(api, [("atlas", 1)]).json()
    orders_close_expired(now=timezone.now() + timedelta(hours=1))
    _, app, _ = onboarded
    other = Transaction.objects.filter(kind="payment").first()
    assert other is None  # nothing was paid; stage the race with a payment made aside
    paid = api.post(
        "/api/v1/payments",
        {
            "out_trade_no": "aside-1",
            "amount": "1.00",
            "subject": "x",
            "channel": "balance",
            "payer_account_id": buyer.pk,
        },
    ).json()
    payment = Transaction.objects.get(serial=paid["id"])

    assert order_paid(app_id=app.pk, order_serial=order["id"], payment_id=payment.pk, now=timezone.now()) == (
        "late_success"
    )
    payment.refresh_from_db()
    assert payment.review_reason.startswith("late_success")
    assert Order.objects.get(serial=order["id"]).status == "closed"
