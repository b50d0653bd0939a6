# ruff: noqa: RUF001  (the bills are Chinese text)
"""Each format's parser on files built in the channel's layout, and on broken files."""

import io
import zipfile
from datetime import UTC, datetime, timedelta, timezone

import pytest

from reconciliation.errors import StatementInvalid
from reconciliation.parsers import PARSERS, Row, RowError
from reconciliation.parsers.generic import HEADER as GENERIC_HEADER
from tests.reconciliation.builders import alipay_detail, alipay_zip, generic_csv, wechat_bill

BEIJING = timezone(timedelta(hours=8))


def parse(format: str, data: bytes):
    parsed = PARSERS[format](io.BytesIO(data))
    items = list(parsed)
    return (
        [i for i in items if isinstance(i, Row)],
        [i for i in items if isinstance(i, RowError)],
        parsed.totals,
    )


def key(row: Row) -> tuple:
    return row.line_type, row.channel_serial, row.serial, row.amount_minor, row.fee_minor


def test_sandbox_statement_payments_captures_and_refunds():
    data = (
        b"trade_no,out_trade_no,type,amount,fee,currency,status,settled_at,out_refund_no\n"
        b"SB1,PAY1,payment,12.30,0.07,CNY,succeeded,2026-12-01T03:04:05+00:00,\n"
        b"SB2,PAY2,capture,5.00,0.03,CNY,succeeded,2026-12-01T04:00:00+00:00,\n"
        b"SB1,PAY1,refund,2.00,0.00,CNY,succeeded,2026-12-01T05:00:00+00:00,RFD1\n"
    )
    rows, errors, totals = parse("sandbox", data)
    assert errors == [] and totals == {}
    assert [(r.line_type, r.channel_serial, r.serial, r.amount_minor, r.fee_minor) for r in rows] == [
        ("payment", "SB1", "PAY1", 1230, 7),
        ("payment", "SB2", "PAY2", 500, 3),
        ("refund", "RFD1", "RFD1", 200, 0),
    ]
    assert rows[0].completed_at == datetime(2026, 12, 1, 3, 4, 5, tzinfo=UTC)


def test_wechat_bill_with_backticks_refunds_and_summary():
    data = wechat_bill(
        [{"at": "2026-12-01 10:00:00", "transaction_id": "4200001", "out_trade_no": "PAY1", "fen": 10000}],
        [
            {
                "at": "2026-12-01 11:00:00",
                "transaction_id": "4200001",
                "out_trade_no": "PAY1",
                "refund_id": "5030001",
                "out_refund_no": "RFD1",
                "fen": 2500,
            }
        ],
    )
    rows, errors, totals = parse("wechatpay", data)
    assert errors == []
    payment, refund = rows
    assert key(payment) == (
        "payment", "4200001", "PAY1", 10000, 60,
    )  # fmt: skip
    assert key(refund) == (
        "refund", "5030001", "RFD1", 2500, -15,
    )  # fmt: skip
    assert payment.completed_at == datetime(2026, 12, 1, 10, tzinfo=BEIJING)
    assert payment.status == refund.status == "succeeded"
    assert totals == {"count": 2, "paid_minor": 10000, "refunded_minor": 2500, "fee_minor": 45}


PAYMENT = {"trade_no": "2026120122001", "out_trade_no": "PAY1", "fen": 8800, "at": "2026-12-01 09:30:00"}
REFUND = {**PAYMENT, "fen": 800, "request_no": "RFD1", "at": "2026-12-01 12:00:00"}


@pytest.mark.parametrize("zipped", [False, True], ids=["csv", "zip"])
def test_alipay_detail_bill_gbk_with_comments_end_marker_and_summary(zipped):
    detail = alipay_detail([PAYMENT], [REFUND])
    data = alipay_zip(detail) if zipped else detail.encode("gbk")
    rows, errors, totals = parse("alipay", data)
    assert errors == []
    payment, refund = rows
    assert key(payment) == (
        "payment", "2026120122001", "PAY1", 8800, 53,
    )  # fmt: skip
    assert key(refund) == (
        "refund", "RFD1", "RFD1", 800, 0,
    )  # fmt: skip
    assert payment.completed_at == datetime(2026, 12, 1, 9, 30, tzinfo=BEIJING)
    assert totals == {"payments_count": 1, "payments_minor": 8800, "refunds_count": 1, "refunds_minor": 800}


def test_generic_csv():
    data = generic_csv(
        [
            {"channel_trade_no": "C1", "trade_no": "PAY1", "out_trade_no": "o-1", "type": "payment",
             "amount": "10.00", "fee": "0.06", "currency": "CNY", "completed_at": "2026-12-01T10:00:00Z",
             "status": "SUCCESS"},
            {"channel_trade_no": "C2", "trade_no": "RFD1", "out_trade_no": "", "type": "refund",
             "amount": "1.00", "fee": "-0.01", "currency": "JPY", "completed_at": "2026-12-01T10:00:00",
             "status": "succeeded"},
        ]
    )  # fmt: skip
    rows, errors, _ = parse("generic", data)
    assert [e.message for e in errors] == ["JPY have at most 0 decimal places."]
    (row,) = rows
    assert (*key(row)[1:], row.out_trade_no, row.status) == (
        "C1", "PAY1", 1000, 6, "o-1", "succeeded",
    )  # fmt: skip


def _xlsx(rows: list[list[tuple[str, str]]]) -> bytes:
    """A minimal workbook: cells as (type, text), type "s" inline string or "n" number."""
    ns = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    body = []
    for r, cells in enumerate(rows, start=1):
        xml_cells = []
        for c, (kind, text) in enumerate(cells):
            ref = f"{chr(65 + c)}{r}"
            if kind == "n":
                xml_cells.append(f'<c r="{ref}"><v>{text}</v></c>')
            else:
                xml_cells.append(f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>')
        body.append(f'<row r="{r}">{"".join(xml_cells)}</row>')
    sheet = f'<?xml version="1.0"?><worksheet xmlns="{ns}"><sheetData>{"".join(body)}</sheetData></worksheet>'
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("xl/worksheets/sheet1.xml", sheet)
    return buffer.getvalue()


def test_generic_xlsx_refuses_number_cells_for_amounts():
    header = [("s", c) for c in GENERIC_HEADER]
    good = [
        ("s", v)
        for v in ["C1", "PAY1", "", "payment", "10.00", "0.06", "CNY", "2026-12-01T10:00:00Z", "succeeded"]
    ]
    bad = list(good)
    bad[0], bad[4] = ("s", "C2"), ("n", "10.1")
    rows, errors, _ = parse("generic", _xlsx([header, good, bad]))
    assert [r.channel_serial for r in rows] == ["C1"]
    assert [(e.row_number, e.column) for e in errors] == [(3, "amount")]


def test_wrong_encoding_is_a_clear_file_error():
    detail = alipay_detail([PAYMENT], []).encode("utf-8")  # not GBK
    with pytest.raises(StatementInvalid, match="not GBK text"):
        parse("alipay", detail)


def test_missing_column_is_a_clear_file_error():
    data = wechat_bill([], []).replace("手续费,".encode(), b"", 1)
    with pytest.raises(StatementInvalid, match=r"Missing column.*手续费"):
        parse("wechatpay", data)
    with pytest.raises(StatementInvalid, match="header must be exactly"):
        parse("generic", b"channel_trade_no,trade_no,type,amount\n")


def test_a_broken_amount_is_a_row_error_and_the_other_rows_still_read():
    detail = alipay_detail([PAYMENT, {**PAYMENT, "trade_no": "2026120122002", "out_trade_no": "PAY2"}], [])
    detail = detail.replace("88.00\t,88.00", "88.00\t,8x8.00", 1)  # the first row's 商家实收
    rows, errors, _ = parse("alipay", detail.encode("gbk"))
    assert [r.serial for r in rows] == ["PAY2"]
    (error,) = errors
    assert error.row_number == 6 and error.column == "商家实收（元）"
    assert "is not a decimal amount" in error.message


def test_a_cut_short_bill_is_refused():
    with pytest.raises(StatementInvalid, match="end marker"):
        parse("alipay", alipay_detail([PAYMENT], [], end_marker=False).encode("gbk"))
    whole = wechat_bill(
        [{"at": "2026-12-01 10:00:00", "transaction_id": "1", "out_trade_no": "P", "fen": 1}], []
    )
    with pytest.raises(StatementInvalid, match="no summary"):
        parse("wechatpay", whole.split("总交易单数".encode())[0])
