"""What every statement parser yields: normalized rows, or a row's error. Parsers read a
binary stream line by line — a statement is never held whole in memory — and raise
StatementInvalid for what spoils the whole file (encoding, layout, a missing column)."""

import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import BinaryIO

from paycenter.money import InvalidAmount, InvalidCurrency, parse_minor
from reconciliation.choices import LineType
from reconciliation.errors import StatementInvalid

SUCCEEDED = "succeeded"


@dataclass(frozen=True)
class Row:
    row_number: int
    line_type: str
    channel_serial: str
    serial: str
    out_trade_no: str
    amount_minor: int  # positive; line_type says which way it went
    fee_minor: int  # what the channel kept; negative when a refund gives some back
    currency: str
    completed_at: datetime | None
    status: str
    raw: dict


@dataclass(frozen=True)
class RowError:
    row_number: int
    column: str
    message: str

    def __str__(self) -> str:
        return f"row {self.row_number}, {self.column}: {self.message}"


class BadCell(Exception):
    def __init__(self, column: str, message: str) -> None:
        self.column = column
        self.message = message


@dataclass
class Parsed:
    """Iterate for rows and errors; `totals` holds the statement's own summary once the
    iteration is over (empty for formats without one)."""

    source: Iterable[Row | RowError]
    totals: dict = field(default_factory=dict)

    def __iter__(self) -> Iterator[Row | RowError]:
        return iter(self.source)


def text_lines(stream: BinaryIO, *, encoding: str) -> Iterator[tuple[int, str]]:
    """(line number, line) decoded as it is read; a byte sequence that is not `encoding`
    spoils the file, with where."""
    wrapper = io.TextIOWrapper(stream, encoding=encoding, newline="")
    number = 0
    try:
        for number, line in enumerate(wrapper, start=1):
            yield number, line.rstrip("\r\n")
    except UnicodeDecodeError:
        raise StatementInvalid(f"Line {number + 1} is not {encoding.upper()} text: wrong encoding?") from None
    finally:
        wrapper.detach()


def require_columns(header: list[str], needed: Iterable[str]) -> None:
    missing = [c for c in needed if c not in header]
    if missing:
        raise StatementInvalid(f"Missing column(s): {', '.join(missing)}.")


def cell(raw: dict, column: str) -> str:
    value = raw.get(column)
    if value is None:
        raise BadCell(column, "the row ends before this column")
    return value


def amount(raw: dict, column: str, currency: str, *, signed: bool = False, allow_zero: bool = False) -> int:
    """A decimal string in major units → minor units, exactly (paycenter.money)."""
    text = cell(raw, column)
    negative = signed and text.startswith("-")
    try:
        units = parse_minor(text[1:] if negative else text, currency, field=column, allow_zero=allow_zero)
    except (InvalidAmount, InvalidCurrency) as error:
        raise BadCell(column, error.message) from None
    return -units if negative else units


def currency_of(raw: dict, column: str) -> str:
    code = cell(raw, column).upper()
    if not re.fullmatch(r"[A-Z]{3}", code):
        raise BadCell(column, f"{code[:16]!r} is not a currency code")
    return code


def moment(raw: dict, column: str, *, fmt: str | None = None, tz: tzinfo = UTC) -> datetime:
    text = cell(raw, column)
    try:
        at = datetime.strptime(text, fmt) if fmt else datetime.fromisoformat(text)  # noqa: DTZ007 (zone below)
    except ValueError:
        raise BadCell(column, f"{text[:32]!r} is not a time ({fmt or 'ISO 8601'})") from None
    return at if at.tzinfo else at.replace(tzinfo=tz)


def line_type(text: str, column: str, *, payments: set[str], refunds: set[str]) -> str:
    if text in payments:
        return LineType.PAYMENT
    if text in refunds:
        return LineType.REFUND
    raise BadCell(column, f"{text[:16]!r} is neither a payment nor a refund")


def fee_signed(units: int, kind: str) -> int:
    """Channels write fees with either sign; here a payment's fee is what the channel
    kept (≥ 0) and a refund's what it gave back (≤ 0)."""
    return abs(units) if kind == LineType.PAYMENT else -abs(units)


def nonempty(raw: dict, column: str) -> str:
    value = cell(raw, column)
    if not value:
        raise BadCell(column, "must not be empty")
    if len(value) > 64:
        raise BadCell(column, "is longer than 64 characters")
    return value
