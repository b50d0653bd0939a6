# ruff: noqa: RUF001, RUF003  (Alipay's column names have full-width punctuation)
"""Alipay's business detail bill (业务明细): GBK CSV, on its own or inside the downloaded
ZIP, `#` lines before the column row, cells followed by tabs, an end marker line
(`#-----…业务明细列表结束…`) and `#` summary lines after it. 商户订单号 and the refund
request number are our serials (the plugin sends them); 服务费 is the channel's fee."""

import contextlib
import csv
import re
import zipfile
from collections.abc import Iterator
from typing import BinaryIO

from channels.plugins.alipay.bill import DETAIL, END_MARK, SUMMARY
from channels.plugins.wechatpay.bill import BEIJING
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
    fee_signed,
    line_type,
    moment,
    nonempty,
    require_columns,
    text_lines,
)
from reconciliation.parsers.xlsx import is_zip

COLUMNS = [
    "支付宝交易号", "商户订单号", "业务类型", "完成时间",
    "商家实收（元）", "退款批次号/请求号", "服务费（元）",
]  # fmt: skip
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
# "#交易合计：3笔，商家实收：30.00元，…" / "#退款合计：1笔，商家实收：-5.00元，…"
_TOTAL = re.compile(r"#(交易|退款)合计：(\d+)笔，商家实收：(-?[0-9.]+)元")


def parse(stream: BinaryIO) -> Parsed:
    parsed = Parsed([])
    parsed.source = _rows(stream, parsed.totals)
    return parsed


def _detail(stream: BinaryIO) -> BinaryIO:
    """The 业务明细 CSV itself: the stream, or its entry in the ZIP (read as a stream)."""
    if not is_zip(stream):
        return stream
    try:
        archive = zipfile.ZipFile(stream)
    except zipfile.BadZipFile:
        raise StatementInvalid("The ZIP cannot be read.") from None
    for info in archive.infolist():
        name = info.filename
        if not info.flag_bits & 0x800:  # no UTF-8 flag: Alipay's names are GBK
            with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
                name = name.encode("cp437").decode("gbk")
        if name.endswith(".csv") and DETAIL in name and SUMMARY not in name:
            return archive.open(info)
    raise StatementInvalid("The ZIP holds no 业务明细 CSV.")


def _rows(stream: BinaryIO, totals: dict) -> Iterator[Row | RowError]:
    header: list[str] | None = None
    ended = False
    for number, line in text_lines(_detail(stream), encoding="gbk"):
        if line.startswith("#"):
            if header is not None and END_MARK in line:
                ended = True
            elif ended and (match := _TOTAL.match(line)):
                key = "payments" if match.group(1) == "交易" else "refunds"
                totals[f"{key}_count"] = int(match.group(2))
                totals[f"{key}_minor"] = abs(_yuan(match.group(3)))
            continue
        if not line.strip() or ended:
            continue
        cells = [c.strip() for c in next(csv.reader([line]), [])]
        if header is None:
            header = cells
            require_columns(header, COLUMNS)
            continue
        try:
            yield _row(number, dict(zip(header, cells, strict=False)))
        except BadCell as bad:
            yield RowError(number, bad.column, bad.message)
    if header is None:
        raise StatementInvalid("No 业务明细 column row: is this an Alipay business detail bill?")
    if not ended:
        raise StatementInvalid("The bill has no end marker (业务明细列表结束): cut short?")


def _yuan(text: str) -> int:
    try:
        return amount({"x": text}, "x", "CNY", signed=True, allow_zero=True)
    except BadCell:
        raise StatementInvalid(f"A summary amount {text!r} cannot be read.") from None


def _row(number: int, raw: dict) -> Row:
    kind = line_type(cell(raw, "业务类型"), "业务类型", payments={"交易"}, refunds={"退款"})
    refund = kind == LineType.REFUND
    paid = amount(raw, "商家实收（元）", "CNY", signed=True)
    request_no = nonempty(raw, "退款批次号/请求号") if refund else ""
    return Row(
        row_number=number,
        line_type=kind,
        channel_serial=request_no if refund else nonempty(raw, "支付宝交易号"),
        serial=request_no if refund else nonempty(raw, "商户订单号"),
        out_trade_no="",
        amount_minor=abs(paid),
        fee_minor=fee_signed(amount(raw, "服务费（元）", "CNY", signed=True, allow_zero=True), kind),
        currency="CNY",
        completed_at=moment(raw, "完成时间", fmt=TIME_FORMAT, tz=BEIJING),
        status=SUCCEEDED,
        raw=raw,
    )
