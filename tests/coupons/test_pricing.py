"""coupons.pricing: examples per kind and the stacking rule, then properties over random
carts and coupons — shares sum to each discount, no line below zero, a coupon never takes
more than its eligible lines still owe, payable = total - discount >= 0. No database."""

import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coupons.errors import CouponNotApplicable, CouponsNotStackable
from coupons.pricing import Line, Offer, price
from paycenter.money import allocate_minor

BOOKS, TEA = 1, 2


def cart():
    return [
        Line(key="a", seller_id=BOOKS, product_id=10, category="books", amount_minor=60_00),
        Line(key="b", seller_id=BOOKS, product_id=11, category="maps", amount_minor=40_00),
        Line(key="c", seller_id=TEA, product_id=20, category="tea", amount_minor=50_00),
    ]


def offer(coupon_id="CPN1", funded_by="platform", kind="fixed", **kwargs):
    return Offer(coupon_id=coupon_id, funded_by=funded_by, kind=kind, **kwargs)


# --- examples, one per kind -------------------------------------------------------------


def test_no_coupons_no_discount():
    result = price(cart(), [])
    assert (result.total_minor, result.discount_minor, result.payable_minor) == (150_00, 0, 150_00)
    assert result.applied == []
    assert result.line_discounts == {"a": 0, "b": 0, "c": 0}


def test_full_reduction_spend_100_save_15_split_by_largest_remainder():
    result = price(cart(), [offer(kind="full_reduction", threshold_minor=100_00, value_minor=15_00)])

    assert result.discount_minor == 15_00
    assert result.payable_minor == 135_00
    # 60 : 40 : 50 of 15.00 → 6.00, 4.00, 5.00
    assert result.applied[0].shares == {"a": 6_00, "b": 4_00, "c": 5_00}


def test_full_reduction_below_its_threshold_is_not_applicable():
    with pytest.raises(CouponNotApplicable) as refused:
        price(cart(), [offer(kind="full_reduction", threshold_minor=200_00, value_minor=15_00)])
    assert (refused.value.code, refused.value.field, refused.value.status) == (
        "coupon_not_applicable",
        "coupon_ids",
        422,
    )


def test_rate_takes_its_percentage_rounded_down_and_stops_at_the_cap():
    uncapped = price(cart(), [offer(kind="rate", rate_bps=1_250)])  # 12.5% of 150.00
    capped = price(cart(), [offer(kind="rate", rate_bps=1_250, cap_minor=10_00)])
    odd = price([Line("x", 1, 1, "c", 333)], [offer(kind="rate", rate_bps=1_000)])  # 33.3 → 33

    assert uncapped.discount_minor == 18_75
    assert capped.discount_minor == 10_00
    assert odd.discount_minor == 33


def test_tiered_applies_the_highest_tier_reached():
    tiers = ((50_00, 5_00), (100_00, 12_00), (200_00, 30_00))
    result = price(cart(), [offer(kind="tiered", tiers=tiers)])
    small = price(cart()[:1], [offer(kind="tiered", tiers=tiers)])

    assert result.discount_minor == 12_00  # 150.00 reaches 100.00, not 200.00
    assert small.discount_minor == 5_00
    with pytest.raises(CouponNotApplicable):
        price([Line("x", 1, 1, "c", 49_99)], [offer(kind="tiered", tiers=tiers)])


def test_fixed_amount_never_takes_more_than_its_lines_owe():
    result = price(cart(), [offer("CPN9", "seller", "fixed", seller_id=TEA, value_minor=80_00)])

    assert result.discount_minor == 50_00  # tea's one line, not the books
    assert result.line_discounts == {"a": 0, "b": 0, "c": 50_00}
    assert result.applied[0].funded_by == "seller"


def test_products_and_categories_scope_narrow_the_eligible_lines():
    by_product = price(cart(), [offer(kind="fixed", value_minor=3_00, product_ids=frozenset({11}))])
    by_category = price(
        cart(), [offer(kind="fixed", value_minor=3_00, categories=frozenset({"tea", "books"}))]
    )

    assert by_product.applied[0].shares == {"b": 3_00}
    assert by_category.applied[0].shares == {"a": 1_64, "c": 1_36}  # 60:50 of 3.00


def test_a_coupon_with_no_eligible_line_is_not_applicable():
    with pytest.raises(CouponNotApplicable):
        price(cart(), [offer(kind="fixed", value_minor=1_00, categories=frozenset({"toys"}))])


def test_a_coupon_in_another_currency_is_not_applicable():
    with pytest.raises(CouponNotApplicable):
        price(cart(), [offer(kind="fixed", value_minor=1_00, currency="USD")], currency="CNY")
    assert price(cart(), [offer(kind="fixed", value_minor=1_00, currency="CNY")], currency="CNY")


# --- stacking ---------------------------------------------------------------------------


def test_seller_coupons_apply_first_then_the_platform_coupon_on_what_remains():
    books = offer("CPN-B", "seller", "fixed", seller_id=BOOKS, value_minor=20_00)
    platform = offer("CPN-P", "platform", "full_reduction", threshold_minor=130_00, value_minor=13_00)

    result = price(cart(), [platform, books])  # the order given does not matter

    assert [a.coupon_id for a in result.applied] == ["CPN-B", "CPN-P"]
    assert result.applied[0].shares == {"a": 12_00, "b": 8_00}
    # what remains: 48 + 32 + 50 = 130 → the threshold is just met; 13.00 by 48:32:50
    assert result.applied[1].shares == {"a": 4_80, "b": 3_20, "c": 5_00}
    assert result.discount_minor == 33_00
    assert result.line_discounts == {"a": 16_80, "b": 11_20, "c": 5_00}


def test_the_platform_threshold_counts_what_remains_after_seller_coupons():
    books = offer("CPN-B", "seller", "fixed", seller_id=BOOKS, value_minor=20_00)
    platform = offer("CPN-P", "platform", "full_reduction", threshold_minor=140_00, value_minor=13_00)
    with pytest.raises(CouponNotApplicable):
        price(cart(), [books, platform])


def test_one_platform_coupon_and_one_per_seller():
    books = offer("CPN-B", "seller", seller_id=BOOKS, value_minor=1_00)
    tea = offer("CPN-T", "seller", seller_id=TEA, value_minor=1_00)
    assert price(cart(), [books, tea, offer("CPN-P", value_minor=1_00)]).discount_minor == 3_00

    for offers in (
        [offer("CPN-P1", value_minor=1_00), offer("CPN-P2", value_minor=1_00)],
        [books, offer("CPN-B2", "seller", seller_id=BOOKS, value_minor=1_00)],
        [books, books],
    ):
        with pytest.raises(CouponsNotStackable) as refused:
            price(cart(), offers)
        assert (refused.value.code, refused.value.field) == ("coupons_not_stackable", "coupon_ids")


def test_pricing_needs_no_django():
    """The module is pure: importing it loads no ORM, no app registry (the kernel package's
    Celery app brings a few django.utils modules, nothing more)."""
    code = (
        "import sys, coupons.pricing; "
        "print(sorted(m for m in sys.modules if m.startswith(('django.db', 'django.apps', 'coupons.'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['coupons.errors', 'coupons.pricing']"


# --- properties -------------------------------------------------------------------------

amounts = st.integers(min_value=0, max_value=10**9)
sellers = st.integers(min_value=1, max_value=3)
lines_st = st.lists(
    st.tuples(sellers, st.integers(min_value=1, max_value=5), st.sampled_from(["a", "b", "c"]), amounts),
    min_size=1,
    max_size=8,
).map(lambda rows: [Line(str(i), s, p, c, a) for i, (s, p, c, a) in enumerate(rows)])


@st.composite
def offers_st(draw):
    kind = draw(st.sampled_from(["full_reduction", "rate", "tiered", "fixed"]))
    fields = {}
    if kind == "full_reduction":
        fields = {"threshold_minor": draw(st.integers(1, 10**6)), "value_minor": draw(st.integers(1, 10**6))}
    elif kind == "rate":
        fields = {
            "rate_bps": draw(st.integers(1, 10_000)),
            "cap_minor": draw(st.none() | st.integers(1, 10**7)),
            "threshold_minor": draw(st.integers(0, 10**5)),
        }
    elif kind == "tiered":
        pairs = draw(
            st.lists(st.tuples(st.integers(0, 10**6), st.integers(1, 10**6)), min_size=1, max_size=4)
        )
        fields = {"tiers": tuple(sorted(pairs))}
    else:
        fields = {"value_minor": draw(st.integers(1, 10**8)), "threshold_minor": draw(st.integers(0, 10**4))}
    scope = draw(st.sampled_from(["all", "products", "categories"]))
    if scope == "products":
        fields["product_ids"] = frozenset(draw(st.lists(st.integers(1, 5), min_size=1, max_size=3)))
    elif scope == "categories":
        fields["categories"] = frozenset(draw(st.lists(st.sampled_from("abc"), min_size=1, max_size=2)))
    platform = draw(st.none() | st.just(dict(kind=kind, **fields)))
    seller_offers = []
    for seller in draw(st.sets(sellers, max_size=3)):
        seller_offers.append(
            Offer(
                coupon_id=f"S{seller}",
                funded_by="seller",
                kind="fixed",
                seller_id=seller,
                value_minor=draw(st.integers(1, 10**8)),
            )
        )
    offers = list(seller_offers)
    if platform:
        offers.append(Offer(coupon_id="P", funded_by="platform", seller_id=None, **platform))
    return draw(st.permutations(offers))


@settings(max_examples=500, deadline=None)
@given(lines=lines_st, offers=offers_st())
def test_any_cart_with_any_stackable_coupons_is_priced_exactly(lines, offers):
    try:
        result = price(lines, offers)
    except CouponNotApplicable:
        return  # a coupon whose threshold or lines are missing: refused as a whole
    amount = {line.key: line.amount_minor for line in lines}

    assert result.total_minor == sum(amount.values())
    assert result.discount_minor == sum(a.discount_minor for a in result.applied)
    assert result.payable_minor == result.total_minor - result.discount_minor >= 0
    assert set(result.line_discounts) == set(amount)
    assert sum(result.line_discounts.values()) == result.discount_minor
    for key, discount in result.line_discounts.items():
        assert 0 <= discount <= amount[key]  # no line below zero
    assert sorted(a.coupon_id for a in result.applied) == sorted(o.coupon_id for o in offers)
    # seller coupons first, the platform's last
    assert [a.funded_by for a in result.applied] == sorted(
        (a.funded_by for a in result.applied), reverse=True
    )
    by_id = {o.coupon_id: o for o in offers}
    for applied in result.applied:
        coupon = by_id[applied.coupon_id]
        assert applied.discount_minor > 0
        assert sum(applied.shares.values()) == applied.discount_minor
        assert all(share > 0 for share in applied.shares.values())
        covered = {line.key for line in lines if coupon.covers(line)}
        assert set(applied.shares) <= covered
        assert applied.discount_minor <= sum(amount[key] for key in covered)
    per_line = {key: 0 for key in amount}
    for applied in result.applied:
        for key, share in applied.shares.items():
            per_line[key] += share
    assert per_line == result.line_discounts


@settings(max_examples=300, deadline=None)
@given(lines=lines_st, offers=offers_st())
def test_a_single_coupon_takes_what_its_kind_says_capped_at_its_lines(lines, offers):
    platform = [o for o in offers if o.funded_by == "platform"]
    if not platform:
        return
    coupon = platform[0]
    base = sum(line.amount_minor for line in lines if coupon.covers(line))
    try:
        result = price(lines, [coupon])
    except CouponNotApplicable:
        assert base == 0 or coupon.discount_on(base) == 0
        return
    assert result.discount_minor == min(coupon.discount_on(base), base)


@settings(max_examples=200, deadline=None)
@given(lines=lines_st, extra=st.integers(1, 3))
def test_two_platform_coupons_or_two_for_one_seller_never_stack(lines, extra):
    twins = [Offer(f"P{i}", "platform", "fixed", value_minor=1) for i in range(extra + 1)]
    with pytest.raises(CouponsNotStackable):
        price(lines, twins)
    seller = lines[0].seller_id
    same_seller = [Offer(f"S{i}", "seller", "fixed", seller_id=seller, value_minor=1) for i in range(2)]
    with pytest.raises(CouponsNotStackable):
        price(lines, same_seller)


@settings(max_examples=500, deadline=None)
@given(
    units=st.integers(0, 10**12),
    weights=st.lists(st.integers(0, 10**9), min_size=1, max_size=12).filter(any),
)
def test_allocate_minor_sums_exactly_and_never_exceeds_a_weight(units, weights):
    parts = allocate_minor(units, weights)
    assert sum(parts) == units
    assert all(p >= 0 for p in parts)
    if units <= sum(weights):
        assert all(p <= w for p, w in zip(parts, weights, strict=True))
