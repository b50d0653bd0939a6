"""Operations on orders in a real browser: a paid order's page shows its sub-orders, lines and
refunds; a sub-order is marked fulfilled and refunded goods are marked returned with their
buttons; the coupon batches list shows what was given out and used."""

import pytest
from django.utils import timezone

from coupons.services.distribution import coupon_claim
from coupons.services.setup import coupon_batch_create, coupon_template_create
from ledger.services.collect import PaymentRequest
from orders.models import Order, Stock, SubOrder
from orders.services.cart import Item
from orders.services.checkout import order_create
from orders.services.payment import order_pay
from orders.services.refunds import RefundLine, order_refund_create
from tests.browser.test_admin_money import staff
from tests.orders.conftest import buyer, mall  # noqa: F401  (fixtures)
from tests.waiting import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def paid_order(mall, buyer, onboarded):  # noqa: F811
    _, app, _ = onboarded
    now = timezone.now()
    template = coupon_template_create(
        merchant_id=mall.marketplace.pk,
        name="5 off",
        kind="fixed",
        value_minor=5_00,
        currency="CNY",
        valid_days=30,
        actor="test",
        now=now,
    )
    coupon_batch_create(template_id=template.pk, code="FIVE", total_quantity=10, actor="test", now=now)
    coupon = coupon_claim(
        merchant_id=mall.marketplace.pk, batch_code="FIVE", buyer_external_id="buyer-1", now=now
    )
    order = order_create(
        merchant_id=mall.marketplace.pk,
        app_id=app.pk,
        buyer_external_id="buyer-1",
        items=[Item(sku="novel", quantity=2), Item(sku="oolong", quantity=1)],
        coupon_ids=[coupon.serial],
        now=now,
    )
    request = PaymentRequest(
        out_trade_no=None,
        amount_minor=0,
        currency="CNY",
        subject="x",
        channel="balance",
        payer_account_id=buyer.pk,
    )
    order_pay(order_id=order.pk, app_id=app.pk, request=request, now=now)
    wait_for(lambda: Order.objects.get(pk=order.pk).status == "paid", timeout=15)
    books = SubOrder.objects.get(order=order, seller=mall.books)
    order_refund_create(
        order_id=order.pk, sub_order_serial=books.serial, lines=[RefundLine(sku="novel", quantity=1)], now=now
    )
    return Order.objects.get(pk=order.pk)


def test_operations_fulfil_a_sub_order_and_take_returned_goods_back(admin_site, mall, paid_order):  # noqa: F811
    admin_site.log_in(*staff("ops", "operations"))
    admin_site.open(f"/admin/orders/order/{paid_order.pk}/change/")
    page = admin_site.driver.find_element("css selector", "#content").text
    tea = SubOrder.objects.get(order=paid_order, seller=mall.tea)
    assert paid_order.serial in page and tea.serial in page
    assert "novel" in page and "oolong" in page
    assert "28.61" in page  # the refund of one novel: half its payable after the coupon's share

    admin_site.press(f"Fulfil {tea.serial}")
    assert any("fulfilled" in m for m in admin_site.messages())
    tea.refresh_from_db()
    assert tea.status == "fulfilled"

    north = Stock.objects.get(sku__code="novel", warehouse=mall.north)
    before = north.on_hand
    admin_site.press("Mark returned")
    assert any("back in stock" in m for m in admin_site.messages())
    north.refresh_from_db()
    assert north.on_hand == before + 1
    assert "Mark returned" not in admin_site.driver.find_element("css selector", "#content").text


def test_the_coupon_batches_list_shows_claimed_and_used(admin_site, paid_order):
    admin_site.log_in(*staff("ops2", "operations"))
    admin_site.open("/admin/coupons/couponbatch/")
    row = admin_site.driver.find_element("xpath", "//tr[.//a[normalize-space()='FIVE']]").text
    assert "FIVE" in row and "5.00" in row
