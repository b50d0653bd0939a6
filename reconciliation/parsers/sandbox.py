"""The sandbox platform's daily statement (docs/sandbox.md): plain CSV, UTC times.

Refund rows carry the payment's trade_no and our refund serial (out_refund_no), not a
refund number of the channel's: the refund serial is the line's key and our serial."""

import csv
from collections.abc import Iterator
from typing import BinaryIO

from reconciliation.choices import LineType
from reconciliation.parsers.base import (
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
    require_columns,
    text_lines,
)

COLUMNS = [
    "trade_no", "out_trade_no", "type", "amount", "fee", "currency", "status", "settled_at", "out_refund_no",
]  # fmt: skip


def parse(stream: BinaryIO) -> Parsed:
    return Parsed(_rows(stream))


def _rows(stream: BinaryIO) -> Iterator[Row | RowError]:
    reader = csv.reader(line for _, line in text_lines(stream, encoding="utf-8-sig"))
    header = next(reader, None)
    if header is None:
        raise StatementInvalid("The statement is empty.")
    require_columns(header, COLUMNS)
    for cells in reader:
        number = reader.line_num
        if not any(cells):
            continue
        raw = dict(zip(header, cells, strict=False))
        try:
            yield _row(number, raw)
        except BadCell as bad:
            yield RowError(number, bad.column, bad.message)


def _row(number: int, raw: dict) -> Row:
    kind = line_type(cell(raw, "type"), "type", payments={"payment", "capture"}, refunds={"refund"})
    currency = currency_of(raw, "currency")
    refund = kind == LineType.REFUND
    serial = nonempty(raw, "out_refund_no") if refund else nonempty(raw, "out_trade_no")
    return Row(
        row_number=number,
        line_type=kind,
        channel_serial=serial if refund else nonempty(raw, "trade_no"),
        serial=serial,
        out_trade_no="",  # the sandbox's out_trade_no is our serial, not the app's number
        amount_minor=amount(raw, "amount", currency),
        fee_minor=fee_signed(amount(raw, "fee", currency, signed=True, allow_zero=True), kind),
        currency=currency,
        completed_at=moment(raw, "settled_at"),
        status=cell(raw, "status").lower(),
        raw=raw,
    )
