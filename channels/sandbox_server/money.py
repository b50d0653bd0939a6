"""Decimal amounts in major units, as strings on the wire; never float."""

import re
from decimal import ROUND_HALF_UP, Decimal

from .errors import SandboxError

MINOR_UNITS = {
    "CNY": 2,
    "USD": 2,
    "EUR": 2,
    "HKD": 2,
    "GBP": 2,
    "SGD": 2,
    "JPY": 0,
    "KRW": 0,
    "BHD": 3,
    "KWD": 3,
}
FEE_RATE = Decimal("0.006")
MAX_AMOUNT = Decimal(10) ** 12
# Plain digits only: exponents, signs and spaces are what a careless client sends by mistake.
_AMOUNT = re.compile(r"\d{1,13}(\.\d{1,3})?")


def check_currency(currency: object) -> str:
    if not isinstance(currency, str) or currency not in MINOR_UNITS:
        raise SandboxError(400, "INVALID_CURRENCY", f"currency must be one of {', '.join(MINOR_UNITS)}")
    return currency


def _exponent(currency: str) -> Decimal:
    return Decimal(1).scaleb(-MINOR_UNITS[currency])


def parse_amount(value: object, currency: str, *, field: str = "amount") -> Decimal:
    """A positive decimal string with at most the currency's minor digits; too many are refused."""
    if not isinstance(value, str) or not _AMOUNT.fullmatch(value):
        raise SandboxError(400, "INVALID_AMOUNT", f"{field} must be a decimal string such as '12.30'")
    amount = Decimal(value)
    if amount <= 0 or amount >= MAX_AMOUNT:
        raise SandboxError(400, "INVALID_AMOUNT", f"{field} must be positive and below 1e12")
    if amount != amount.quantize(_exponent(currency)):
        raise SandboxError(400, "INVALID_AMOUNT", f"{field} has more decimals than {currency} allows")
    return amount.quantize(_exponent(currency))


def fmt(amount: Decimal | str, currency: str) -> str:
    return format(Decimal(amount).quantize(_exponent(currency)), "f")


def fee(amount: Decimal | str, currency: str) -> str:
    """The platform's 0.6 % cut, rounded half-up to the minor unit."""
    return format((Decimal(amount) * FEE_RATE).quantize(_exponent(currency), rounding=ROUND_HALF_UP), "f")
