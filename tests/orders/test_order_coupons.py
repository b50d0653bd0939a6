"""Orders with coupons: one coupon in 20 concurrent orders is used once (RELIABILITY 8); a
full run through the API on the sandbox channel with a platform and a seller coupon; coupons
released when an order closes; a coupon issued on the buyer's first paid order."""

from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.choices import AccountKind
from coupons.models import BuyerCoupon
from coupons.services.distribution import coupon_claim
from coupons.services.setup import coupon_batch_create, coupon_template_create
from ledger.models import Hold, Transaction
from orders.models import Order, OrderRefund, Stock
from orders.services.cart import Item
from orders.services.checkout import order_create
from orders.services.lifecycle import orders_close_expired
from paycenter.errors import PaycenterError
from tests.ledger.conftest import assert_ledger_clean
from tests.orders.test_order_flow import _balance
from tests.payments.test_concurrency import in_threads
from tests.waiting import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def _batch(mall, code: str, issue_on_event: str = "", **template) -> str:
    now = timezone.now()
    made = coupon_template_create(
        merchant_id=mall.marketplace.pk,
        name=code,
        currency="CNY",
        valid_days=30,
        actor="test",
        now=now,
        **template,
    )
    coupon_batch_create(
        template_id=made.pk,
        code=code,
        total_quantity=100,
        per_buyer_limit=5,
        issue_on_event=issue_on_event,
        actor="test",
        now=now,
    )
    return code


@pytest.fixture
def coupons(mall):
    """A platform coupon (spend 100.00, save 10.00) and one of the tea seller (6.00 off)."""
    platform = _batch(mall, "PLATFORM-10", kind="full_reduction", threshold_minor=100_00, value_minor=10_00)
    tea = _batch(
        mall,
        "TEA-6",
        kind="fixed",
        value_minor=6_00,
        funded_by="seller",
        scope="seller",
        scope_seller_id=mall.tea.pk,
    )
    return platform, tea


def _claim(mall, batch: str, buyer: str = "buyer-1") -> str:
    return coupon_claim(
        merchant_id=mall.marketplace.pk, batch_code=batch, buyer_external_id=buyer, now=timezone.now()
    ).serial


def test_one_coupon_in_20_concurrent_orders_is_used_once(mall, onboarded, coupons):
    _, app, _ = onboarded
    coupon = _claim(mall, coupons[0])

    def order(i):
        try:
            order_create(
                merchant_id=mall.marketplace.pk,
                app_id=app.pk,
                buyer_external_id="buyer-1",
                items=[Item(sku="atlas", quantity=1)],  # 120.00: the coupon applies
                coupon_ids=[coupon],
                now=timezone.now(),
            )
            return "ordered"
        except PaycenterError as refused:
            return refused.code

    outcomes = Counter(in_threads(20, order))

    assert outcomes == {"ordered": 1, "coupon_unavailable": 19}, outcomes
    [placed] = Order.objects.all()
    locked = BuyerCoupon.objects.get(serial=coupon)
    assert (locked.status, locked.order_ref) == ("locked", placed.serial)
    assert placed.discount_minor == 10_00
    assert Stock.objects.get(sku__code="atlas").reserved == 1  # the 19 refused left nothing behind


def test_a_full_order_with_a_platform_and_a_seller_coupon_on_the_sandbox(api, mall, coupons, sandbox_channel):
    body = {
        "buyer_external_id": "buyer-1",
        "items": [{"sku": "novel", "quantity": 2}, {"sku": "oolong", "quantity": 2}],
        "coupon_ids": [_claim(mall, coupons[0]), _claim(mall, coupons[1])],
    }
    preview = api.post("/api/v1/orders/preview", body)
    assert preview.status_code == 200 and preview.json()["payable"] == "140.00", preview.json()
    assert not BuyerCoupon.objects.filter(status="locked").exists()  # a preview holds nothing

    placed = api.post("/api/v1/orders", body)
    assert placed.status_code == 201, placed.json()
    order = placed.json()
    # The tea coupon first (96.00 → 90.00), then the platform's 10.00 on 150.00: 4.00 and 6.00.
    books, tea = sorted(order["sub_orders"], key=lambda s: s["merchant_id"] != mall.books.pk)
    assert (books["amount"], books["discount"], books["payable"]) == ("60.00", "4.00", "56.00")
    assert (tea["amount"], tea["discount"], tea["payable"]) == ("96.00", "12.00", "84.00")
    assert order["payable"] == "140.00"

    paid = api.post(
        f"/api/v1/orders/{order['id']}/pay",
        {"channel": "sandbox", "metadata": {"sandbox": {"outcome": "succeed", "delay_ms": 50}}},
    )
    assert paid.status_code == 201, paid.json()
    wait_for(lambda: Order.objects.get(serial=order["id"]).status == "paid", timeout=15)

    assert set(BuyerCoupon.objects.values_list("status", flat=True)) == {"used"}
    # Books: 56.00 paid + 4.00 subsidy - 5% of 60.00; tea: 84.00 + 6.00 - 8% of (96.00 - 6.00).
    assert _balance(mall.books) == 56_00 + 4_00 - 3_00
    assert _balance(mall.tea) == 84_00 + 6_00 - 7_20
    assert _balance(kind=AccountKind.PLATFORM_REVENUE) == 3_00 + 7_20
    assert _balance(kind=AccountKind.COUPON_SUBSIDY) == -10_00
    assert _balance(kind=AccountKind.CHANNEL_CLEARING) == -140_00
    assert_ledger_clean()

    refunded = api.post(
        f"/api/v1/orders/{order['id']}/refunds", {"sub_order_id": books["id"], "reason": "never arrived"}
    )
    assert refunded.status_code == 201 and refunded.json()["amount"] == "56.00", refunded.json()
    wait_for(lambda: OrderRefund.objects.get(serial=refunded.json()["id"]).status == "succeeded", timeout=15)
    shown = api.get(f"/api/v1/orders/{order['id']}").json()
    assert shown["status"] == "partially_refunded"
    assert {s["id"]: s["status"] for s in shown["sub_orders"]} == {
        books["id"]: "refunded",
        tea["id"]: "paid",
    }
    assert _balance(mall.books) == 0
    assert _balance(kind=AccountKind.PLATFORM_REVENUE) == 7_20
    assert _balance(kind=AccountKind.COUPON_SUBSIDY) == -6_00
    assert _balance(kind=AccountKind.CHANNEL_CLEARING) == -84_00
    assert Transaction.objects.get(serial=paid.json()["id"]).refunded_minor == 56_00
    assert_ledger_clean()


def test_an_order_closed_unpaid_gives_its_coupons_and_stock_back(api, mall, coupons, sandbox_channel):
    coupon = _claim(mall, coupons[0])
    body = {
        "buyer_external_id": "buyer-1",
        "items": [{"sku": "atlas", "quantity": 1}],
        "coupon_ids": [coupon],
    }
    order = api.post("/api/v1/orders", body).json()
    # No behaviour: the payment waits for the payer on the sandbox's checkout page.
    paying = api.post(f"/api/v1/orders/{order['id']}/pay", {"channel": "sandbox"})
    assert paying.status_code == 201 and paying.json()["status"] == "pending", paying.json()

    assert orders_close_expired(now=timezone.now() + timedelta(hours=1)) == 1

    assert Order.objects.get(serial=order["id"]).status == "closed"
    assert Transaction.objects.get(serial=paying.json()["id"]).status == "closed"  # closed at the channel
    assert BuyerCoupon.objects.get(serial=coupon).status == "claimed"
    assert Stock.objects.get(sku__code="atlas").reserved == 0
    assert not Hold.objects.filter(status="pending").exists()
    again = api.post("/api/v1/orders", body)  # the coupon can be used again
    assert again.status_code == 201 and again.json()["discount"] == "10.00"


def test_the_first_paid_order_issues_the_welcome_coupon_once(api, mall, buyer):
    _batch(mall, "WELCOME", kind="fixed", value_minor=5_00, issue_on_event="order.first_paid")
    for n in range(2):
        order = api.post(
            "/api/v1/orders",
            {"buyer_external_id": "buyer-1", "items": [{"sku": "novel", "quantity": 1}]},
            idempotency_key=f"welcome-{n}",
        ).json()
        paid = api.post(
            f"/api/v1/orders/{order['id']}/pay", {"channel": "balance", "payer_account_id": buyer.pk}
        )
        assert paid.status_code == 201, paid.json()
        wait_for(lambda order=order: Order.objects.get(serial=order["id"]).status == "paid", timeout=15)

    assert BuyerCoupon.objects.filter(batch__code="WELCOME", customer__external_id="buyer-1").count() == 1
