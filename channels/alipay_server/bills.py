# ruff: noqa: RUF001  (the bill is Chinese text: full-width punctuation is what Alipay writes)
"""The trade bill (业务明细) as Alipay's merchant platform exports it: GBK CSV with `#` header
lines, the column row, one row per payment or refund (each cell followed by a tab, as the
real file has), the end marker, summary lines; zipped beside its 汇总 (summary) file."""

import io
import zipfile
from datetime import date
from decimal import Decimal

from .platform import App, Trade, china_now

COLUMNS = (
    "支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号,对方账户,"
    "订单金额（元）,商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,商家优惠（元）,券核销金额（元）,"
    "券名称,商家红包消费金额（元）,卡消费金额（元）,退款批次号/请求号,服务费（元）,分润（元）,备注"
)
ZERO = Decimal("0.00")
RULE = "#-----------------------------------------"


def _when(moment) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _cn_day(day: date) -> str:
    return f"{day.year}年{day.month:02d}月{day.day:02d}日"


def _row(trade: Trade, *, kind: str, at, amount: Decimal, request_no: str = "") -> str:
    cells = [
        trade.trade_no, trade.out_trade_no, kind, trade.subject.replace(",", " "),
        _when(trade.created), _when(at),
        "", "", "", "", "138****0000", str(trade.total), str(amount), "0.00", "0.00", "0.00", "0.00", "0.00",
        "", "0.00", "0.00", request_no, "0.00", "0.00", "",
    ]  # fmt: skip
    return ",".join(f"{cell}\t" for cell in cells)


def trade_bill(*, seller: App, trades: list[Trade], day: date) -> tuple[str, str]:
    """(detail CSV, summary CSV) for the seller's trades paid or refunded on `day` (China time)."""
    rows, paid, refunded = [], [], []
    for trade in sorted(trades, key=lambda t: t.paid_at or t.created):
        if trade.seller.pid != seller.pid:
            continue
        if trade.paid_at and trade.paid_at.date() == day:
            rows.append(_row(trade, kind="交易", at=trade.paid_at, amount=trade.total))
            paid.append(trade.total)
        for refund in trade.refunds:
            if refund["at"].date() == day:
                rows.append(
                    _row(
                        trade,
                        kind="退款",
                        at=refund["at"],
                        amount=-refund["amount"],
                        request_no=refund["out_request_no"],
                    )
                )
                refunded.append(-refund["amount"])
    exported = _cn_day(china_now().date()) + china_now().strftime(" %H:%M:%S")
    lines = [
        "#支付宝业务明细查询",
        f"#账号：[{seller.pid}0156]",
        f"#起始日期：[{_cn_day(day)} 00:00:00]   终止日期：[{_cn_day(day)} 23:59:59]",
        RULE + "业务明细列表----------------------------------------",
        COLUMNS,
        *rows,
        RULE + "业务明细列表结束------------------------------------",
        f"#交易合计：{len(paid)}笔，商家实收：{sum(paid, ZERO)}元，商家优惠：0.00元",
        f"#退款合计：{len(refunded)}笔，商家实收：{sum(refunded, ZERO)}元，商家优惠：0.00元",
        f"#导出时间：[{exported}]",
    ]
    summary = [
        "#支付宝业务汇总查询",
        f"#账号：[{seller.pid}0156]",
        "门店编号,门店名称,交易订单总笔数,退款订单总笔数,订单金额（元）,商家实收（元）",
        f"合计,,{len(paid)},{len(refunded)},{sum(paid, ZERO)},{sum(paid + refunded, ZERO)}",
        f"#导出时间：[{exported}]",
    ]
    return "\r\n".join(lines) + "\r\n", "\r\n".join(summary) + "\r\n"


def bill_zip(*, seller: App, trades: list[Trade], day: date) -> bytes:
    detail, summary = trade_bill(seller=seller, trades=trades, day=day)
    stem = f"{seller.pid}0156_{day:%Y%m%d}"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{stem}_业务明细.csv", detail.encode("gbk"))
        archive.writestr(f"{stem}_业务明细(汇总).csv", summary.encode("gbk"))
    return buffer.getvalue()
