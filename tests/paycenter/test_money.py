from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paycenter.money import (
    InvalidAmount,
    InvalidCurrency,
    allocate,
    currency_exponent,
    format_amount,
    from_minor,
    parse_amount,
    to_minor,
)


@pytest.mark.parametrize(
    ("currency", "exponent"), [("CNY", 2), ("USD", 2), ("JPY", 0), ("BHD", 3), ("KWD", 3)]
)
def test_exponent_follows_iso_4217(currency, exponent):
    assert currency_exponent(currency) == exponent


def test_unknown_currency_is_refused():
    with pytest.raises(InvalidCurrency):
        currency_exponent("XXZ")


@pytest.mark.parametrize(
    ("text", "currency", "expected"),
    [
        ("12.30", "CNY", Decimal("12.30")),
        ("12.3", "CNY", Decimal("12.30")),
        ("12", "CNY", Decimal("12.00")),
        ("0.01", "CNY", Decimal("0.01")),
        ("1500", "JPY", Decimal("1500")),
        ("1.234", "BHD", Decimal("1.234")),
    ],
)
def test_parse_amount_gives_exact_decimal_in_minor_unit(text, currency, expected):
    amount = parse_amount(text, currency)
    assert amount == expected
    assert amount.as_tuple().exponent == -currency_exponent(currency)


@pytest.mark.parametrize(
    "value",
    [
        "12.345",
        "1.5e2",
        "NaN",
        "Infinity",
        "-1.00",
        "+1.00",
        " 1.00",
        "1,00",
        "",
        "abc",
        "01.00",
        "1.",
        ".5",
        "1000000000000",
        "1e12",
        12.3,
        12,
        None,
        True,
        ["1.00"],
    ],
)
def test_parse_amount_refuses_what_is_not_an_exact_positive_decimal_string(value):
    with pytest.raises(InvalidAmount) as error:
        parse_amount(value, "CNY")
    assert error.value.code == "invalid_amount"
    assert error.value.field == "amount"


def test_zero_is_refused_unless_allowed():
    with pytest.raises(InvalidAmount):
        parse_amount("0.00", "CNY")
    assert parse_amount("0", "CNY", allow_zero=True) == Decimal("0.00")


def test_yen_has_no_decimals():
    with pytest.raises(InvalidAmount):
        parse_amount("100.5", "JPY")


def test_minor_units_round_trip():
    assert to_minor(Decimal("12.34"), "CNY") == 1234
    assert from_minor(1234, "CNY") == Decimal("12.34")
    assert format_amount(Decimal("12.300"), "CNY") == "12.30"


def test_allocation_breaks_ties_to_the_earlier_part():
    assert allocate(Decimal("0.10"), [1, 1, 1], "CNY") == [Decimal("0.04"), Decimal("0.03"), Decimal("0.03")]
    assert allocate(Decimal("100.00"), [Decimal("1"), Decimal("2")], "CNY") == [
        Decimal("33.33"),
        Decimal("66.67"),
    ]


def test_allocation_refuses_floats_and_bad_weights():
    with pytest.raises(TypeError):
        allocate(Decimal("1.00"), [0.5, 0.5], "CNY")
    with pytest.raises(ValueError):
        allocate(Decimal("1.00"), [0, 0], "CNY")
    with pytest.raises(ValueError):
        allocate(Decimal("1.00"), [1, -1], "CNY")


currencies = st.sampled_from(["CNY", "JPY", "BHD"])
weights = st.lists(
    st.decimals(min_value=0, max_value=10**9, places=3, allow_nan=False, allow_infinity=False),
    min_size=1,
    max_size=30,
).filter(lambda ws: sum(ws) > 0)


@given(units=st.integers(min_value=-(10**14), max_value=10**14), weights=weights, currency=currencies)
def test_allocation_always_sums_exactly_and_parts_share_the_sign(units, weights, currency):
    total = from_minor(units, currency)
    parts = allocate(total, weights, currency)
    assert sum(parts) == total
    assert len(parts) == len(weights)
    assert all(part >= 0 for part in parts) if units >= 0 else all(part <= 0 for part in parts)
    for part in parts:
        assert part == part.quantize(Decimal(1).scaleb(-currency_exponent(currency)))


@given(units=st.integers(min_value=0, max_value=10**12), weights=weights)
def test_allocation_parts_are_within_one_minor_unit_of_the_exact_share(units, weights):
    total = from_minor(units, "CNY")
    parts = allocate(total, weights, "CNY")
    weight_sum = sum(weights)
    for part, weight in zip(parts, weights, strict=True):
        exact_share = Decimal(units) * weight / weight_sum
        assert abs(to_minor(part, "CNY") - exact_share) < 1


@given(units=st.integers(min_value=1, max_value=10**14 - 1))
def test_parse_amount_accepts_every_valid_cny_string(units):
    text = format_amount(from_minor(units, "CNY"), "CNY")
    assert to_minor(parse_amount(text, "CNY"), "CNY") == units
