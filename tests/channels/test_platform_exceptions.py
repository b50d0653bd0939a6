"""The D4 exception classes on Alipay and WeChat Pay as on the sandbox, each with a genuine,
signed notification from its fake over real HTTP: a payment the channel took after we
closed it is a late success, flagged and not posted; a notification for a payment we do not
know is recorded as such and changes nothing."""

import pytest
import requests
from django.utils import timezone

from channels.base import PaymentOrder
from channels.models import ChannelNotification
from channels.plugins.alipay import AlipayChannel
from channels.plugins.wechatpay import WechatPayChannel
from ledger.models import JournalEntry, Transaction
from ledger.services.channel_calls import notify_url
from tests.channels.alipay.conftest import (  # noqa: F401  (fixtures)
    alipay_app,
    alipay_channel,
    fake_alipay,
    pay_on_cashier,
    register_app,
)
from tests.channels.wechatpay.conftest import hosted_page, live_notify, wechatpay, wechatpay_channel  # noqa: F401
from tests.waiting import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def _pay_as_the_payer(platform: str, fake, action: dict) -> None:
    if platform == "alipay":
        reply = pay_on_cashier(action["url"] if action["type"] == "redirect" else action["code_url"])
    else:
        reply = requests.post(hosted_page(fake, action), timeout=5)
    assert reply.status_code in (200, 302), reply.text


@pytest.fixture(params=["alipay", "wechatpay"])
def platform(request):
    """(name, its merchant channel, its fake)."""
    name = request.param
    mc = request.getfixturevalue(f"{name}_channel")
    fake = request.getfixturevalue("fake_alipay" if name == "alipay" else "wechatpay")
    return name, mc, fake


def test_a_success_after_we_closed_the_payment_is_flagged_not_posted(api, platform):
    name, _, fake = platform
    body = {
        "out_trade_no": f"late-{name}",
        "amount": "9.00",
        "subject": "Tea",
        "channel": name,
        "method": "native",
    }
    created = api.post("/api/v1/payments", body).json()
    assert created["status"] == "pending", created
    # Closed on our side while the payer was paying (a race the fake cannot stage by itself).
    Transaction.objects.filter(serial=created["id"]).update(status="closed", finished_at=timezone.now())

    _pay_as_the_payer(name, fake, created["action"])

    row = wait_for(lambda: ChannelNotification.objects.filter(reference=created["id"]).first(), timeout=15)
    assert row.verified and row.outcome == "late_success", row.outcome
    payment = Transaction.objects.get(serial=created["id"])
    assert payment.status == "closed" and payment.review_reason.startswith("late_success")
    assert not JournalEntry.objects.filter(transaction=payment).exists()


def test_a_notification_for_a_payment_we_do_not_know_changes_nothing(platform):
    name, mc, fake = platform
    plugin = AlipayChannel() if name == "alipay" else WechatPayChannel()
    stranger = PaymentOrder(
        serial="PAY20261204000000000000999999",
        amount_minor=7_00,
        currency="CNY",
        subject="not ours",
        method="native",
        capture=True,
        notify_url=notify_url(mc.pk, name),
        expire_seconds=900,
    )
    taken = plugin.pay(mc=mc, order=stranger)  # a trade at the platform Paycenter never recorded

    _pay_as_the_payer(name, fake, taken.action)

    row = wait_for(lambda: ChannelNotification.objects.filter(reference=stranger.serial).first(), timeout=15)
    assert row.verified and row.outcome == "unknown_payment", row.outcome
    assert not Transaction.objects.exists() and not JournalEntry.objects.exists()
