"""The Django side of tests/bench/orders_bench.py, run as a subprocess with the stack's
environment:

    python -m tests.bench.orders_seed seed CREDENTIALS.json OUT.json
        the onboarded merchant becomes a marketplace of two sellers (5% and 8%), each with
        SKUs of ample stock; a platform coupon (spend 50.00 save 5.00) and a seller coupon of
        the first seller (3.00 off); 16 buyers with funded wallets (the plain payments' payers
        too) and, for each, BENCH_ORDER_COUPONS pairs of claimed coupons (the product's own
        services throughout); then the SQL statements of one order and its payment
        in-process.
    python -m tests.bench.orders_seed check EXPECT.json OUT.json
        after the runs: every order answered 201 is paid by exactly one succeeded payment
        split to both sellers, each coupon used by one order, the money adds up.
"""

import json
import os
import sys
from collections import Counter

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "paycenter.settings")
django.setup()

from django.db import connection  # noqa: E402
from django.db.models import Sum  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts.choices import AccountKind  # noqa: E402
from accounts.models import Account, MerchantApp  # noqa: E402
from accounts.services import customer_get_or_create, merchant_create, merchant_transition  # noqa: E402
from coupons.choices import CouponKind, CouponScope, CouponStatus, FundedBy  # noqa: E402
from coupons.models import BuyerCoupon  # noqa: E402
from coupons.services.distribution import coupon_claim  # noqa: E402
from coupons.services.setup import coupon_batch_create, coupon_template_create  # noqa: E402
from ledger.models import TransactionDetail  # noqa: E402
from orders.models import Order  # noqa: E402
from orders.services.catalog import (  # noqa: E402
    Tier,
    marketplace_seller_add,
    product_activate,
    product_create,
    sku_create,
    stock_set,
    warehouse_create,
)
from paycenter.celery import app as celery_app  # noqa: E402
from tests.bench.http_seed import FUNDS  # noqa: E402
from tests.conftest import SignedClient  # noqa: E402
from tests.funding import fund  # noqa: E402

ACTOR = "bench"
# Three lines from two sellers: 2 x 30.00 + 1 x 12.50 from the first, 1 x 48.00 from the second.
CART = [("bench-novel", 2), ("bench-pen", 1), ("bench-oolong", 1)]
PLATFORM_BATCH, SELLER_BATCH = "BENCH-PLATFORM", "BENCH-SELLER"


def _catalog(marketplace_id: int, now) -> list[int]:
    sellers = []
    for name, rate, skus in (
        ("Bench Books", 500, [("bench-novel", "books", 30_00), ("bench-pen", "stationery", 12_50)]),
        ("Bench Tea", 800, [("bench-oolong", "tea", 48_00)]),
    ):
        seller = merchant_create(name=name, actor=ACTOR, now=now)
        merchant_transition(merchant_id=seller.pk, transition="activate", actor=ACTOR, now=now)
        marketplace_seller_add(
            marketplace_id=marketplace_id, seller_id=seller.pk, commission_bps=rate, actor=ACTOR, now=now
        )
        warehouse = warehouse_create(
            merchant_id=seller.pk, code="W", name=f"{name} store", actor=ACTOR, now=now
        )
        for code, category, price in skus:
            product = product_create(seller_id=seller.pk, name=code, category=category, actor=ACTOR, now=now)
            sku = sku_create(
                product_id=product.pk,
                code=code,
                attributes={},
                price_tiers=[Tier(min_quantity=1, unit_price_minor=price)],
                actor=ACTOR,
                now=now,
            )
            stock_set(sku_id=sku.pk, warehouse_id=warehouse.pk, on_hand=10**9, actor=ACTOR, now=now)
            product_activate(product_id=product.pk, actor=ACTOR, now=now)
        sellers.append(seller.pk)
    return sellers


def _coupons(marketplace_id: int, seller_id: int, total: int, now) -> None:
    platform = coupon_template_create(
        merchant_id=marketplace_id,
        name="Bench 5 off 50",
        kind=CouponKind.FULL_REDUCTION,
        currency="CNY",
        threshold_minor=50_00,
        value_minor=5_00,
        valid_days=30,
        actor=ACTOR,
        now=now,
    )
    seller = coupon_template_create(
        merchant_id=marketplace_id,
        name="Bench Books 3 off",
        kind=CouponKind.FIXED,
        currency="CNY",
        funded_by=FundedBy.SELLER,
        value_minor=3_00,
        scope=CouponScope.SELLER,
        scope_seller_id=seller_id,
        valid_days=30,
        actor=ACTOR,
        now=now,
    )
    for template, code in ((platform, PLATFORM_BATCH), (seller, SELLER_BATCH)):
        coupon_batch_create(
            template_id=template.pk,
            code=code,
            total_quantity=total,
            per_buyer_limit=total,
            actor=ACTOR,
            now=now,
        )


def seed(credentials: dict, customers: int, pairs: int) -> dict:
    now = timezone.now()
    merchant_id = credentials["merchant_id"]
    app = MerchantApp.objects.get(app_id=credentials["app_id"])
    sellers = _catalog(merchant_id, now)
    _coupons(merchant_id, sellers[0], customers * (pairs + 10), now)
    wallets, buyers, coupons = [], [], {}
    for n in range(customers):
        external_id = f"bench-{n}"
        customer, _ = customer_get_or_create(merchant_id=merchant_id, external_id=external_id, now=now)
        wallet = customer.accounts.get(currency="CNY").pk
        fund(account_id=wallet, amount_minor=FUNDS)
        wallets.append(wallet)
        buyers.append(external_id)
        coupons[external_id] = [
            [
                coupon_claim(
                    merchant_id=merchant_id, batch_code=code, buyer_external_id=external_id, now=now
                ).serial
                for code in (PLATFORM_BATCH, SELLER_BATCH)
            ]
            for _ in range(pairs)
        ]
    shop = {
        "merchant": merchant_id,
        "app": app.pk,
        "app_id": app.app_id,
        "secret": credentials["secret"],
        "mc": credentials["channels"]["balance"],
        "hot": Account.objects.get(merchant_id=merchant_id, kind=AccountKind.MERCHANT_SETTLEMENT).pk,
        "wallets": wallets,
        "buyers": buyers,
        "coupons": coupons,
        "sellers": sellers,
        "cart": CART,
        "funded": FUNDS * customers,
    }
    shop.update(statements(shop))
    return shop


def statements(shop: dict) -> dict:
    """The SQL statements of one order and of its payment, from the web process, and with
    their after-commit tasks (the outbox: the order marked paid) run in-process."""
    api = SignedClient(app_id=shop["app_id"], secret=shop["secret"], client=Client())
    spare = {b: shop["coupons"][b].pop() for b in shop["buyers"][:3]}  # used here, not by wrk

    def order_and_pay(n: int) -> tuple[list, list]:
        buyer = shop["buyers"][n]
        body = {
            "buyer_external_id": buyer,
            "items": [{"sku": sku, "quantity": q} for sku, q in CART],
            "coupon_ids": spare[buyer],
        }
        with CaptureQueriesContext(connection) as placing:
            placed = api.post("/api/v1/orders", body, idempotency_key=f"inproc-order-{n}")
        if placed.status_code != 201:
            sys.exit(f"in-process order: {placed.status_code} {placed.content[:300]!r}")
        pay = {"channel": "balance", "payer_account_id": shop["wallets"][n]}
        with CaptureQueriesContext(connection) as paying:
            paid = api.post(
                f"/api/v1/orders/{placed.json()['id']}/pay", pay, idempotency_key=f"inproc-pay-{n}"
            )
        if paid.status_code != 201 or paid.json()["status"] != "succeeded":
            sys.exit(f"in-process order payment: {paid.status_code} {paid.content[:300]!r}")
        return list(placing.captured_queries), list(paying.captured_queries)

    order_and_pay(0)  # imports, connection, caches
    placing, paying = order_and_pay(1)
    celery_app.conf.task_always_eager = True
    try:
        _, paying_with_tasks = order_and_pay(2)
    finally:
        celery_app.conf.task_always_eager = False
    for query in placing + paying:
        print(f"statement of one order: {query['sql'][:300]}")
    return {
        "order_statements": len(placing),
        "pay_statements": len(paying),
        "pay_statements_with_tasks": len(paying_with_tasks),
        "order_statement_kinds": dict(Counter(q["sql"].split(None, 1)[0].upper() for q in placing)),
        "inproc_orders": 3,
    }


def check(expect: dict) -> dict:
    problems = []
    created = set(expect["orders_created"])
    paid = set(expect["orders_paid"])
    orders = Order.objects.filter(serial__in=created)
    if orders.count() != len(created):
        problems.append(f"{len(created) - orders.count()} orders answered 201 are not in the database")
    if paid - created:
        problems.append(f"{len(paid - created)} payments of orders nobody created")
    not_paid = orders.filter(serial__in=paid).exclude(status="paid").count()
    if not_paid:
        problems.append(f"{not_paid} orders whose payment answered 201 are not paid")
    unpaid = len(created - paid)
    if unpaid > expect["pays_unanswered"]:
        problems.append(
            f"{unpaid} orders created were not paid, {expect['pays_unanswered']} payments unanswered"
        )
    split = TransactionDetail.objects.filter(transaction__out_trade_no__in=paid)
    if split.values("transaction").distinct().count() != len(paid):
        problems.append("some paid orders' payments are not split")
    if split.count() != 2 * len(paid):
        problems.append(f"{split.count()} splits for {len(paid)} paid orders of two sellers")
    used = Counter(BuyerCoupon.objects.filter(status=CouponStatus.USED).values_list("order_ref", flat=True))
    if any(n != 2 for n in used.values()):
        problems.append("an order used other than its two coupons")
    # Orders wrk left in flight were placed without wrk hearing of it: their two coupons each.
    locked = BuyerCoupon.objects.filter(status=CouponStatus.LOCKED).exclude(order_ref__in=created).count()
    if locked > 2 * expect["orders_in_flight"]:
        problems.append(
            f"{locked} coupons locked by orders not answered 201 ({expect['orders_in_flight']} in flight)"
        )
    paid_total = Order.objects.filter(status="paid").aggregate(s=Sum("payable_minor"))["s"] or 0
    return {
        "problems": problems,
        "orders": orders.count(),
        "paid": len(paid),
        "paid_total_minor": paid_total,
    }


if __name__ == "__main__":
    command, source, target = sys.argv[1:4]
    with open(source) as given_file:
        given = json.load(given_file)
    if command == "seed":
        result = seed(
            given,
            int(os.environ.get("BENCH_CUSTOMERS", "16")),
            int(os.environ.get("BENCH_ORDER_COUPONS", "100")),
        )
    else:
        result = check(given)
    with open(target, "w") as out:
        json.dump(result, out)
