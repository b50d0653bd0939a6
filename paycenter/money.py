"""Exact money (C7): parsing, quantizing and allocation, never a float.

The database stores amounts as integers in the currency's minor unit (`*_minor` columns);
the API speaks decimal strings in major units. Conversion happens here and only here.

Rounding rule: amounts entering the system must already be exact in the currency's minor
unit (ISO 4217) — more decimals are rejected, never rounded. Where the system itself
divides money (splits, discounts, fees), it allocates whole minor units by the largest
remainder method: each part gets the floor of its exact share, and the minor units left
over go one each to the parts with the largest remainders, ties to the earlier part. The
parts always sum exactly to the whole.
"""

import re
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from fractions import Fraction

from moneyed import CurrencyDoesNotExist, get_currency

from paycenter.errors import PaycenterError

# Below 10^12 major units: fits MoneyField(max_digits=20, decimal_places=3) with room for
# sums, and turns an accidental 1e12 into a clear error instead of a real charge.
MAX_AMOUNT = Decimal(10) ** 12
_AMOUNT_PATTERN = re.compile(r"(0|[1-9][0-9]*)(\.[0-9]+)?")


class InvalidAmount(PaycenterError):
    code = "invalid_amount"
    status = 400


class InvalidCurrency(PaycenterError):
    code = "invalid_currency"
    status = 400


def currency_exponent(currency: str) -> int:
    """Digits after the decimal point in the currency's minor unit: CNY 2, JPY 0, BHD 3."""
    try:
        sub_unit = get_currency(str(currency).upper()).sub_unit
    except (CurrencyDoesNotExist, AttributeError):
        raise InvalidCurrency(f"Unknown currency {currency!r}.", field="currency") from None
    exponent = len(str(sub_unit)) - 1
    if sub_unit != 10**exponent:
        raise InvalidCurrency(f"Currency {currency} has no decimal minor unit.", field="currency")
    return exponent


def minor_unit(currency: str) -> Decimal:
    return Decimal(1).scaleb(-currency_exponent(currency))


# Before the currency is known (it may come from the account), amounts may carry at most
# this many decimals: the most any supported currency has. `to_minor` checks the rest.
MAX_EXPONENT = 3


def parse_amount(
    value: object, currency: str | None, *, field: str = "amount", allow_zero: bool = False
) -> Decimal:
    """A decimal string in major units → an exact Decimal; anything else is InvalidAmount."""
    if not isinstance(value, str):
        raise InvalidAmount('Amounts are decimal strings such as "12.30".', field=field)
    match = _AMOUNT_PATTERN.fullmatch(value)
    if match is None:
        raise InvalidAmount(f"{value[:32]!r} is not a decimal amount.", field=field)
    exponent = MAX_EXPONENT if currency is None else currency_exponent(currency)
    decimals = len(match.group(2) or ".") - 1
    if decimals > exponent:
        raise InvalidAmount(f"{currency or 'Amounts'} have at most {exponent} decimal places.", field=field)
    amount = Decimal(value)
    if amount == 0 and not allow_zero:
        raise InvalidAmount("The amount must be greater than zero.", field=field)
    if amount >= MAX_AMOUNT:
        raise InvalidAmount("The amount is too large.", field=field)
    return amount if currency is None else quantize(amount, currency)


def quantize(amount: Decimal, currency: str, *, field: str | None = None) -> Decimal:
    """The amount in the currency's minor unit; refuses to drop any digit."""
    if not isinstance(amount, Decimal):
        raise TypeError(f"money must be Decimal, not {type(amount).__name__}")
    unit = minor_unit(currency)
    try:
        exact = amount.quantize(unit)
    except InvalidOperation:
        raise InvalidAmount("The amount is not a finite number.", field=field) from None
    if exact != amount:
        raise InvalidAmount(f"{amount} has more decimals than {currency} allows.", field=field)
    return exact


def format_amount(amount: Decimal, currency: str) -> str:
    return str(quantize(amount, currency))


def to_minor(amount: Decimal, currency: str, *, field: str | None = None) -> int:
    return int(quantize(amount, currency, field=field).scaleb(currency_exponent(currency)))


def from_minor(units: int, currency: str) -> Decimal:
    return quantize(Decimal(units).scaleb(-currency_exponent(currency)), currency)


def format_minor(units: int, currency: str) -> str:
    """Minor units as the API's decimal string: 1230, "CNY" → "12.30"."""
    return str(from_minor(units, currency))


def parse_minor(value: object, currency: str, *, field: str = "amount", allow_zero: bool = False) -> int:
    """parse_amount, in the minor units the database stores."""
    return to_minor(parse_amount(value, currency, field=field, allow_zero=allow_zero), currency)


def allocate(total: Decimal, weights: Sequence[Decimal | int], currency: str) -> list[Decimal]:
    """Split `total` in proportion to `weights` by the largest remainder (see module doc)."""
    if not weights:
        raise ValueError("allocate needs at least one weight")
    if any(isinstance(w, float) for w in weights):
        raise TypeError("weights must be Decimal or int, never float")
    # Fractions, not Decimals: a Decimal share can round up past its floor and lose a cent.
    exact_weights = [Fraction(Decimal(w)) for w in weights]
    if any(w < 0 for w in exact_weights):
        raise ValueError("weights must not be negative")
    weight_sum = sum(exact_weights)
    if weight_sum == 0:
        raise ValueError("weights must not all be zero")
    units = to_minor(total, currency)
    sign = -1 if units < 0 else 1
    parts = _largest_remainder(abs(units), exact_weights)
    return [from_minor(sign * part, currency) for part in parts]


def allocate_minor(units: int, weights: Sequence[int]) -> list[int]:
    """`allocate` in whole minor units: `units` (≥ 0) split in proportion to integer weights
    (≥ 0, not all zero) by the largest remainder; the parts sum exactly to `units`, and no
    part exceeds its weight when `units` ≤ the weights' sum (coupon discounts rely on it)."""
    if not weights:
        raise ValueError("allocate_minor needs at least one weight")
    if units < 0 or any(not isinstance(w, int) or isinstance(w, bool) or w < 0 for w in weights):
        raise ValueError("allocate_minor takes a non-negative whole amount and whole weights")
    if sum(weights) == 0:
        raise ValueError("weights must not all be zero")
    return _largest_remainder(units, [Fraction(w) for w in weights])


def _largest_remainder(units: int, exact_weights: list[Fraction]) -> list[int]:
    weight_sum = sum(exact_weights)
    shares = [units * w / weight_sum for w in exact_weights]
    floors = [s.numerator // s.denominator for s in shares]
    leftover = units - sum(floors)
    by_remainder = sorted(range(len(shares)), key=lambda i: (-(shares[i] - floors[i]), i))
    for i in by_remainder[:leftover]:
        floors[i] += 1
    return floors
