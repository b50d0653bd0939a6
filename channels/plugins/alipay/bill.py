"""The trade bill (业务明细) Alipay's download URL leads to: a ZIP holding the detail CSV and
its summary, GBK-encoded, with `#` header and summary lines around the rows."""

import contextlib
import csv
import io
import zipfile
from dataclasses import dataclass

from paycenter.money import parse_minor

DETAIL = "业务明细"
SUMMARY = "汇总"
END_MARK = "业务明细列表结束"


def detail_csv(archive: bytes) -> bytes:
    """The 业务明细 CSV (not its 汇总) from the downloaded ZIP, bytes as Alipay wrote them."""
    with zipfile.ZipFile(io.BytesIO(archive)) as zipped:
        for info in zipped.infolist():
            name = info.filename
            if not info.flag_bits & 0x800:  # no UTF-8 flag: Alipay's names are GBK
                with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
                    name = name.encode("cp437").decode("gbk")
            if name.endswith(".csv") and DETAIL in name and SUMMARY not in name:
                return zipped.read(info)
    raise ValueError("no 业务明细 CSV in the bill")


@dataclass(frozen=True)
class BillRow:
    trade_no: str
    out_trade_no: str
    kind: str  # 交易 (a payment) or 退款 (a refund)
    amount_minor: int  # 商家实收, positive; the kind says which way it went
    finished_at: str
    refund_request_no: str
    raw: dict


def parse_trade_bill(data: bytes) -> list[BillRow]:
    """The rows of a 业务明细 CSV: the `#` lines skipped, cells stripped of Alipay's tabs."""
    lines = data.decode("gbk").splitlines()
    body = []
    for line in lines:
        if line.startswith("#"):
            if END_MARK in line:
                break
            continue
        if line.strip():
            body.append(line)
    reader = csv.reader(body)
    header = [cell.strip() for cell in next(reader, [])]
    rows = []
    for cells in reader:
        raw = dict(zip(header, (cell.strip() for cell in cells), strict=False))
        rows.append(
            BillRow(
                trade_no=raw["支付宝交易号"],
                out_trade_no=raw["商户订单号"],
                kind=raw["业务类型"],
                amount_minor=parse_minor(raw["商家实收（元）"].lstrip("-"), "CNY"),  # noqa: RUF001
                finished_at=raw["完成时间"],
                refund_request_no=raw.get("退款批次号/请求号", ""),
                raw=raw,
            )
        )
    return rows
