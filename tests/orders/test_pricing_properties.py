"""Pricing and splitting of random carts with random coupons (hypothesis): every coupon's
shares sum exactly to its discount, no line goes below zero, payable = total - discount,
and the split of the money — sellers' credits, commission, coupon subsidy — accounts for
every cent the payer pays and the platform adds. No database: the lines are unsaved rows."""

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from coupons.pricing import FIXED, FULL_REDUCTION, PLATFORM, RATE, SELLER, TIERED, Offer
from ledger.services.splits import Split, splits_check
from orders.choices import SplitBy
from orders.models import Product, Sku, Stock
from orders.services.cart import CartLine, cart_price, cart_split
from paycenter.errors import Unprocessable

SELLERS = (11, 12, 13)


@st.composite
def carts(draw):
    lines = []
    for index in range(draw(st.integers(min_value=1, max_value=6))):
        seller = draw(st.sampled_from(SELLERS))
        product = Product(id=100 + index, seller_id=seller, category=draw(st.sampled_from(["tea", "books"])))
        sku = Sku(id=200 + index, product=product, code=f"sku-{index}")
        lines.append(
            CartLine(
                key=str(index),
                sku=sku,
                quantity=draw(st.integers(min_value=1, max_value=20)),
                unit_price_minor=draw(st.integers(min_value=1, max_value=100_000)),
                stock=Stock(warehouse_id=draw(st.sampled_from([1, 2]))),
            )
        )
    return lines


def _offer(draw, coupon_id: str, funded_by: str, seller_id: int | None) -> Offer:
    kind = draw(st.sampled_from([FULL_REDUCTION, RATE, TIERED, FIXED]))
    threshold = draw(st.integers(min_value=0, max_value=200_000))
    value = draw(st.integers(min_value=1, max_value=300_000))
    scope = draw(st.sampled_from(["all", "category", "products"]))
    return Offer(
        coupon_id=coupon_id,
        funded_by=funded_by,
        kind=kind,
        seller_id=seller_id,
        threshold_minor=threshold,
        value_minor=value,
        rate_bps=draw(st.integers(min_value=1, max_value=10_000)),
        cap_minor=draw(st.one_of(st.none(), st.integers(min_value=1, max_value=100_000))),
        tiers=tuple(sorted({(threshold, value), (threshold * 2, value * 2)})),
        categories=frozenset({"tea"}) if scope == "category" else None,
        product_ids=frozenset({100, 101}) if scope == "products" else None,
    )


@st.composite
def coupon_sets(draw):
    offers = []
    if draw(st.booleans()):
        offers.append(_offer(draw, "platform", PLATFORM, None))
    for seller in draw(st.sets(st.sampled_from(SELLERS), max_size=3)):
        offers.append(_offer(draw, f"seller-{seller}", SELLER, seller))
    return offers


@settings(max_examples=300, deadline=None)
@given(
    carts(),
    coupon_sets(),
    st.sampled_from(list(SplitBy)),
    st.dictionaries(st.sampled_from(SELLERS), st.integers(min_value=0, max_value=10_000)),
)
def test_a_priced_split_cart_accounts_for_every_cent(lines, offers, split_by, rates):
    try:
        breakdown = cart_price(lines, offers)
    except Unprocessable:  # a coupon that does not apply to this cart is refused, not dropped
        assume(False)
    for applied in breakdown.applied:
        assert sum(applied.shares.values()) == applied.discount_minor
        assert min(applied.shares.values(), default=0) >= 0
    for line in lines:
        assert 0 <= line.platform_discount_minor <= line.discount_minor <= line.amount_minor
    assert breakdown.total_minor == sum(line.amount_minor for line in lines)
    assert breakdown.discount_minor == sum(line.discount_minor for line in lines)
    assert breakdown.payable_minor == breakdown.total_minor - breakdown.discount_minor >= 0

    groups = cart_split(lines=lines, split_by=split_by, rates=rates)
    assert sorted(line.key for g in groups for line in g.lines) == sorted(line.key for line in lines)
    assert all(len({line.seller_id for line in g.lines}) == 1 for g in groups)
    assert sum(g.payable_minor for g in groups) == breakdown.payable_minor
    credited = 0
    for g in groups:
        owed = g.payable_minor + g.platform_discount_minor
        assert 0 <= g.commission_minor <= owed
        credited += owed - g.commission_minor
    subsidy = sum(g.platform_discount_minor for g in groups)
    commission = sum(g.commission_minor for g in groups)
    # the payment's entry: payer + coupon subsidy debited = sellers + revenue credited
    assert breakdown.payable_minor + subsidy == credited + commission

    splits = tuple(
        Split(
            merchant_id=g.seller_id,
            amount_minor=g.payable_minor,
            reference=str(n),
            subsidy_minor=g.platform_discount_minor,
            commission_minor=g.commission_minor,
        )
        for n, g in enumerate(groups)
        if g.payable_minor + g.platform_discount_minor
    )
    if breakdown.payable_minor:
        splits_check(splits, amount_minor=breakdown.payable_minor, capture=True)  # the ledger takes it
