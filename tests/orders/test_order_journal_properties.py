"""Random carts with random coupons, placed and paid by balance through the real services on
PostgreSQL (hypothesis): the payment's entry sums to zero and credits every seller exactly
its sub-orders' payable + platform subsidy - commission, the revenue account the
commissions, and debits the coupon subsidy account the platform's discounts."""

from collections import defaultdict

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from accounts.choices import AccountKind
from coupons.services.distribution import coupon_claim
from coupons.services.setup import coupon_batch_create, coupon_template_create
from ledger.choices import Direction
from ledger.models import Posting
from ledger.services.collect import PaymentRequest
from orders.models import SubOrder
from orders.services.cart import Item
from orders.services.checkout import order_create
from orders.services.payment import order_pay
from paycenter.errors import PaycenterError
from tests.orders.conftest import add_sku

pytestmark = pytest.mark.django_db

BATCHES = {
    "P-SPEND": ("platform", {"kind": "full_reduction", "threshold_minor": 50_00, "value_minor": 7_77}),
    "P-RATE": ("platform", {"kind": "rate", "rate_bps": 1_300, "cap_minor": 20_00}),
    "BOOKS-FIX": ("books", {"kind": "fixed", "value_minor": 3_33, "funded_by": "seller", "scope": "seller"}),
    "TEA-TIER": (
        "tea",
        {
            "kind": "tiered",
            "funded_by": "seller",
            "scope": "seller",
            "tiers": [
                {"threshold_minor": 40_00, "value_minor": 4_01},
                {"threshold_minor": 90_00, "value_minor": 11_11},
            ],
        },
    ),
}


@pytest.fixture
def shop(mall, wallet_of):
    now = timezone.now()
    add_sku(
        seller=mall.books,
        code="pen",
        category="stationery",
        tiers=[(1, 3_17), (7, 2_99)],
        stock={mall.north: 10**6},
    )
    add_sku(seller=mall.tea, code="green", category="tea", tiers=[(1, 19_99)], stock={mall.east: 10**6})
    add_sku(seller=mall.books, code="diary", category="books", tiers=[(1, 24_50)], stock={mall.south: 10**6})
    add_sku(
        seller=mall.tea, code="puer", category="tea", tiers=[(1, 88_88), (3, 80_00)], stock={mall.east: 10**6}
    )
    for code, (owner, fields) in BATCHES.items():
        seller = {"books": mall.books, "tea": mall.tea}.get(owner)
        template = coupon_template_create(
            merchant_id=mall.marketplace.pk,
            name=code,
            currency="CNY",
            valid_days=30,
            scope_seller_id=seller.pk if seller else None,
            actor="test",
            now=now,
            **fields,
        )
        coupon_batch_create(
            template_id=template.pk,
            code=code,
            total_quantity=10**6,
            per_buyer_limit=10**6,
            actor="test",
            now=now,
        )
    return mall, wallet_of("prop-buyer", balance=10**10)


carts = st.dictionaries(
    st.sampled_from(["diary", "pen", "puer", "green"]), st.integers(min_value=1, max_value=12), min_size=1
)
coupon_choices = st.tuples(
    st.sampled_from([None, "P-SPEND", "P-RATE"]),
    st.sampled_from([None, "BOOKS-FIX"]),
    st.sampled_from([None, "TEA-TIER"]),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cart=carts, chosen=coupon_choices, split_by=st.sampled_from(["merchant", "warehouse", "category"]))
def test_a_paid_orders_entry_accounts_for_every_cent(shop, onboarded, cart, chosen, split_by):
    mall, wallet = shop
    _, app, _ = onboarded
    now = timezone.now()
    coupon_ids = [
        coupon_claim(
            merchant_id=mall.marketplace.pk, batch_code=code, buyer_external_id="prop-buyer", now=now
        ).serial
        for code in chosen
        if code
    ]
    try:
        order = order_create(
            merchant_id=mall.marketplace.pk,
            app_id=app.pk,
            buyer_external_id="prop-buyer",
            items=[Item(sku=sku, quantity=q) for sku, q in cart.items()],
            coupon_ids=coupon_ids,
            split_by=split_by,
            now=now,
        )
    except PaycenterError as refused:  # a coupon that does not apply to this cart
        assert refused.code in {"coupon_not_applicable", "order_payable_zero"}
        event(refused.code)
        return
    payment = order_pay(
        order_id=order.pk,
        app_id=app.pk,
        request=PaymentRequest(
            out_trade_no=None,
            amount_minor=0,
            currency="CNY",
            subject="property",
            channel="balance",
            payer_account_id=wallet.pk,
        ),
        now=now,
    )
    assert payment.status == "succeeded"
    event("paid")

    postings = list(Posting.objects.filter(entry__transaction=payment).select_related("account"))
    signed = defaultdict(int)
    for p in postings:
        signed[(p.account.kind, p.account.merchant_id)] += (
            p.amount_minor if p.direction == Direction.CREDIT else -p.amount_minor
        )
    assert sum(signed.values()) == 0

    subs = list(SubOrder.objects.filter(order=order))
    owed = defaultdict(int)
    for sub in subs:
        owed[sub.seller_id] += sub.payable_minor + sub.platform_discount_minor - sub.commission_minor
    for seller, credit in owed.items():
        assert signed.pop((AccountKind.MERCHANT_SETTLEMENT, seller), 0) == credit
    assert signed.pop((AccountKind.PLATFORM_REVENUE, None), 0) == sum(s.commission_minor for s in subs)
    assert signed.pop((AccountKind.COUPON_SUBSIDY, None), 0) == -sum(s.platform_discount_minor for s in subs)
    assert signed.pop((AccountKind.CUSTOMER_WALLET, mall.marketplace.pk)) == -order.payable_minor
    assert not any(signed.values()), signed  # nothing else moved
    assert order.payable_minor == order.amount_minor - order.discount_minor
    assert order.discount_minor == sum(s.discount_minor for s in subs)
