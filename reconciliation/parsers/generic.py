"""The generic statement any channel can be exported to: CSV (UTF-8) or XLSX with exactly
the header `channel_trade_no,trade_no,out_trade_no,type,amount,fee,currency,completed_at,status`.
`trade_no` is our serial; amounts are decimal strings (in XLSX, text cells: a number
cell is a float and is refused); `completed_at` is ISO 8601 (no offset means UTC)."""

import csv
from collections.abc import Iterable, Iterator
from typing import BinaryIO

from reconciliation.parsers import xlsx
from reconciliation.parsers.base import (
    SUCCEEDED,
    BadCell,
    Parsed,
    Row,
    RowError,
    StatementInvalid,
    amount,
    cell,
    currency_of,
    fee_signed,
    line_type,
    moment,
    nonempty,
    text_lines,
)

HEADER = [
    "channel_trade_no", "trade_no", "out_trade_no", "type",
    "amount", "fee", "currency", "completed_at", "status",
]  # fmt: skip
SUCCESS_WORDS = {"succeeded", "success", "successful", "paid", "settled"}


def parse(stream: BinaryIO) -> Parsed:
    if xlsx.is_zip(stream):
        return Parsed(_rows(xlsx.rows(stream)))
    reader = csv.reader(line for _, line in text_lines(stream, encoding="utf-8-sig"))
    return Parsed(_rows((reader.line_num, cells) for cells in reader))


def _rows(numbered: Iterable[tuple[int, list[str | None]]]) -> Iterator[Row | RowError]:
    numbered = iter(numbered)
    first = next(numbered, None)
    if first is None:
        raise StatementInvalid("The statement is empty.")
    header = [(c or "").strip() for c in first[1]]
    while header and not header[-1]:
        header.pop()
    if header != HEADER:
        missing = [c for c in HEADER if c not in header]
        detail = f"missing {', '.join(missing)}" if missing else "columns in another order or extra ones"
        raise StatementInvalid(f"The header must be exactly {','.join(HEADER)} ({detail}).")
    for number, cells in numbered:
        if not any(cells):
            continue
        raw = {}
        try:
            for column, value in zip(HEADER, cells, strict=False):
                if isinstance(value, xlsx.NumberCell):
                    raise BadCell(column, "must be a text cell (numbers in a spreadsheet are floats)")
                raw[column] = (value or "").strip()
            yield _row(number, raw)
        except BadCell as bad:
            yield RowError(number, bad.column, bad.message)


def _row(number: int, raw: dict) -> Row:
    kind = line_type(cell(raw, "type").lower(), "type", payments={"payment"}, refunds={"refund"})
    currency = currency_of(raw, "currency")
    status = cell(raw, "status").lower()
    return Row(
        row_number=number,
        line_type=kind,
        channel_serial=nonempty(raw, "channel_trade_no"),
        serial=cell(raw, "trade_no")[:64],
        out_trade_no=cell(raw, "out_trade_no")[:64],
        amount_minor=amount(raw, "amount", currency),
        fee_minor=fee_signed(amount(raw, "fee", currency, signed=True, allow_zero=True), kind),
        currency=currency,
        completed_at=moment(raw, "completed_at"),
        status=SUCCEEDED if status in SUCCESS_WORDS else status,
        raw=raw,
    )
