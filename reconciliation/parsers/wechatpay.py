"""WeChat Pay v3 trade bills (tradebill, bill_type ALL): a header line, rows with every
value prefixed by a backtick, then the summary header (总交易单数, …) and its line. Times
are Beijing time. 商户订单号 / 商户退款单号 are our serials (the plugin sends them)."""

import csv
from collections.abc import Iterator
from typing import BinaryIO

from channels.plugins.wechatpay.bill import BEIJING, fen
from reconciliation.choices import LineType
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
    moment,
    nonempty,
    require_columns,
    text_lines,
)

COLUMNS = [
    "交易时间", "微信订单号", "商户订单号", "交易状态", "货币种类", "应结订单金额",
    "微信退款单号", "商户退款单号", "退款金额", "退款状态", "手续费",
]  # fmt: skip
SUMMARY_FIRST = "总交易单数"
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def parse(stream: BinaryIO) -> Parsed:
    parsed = Parsed([])
    parsed.source = _rows(stream, parsed.totals)
    return parsed


def _cells(line: str) -> list[str]:
    return [value.removeprefix("`").strip() for value in next(csv.reader([line]), [])]


def _rows(stream: BinaryIO, totals: dict) -> Iterator[Row | RowError]:
    header: list[str] | None = None
    summary_next = False
    for number, line in text_lines(stream, encoding="utf-8-sig"):
        if not line.strip():
            continue
        cells = _cells(line)
        if header is None:
            header = cells
            require_columns(header, COLUMNS)
            continue
        if cells[0] == SUMMARY_FIRST:
            summary_next = True
            summary_header = cells
            continue
        if summary_next:
            totals.update(_totals(dict(zip(summary_header, cells, strict=False))))
            break
        try:
            yield _row(number, dict(zip(header, cells, strict=False)))
        except BadCell as bad:
            yield RowError(number, bad.column, bad.message)
    if header is None:
        raise StatementInvalid("The bill is empty.")
    if not summary_next:
        raise StatementInvalid(f"The bill has no summary ({SUMMARY_FIRST} …): cut short?")


def _row(number: int, raw: dict) -> Row:
    refund = cell(raw, "交易状态") == "REFUND"
    kind = LineType.REFUND if refund else LineType.PAYMENT
    currency = currency_of(raw, "货币种类")
    status = cell(raw, "退款状态") if refund else cell(raw, "交易状态")
    return Row(
        row_number=number,
        line_type=kind,
        channel_serial=nonempty(raw, "微信退款单号" if refund else "微信订单号"),
        serial=nonempty(raw, "商户退款单号" if refund else "商户订单号"),
        out_trade_no="",
        amount_minor=amount(raw, "退款金额" if refund else "应结订单金额", currency),
        fee_minor=fee_signed(amount(raw, "手续费", currency, signed=True, allow_zero=True), kind),
        currency=currency,
        completed_at=moment(raw, "交易时间", fmt=TIME_FORMAT, tz=BEIJING),
        status=SUCCEEDED if status == "SUCCESS" else status.lower(),
        raw=raw,
    )


def _totals(summary: dict) -> dict:
    try:
        return {
            "count": int(summary["总交易单数"]),
            "paid_minor": fen(summary["应结订单总金额"]),
            "refunded_minor": fen(summary["退款总金额"]),
            "fee_minor": fen(summary["手续费总金额"]),
        }
    except (KeyError, ValueError):
        raise StatementInvalid("The bill's summary line cannot be read.") from None
