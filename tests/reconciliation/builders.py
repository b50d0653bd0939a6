# ruff: noqa: RUF001  (the bills are Chinese text: full-width punctuation is what the channels write)
"""Statement files in each channel's published layout, and fast bulk-made transactions."""

import csv
import io
import zipfile
from datetime import datetime, timedelta

from channels.alipay_server.bills import COLUMNS as ALIPAY_COLUMNS
from channels.alipay_server.bills import RULE
from channels.wechatpay_server.bills import HEADER as WECHAT_HEADER
from channels.wechatpay_server.bills import SUMMARY_HEADER as WECHAT_SUMMARY_HEADER
from ledger.models import Transaction
from reconciliation.parsers.generic import HEADER as GENERIC_HEADER


def yuan(minor: int) -> str:
    sign = "-" if minor < 0 else ""
    return f"{sign}{abs(minor) // 100}.{abs(minor) % 100:02d}"


def fee_of(minor: int, bps: int = 60) -> int:
    return (minor * bps + 5000) // 10000


def generic_csv(rows: list[dict]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(GENERIC_HEADER)
    for row in rows:
        writer.writerow([row.get(column, "") for column in GENERIC_HEADER])
    return out.getvalue().encode()


def generic_row(txn: Transaction, **changes: object) -> dict:
    row = {
        "channel_trade_no": txn.channel_trade_no,
        "trade_no": txn.serial,
        "out_trade_no": txn.out_trade_no or "",
        "type": txn.kind,
        "amount": yuan(txn.amount_minor),
        "fee": yuan(fee_of(txn.amount_minor)),
        "currency": txn.currency,
        "completed_at": txn.finished_at.isoformat(),
        "status": "succeeded",
    }
    row.update(changes)
    return row


def wechat_bill(payments: list[dict], refunds: list[dict]) -> bytes:
    """payments: {at, transaction_id, out_trade_no, fen}; refunds: + refund_id, out_refund_no."""
    columns = WECHAT_HEADER.split(",")
    lines = [WECHAT_HEADER]
    paid = refunded = fees = 0
    for p in payments:
        cells = dict.fromkeys(columns, "")
        cells.update(
            {
                "交易时间": p["at"],
                "商户号": "1900000109",
                "特约商户号": "0",
                "微信订单号": p["transaction_id"],
                "商户订单号": p["out_trade_no"],
                "交易状态": "SUCCESS",
                "货币种类": "CNY",
                "应结订单金额": yuan(p["fen"]),
                "代金券金额": "0.00",
                "微信退款单号": "0",
                "商户退款单号": "0",
                "退款金额": "0.00",
                "手续费": yuan(fee_of(p["fen"])),
                "费率": "0.60%",
            }
        )
        lines.append(",".join("`" + cells[c] for c in columns))
        paid, fees = paid + p["fen"], fees + fee_of(p["fen"])
    for r in refunds:
        cells = dict.fromkeys(columns, "")
        cells.update(
            {
                "交易时间": r["at"],
                "商户号": "1900000109",
                "特约商户号": "0",
                "微信订单号": r["transaction_id"],
                "商户订单号": r["out_trade_no"],
                "交易状态": "REFUND",
                "货币种类": "CNY",
                "应结订单金额": "0.00",
                "微信退款单号": r["refund_id"],
                "商户退款单号": r["out_refund_no"],
                "退款金额": yuan(r["fen"]),
                "退款状态": "SUCCESS",
                "手续费": yuan(-fee_of(r["fen"])),
                "费率": "0.60%",
            }
        )
        lines.append(",".join("`" + cells[c] for c in columns))
        refunded, fees = refunded + r["fen"], fees - fee_of(r["fen"])
    lines.append(WECHAT_SUMMARY_HEADER)
    count = len(payments) + len(refunds)
    totals = [str(count), yuan(paid), yuan(refunded), "0.00", yuan(fees), yuan(paid), yuan(refunded)]
    lines.append(",".join("`" + t for t in totals))
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


def alipay_detail(payments: list[dict], refunds: list[dict], *, end_marker: bool = True) -> str:
    """payments: {trade_no, out_trade_no, yuan_fen, at}; refunds: + request_no. Cells end
    with a tab, as Alipay writes them."""
    columns = ALIPAY_COLUMNS.split(",")
    rows = []

    def row(cells: dict) -> str:
        return ",".join(f"{cells.get(c, '')}\t" for c in columns)

    for p in payments:
        rows.append(
            row(
                {
                    "支付宝交易号": p["trade_no"],
                    "商户订单号": p["out_trade_no"],
                    "业务类型": "交易",
                    "商品名称": "T-shirt",
                    "创建时间": p["at"],
                    "完成时间": p["at"],
                    "订单金额（元）": yuan(p["fen"]),
                    "商家实收（元）": yuan(p["fen"]),
                    "服务费（元）": yuan(-fee_of(p["fen"])),
                }
            )
        )
    for r in refunds:
        rows.append(
            row(
                {
                    "支付宝交易号": r["trade_no"],
                    "商户订单号": r["out_trade_no"],
                    "业务类型": "退款",
                    "商品名称": "T-shirt",
                    "创建时间": r["at"],
                    "完成时间": r["at"],
                    "订单金额（元）": yuan(r["fen"]),
                    "商家实收（元）": yuan(-r["fen"]),
                    "退款批次号/请求号": r["request_no"],
                    "服务费（元）": "0.00",
                }
            )
        )
    paid = sum(p["fen"] for p in payments)
    back = sum(r["fen"] for r in refunds)
    lines = [
        "#支付宝业务明细查询",
        "#账号：[20880000000000000156]",
        "#起始日期：[2026年12月01日 00:00:00]   终止日期：[2026年12月01日 23:59:59]",
        RULE + "业务明细列表----------------------------------------",
        ALIPAY_COLUMNS,
        *rows,
    ]
    if end_marker:
        lines += [
            RULE + "业务明细列表结束------------------------------------",
            f"#交易合计：{len(payments)}笔，商家实收：{yuan(paid)}元，商家优惠：0.00元",
            f"#退款合计：{len(refunds)}笔，商家实收：{yuan(-back)}元，商家优惠：0.00元",
            "#导出时间：[2026年12月02日 09:00:00]",
        ]
    return "\r\n".join(lines) + "\r\n"


def alipay_zip(detail: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("20880000000000000156_20261201_业务明细.csv", detail.encode("gbk"))
        archive.writestr("20880000000000000156_20261201_业务明细(汇总).csv", "#汇总\r\n".encode("gbk"))
    return buffer.getvalue()


def bulk_payments(*, mc, merchant, count: int, day_start: datetime, amount=lambda i: 1000 + i) -> list:
    """`count` succeeded payments of the merchant channel, finished across the day; one
    multi-row INSERT per 5,000 (no journal: matching reads transactions only)."""
    txns = [
        Transaction(
            serial=f"PAYT{i:012d}",
            kind="payment",
            status="succeeded",
            merchant=merchant,
            channel=mc.channel,
            channel_trade_no=f"CH{i:012d}",
            out_trade_no=f"order-{i}",
            amount_minor=amount(i),
            paid_minor=amount(i),
            currency="CNY",
            merchant_channel=mc,
            created_at=day_start + timedelta(seconds=i % 80000),
            finished_at=day_start + timedelta(seconds=i % 80000, milliseconds=1),
        )
        for i in range(count)
    ]
    return Transaction.objects.bulk_create(txns, batch_size=5000)
