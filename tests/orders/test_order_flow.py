"""An order through the API: placed, paid by balance, money split in the journal, a
sub-order refunded; closed on timeout; a late success flagged."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.choices import AccountKind
from ledger.models import Transaction
from orders.models import Order, Stock, StockReservation
from orders.services.lifecycle import orders_close_expired
from tests.ledger.conftest import assert_ledger_clean
from tests.ledger.conftest import settled_balance as _balance

pytestmark = pytest.mark.django_db(transaction=True)  # the payment's events reach orders after commit


def _place(api, items, **fields):
    body = {"buyer_external_id": "buyer-1", "items": [{"sku": s, "quantity": q} for s, q in items], **fields}
    return api.post("/api/v1/orders", body, idempotency_key=f"place-{len(items)}-{items[0][0]}")


def test_an_order_paid_by_balance_splits_the_money_to_sellers_and_commission(api, mall, buyer):
    placed = _place(api, [("novel", 2), ("oolong", 1)])
    assert placed.status_code == 201, placed.json()
    order = placed.json()
    assert [s["payable"] for s in order["sub_orders"]] == ["60.00", "48.00"]
    assert order["payable"] == "108.00" and order["status"] == "created"

    paid = api.post(f"/api/v1/orders/{order['id']}/pay", {"channel": "balance", "payer_account_id": buyer.pk})
    assert paid.status_code == 201, paid.json()
    assert paid.json()["status"] == "succeeded" and paid.json()["amount"] == "108.00"

    shown = api.get(f"/api/v1/orders/{order['id']}").json()
    assert shown["status"] == "paid" and shown["payment_id"] == paid.json()["id"]
    assert {s["status"] for s in shown["sub_orders"]} == {"paid"}
    buyer.refresh_from_db()
    assert buyer.total_minor == 10_000_00 - 108_00
    books_commission, tea_commission = 60_00 * 500 // 10_000, 48_00 * 800 // 10_000
    assert _balance(mall.books) == 60_00 - books_commission
    assert _balance(mall.tea) == 48_00 - tea_commission
    assert _balance(kind=AccountKind.PLATFORM_REVENUE) == books_commission + tea_commission
    assert _balance(mall.marketplace) == 0
    novel = Stock.objects.get(sku__code="novel", warehouse=mall.north)
    assert (novel.on_hand, novel.reserved) == (48, 0)
    assert set(StockReservation.objects.values_list("status", flat=True)) == {"deducted"}
    assert_ledger_clean()


def test_a_sub_order_refunded_by_line_reverses_the_seller_share_and_commission(api, mall, buyer):
    order = _place(api, [("novel", 2), ("oolong", 1)]).json()
    api.post(f"/api/v1/orders/{order['id']}/pay", {"channel": "balance", "payer_account_id": buyer.pk})
    books = next(s for s in order["sub_orders"] if s["merchant_id"] == mall.books.pk)

    refunded = api.post(
        f"/api/v1/orders/{order['id']}/refunds",
        {"sub_order_id": books["id"], "lines": [{"sku": "novel", "quantity": 1}], "reason": "damaged"},
    )

    assert refunded.status_code == 201, refunded.json()
    assert refunded.json()["amount"] == "30.00" and refunded.json()["status"] == "succeeded"
    shown = api.get(f"/api/v1/orders/{order['id']}").json()
    assert shown["status"] == "partially_refunded" and shown["refunded_amount"] == "30.00"
    assert next(s for s in shown["sub_orders"] if s["id"] == books["id"])["status"] == "partially_refunded"
    buyer.refresh_from_db()
    assert buyer.total_minor == 10_000_00 - 108_00 + 30_00
    assert _balance(mall.books) == (60_00 - 3_00) - (30_00 - 1_50)
    assert _balance(kind=AccountKind.PLATFORM_REVENUE) == 3_00 - 1_50 + 3_84

    too_much = api.post(
        f"/api/v1/orders/{order['id']}/refunds", {"sub_order_id": books["id"], "amount": "30.01"}
    )
    assert too_much.status_code == 422 and too_much.json()["error"]["code"] == "refund_exceeds_payment"
    rest = api.post(f"/api/v1/orders/{order['id']}/refunds", {"sub_order_id": books["id"]})
    assert rest.status_code == 201 and rest.json()["amount"] == "30.00"
    assert _balance(mall.books) == 0
    assert Transaction.objects.get(serial=shown["payment_id"]).refunded_minor == 60_00
    assert_ledger_clean()


def test_an_order_left_unpaid_closes_and_releases_its_stock(api, mall):
    order = _place(api, [("atlas", 2)]).json()
    assert Stock.objects.get(sku__code="atlas").reserved == 2

    assert orders_close_expired(now=timezone.now()) == 0
    assert orders_close_expired(now=timezone.now() + timedelta(hours=1)) == 1

    shown = api.get(f"/api/v1/orders/{order['id']}").json()
    assert shown["status"] == "closed" and {s["status"] for s in shown["sub_orders"]} == {"closed"}
    assert Stock.objects.get(sku__code="atlas").reserved == 0
    assert set(StockReservation.objects.values_list("status", flat=True)) == {"released"}
    assert orders_close_expired(now=timezone.now() + timedelta(hours=1)) == 0


def test_a_cancelled_order_cannot_be_paid(api, mall, buyer):
    order = _place(api, [("atlas", 1)]).json()
    cancelled = api.post(f"/api/v1/orders/{order['id']}/cancel", {})
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    paid = api.post(f"/api/v1/orders/{order['id']}/pay", {"channel": "balance", "payer_account_id": buyer.pk})
    assert paid.status_code == 409 and paid.json()["error"]["code"] == "order_not_payable"
    again = api.post(f"/api/v1/orders/{order['id']}/cancel", {})
    assert again.status_code == 200 and again.json()["status"] == "cancelled"  # already so
    buyer.refresh_from_db()
    assert buyer.total_minor == 10_000_00


def test_another_merchants_order_is_not_found(api, mall):
    assert api.get("/api/v1/orders/ORD0000").status_code == 404
    assert Order.objects.count() == 0


def test_the_app_hears_of_its_order_by_webhook(api, mall, buyer, listening):
    from accounts.webhooks import WEBHOOK_SUBSCRIBER
    from paycenter.models import OutboxMessage

    def webhooks(order_id: str) -> list[str]:
        rows = OutboxMessage.objects.filter(subscriber=WEBHOOK_SUBSCRIBER).order_by("id")
        return [m.payload["type"] for m in rows if m.payload["data"].get("id") == order_id]

    paid = _place(api, [("novel", 1)]).json()
    api.post(f"/api/v1/orders/{paid['id']}/pay", {"channel": "balance", "payer_account_id": buyer.pk})
    books = paid["sub_orders"][0]["id"]
    api.post(f"/api/v1/orders/{paid['id']}/refunds", {"sub_order_id": books, "amount": "10.00"})
    closed = _place(api, [("atlas", 1)]).json()
    orders_close_expired(now=timezone.now() + timedelta(hours=1))

    assert webhooks(paid["id"]) == ["order.paid", "order.refunded"]
    assert webhooks(closed["id"]) == ["order.closed"]
    refunded = OutboxMessage.objects.get(subscriber=WEBHOOK_SUBSCRIBER, payload__type="order.refunded")
    assert refunded.payload["data"]["refund"]["amount"] == "10.00"
