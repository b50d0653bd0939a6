"""Trade bills (交易账单, bill_type ALL) in WeChat Pay's layout: a header line, one line per
payment and per refund with every field prefixed by a backtick, then the summary header
and the summary line. Amounts in yuan with two decimals; times in Beijing time."""

from datetime import datetime

from .platform import BEIJING, Platform

HEADER = (
    "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,"
    "付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,"
    "退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注"
)
SUMMARY_HEADER = (
    "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额"
)
RATE = 6  # 0.60%, written "0.60%"; the fee is rounded to fen half up


def yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def fee_of(fen: int) -> int:
    return (fen * RATE + 500) // 1000


def _day(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, BEIJING).strftime("%Y-%m-%d")


def _when(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, BEIJING).strftime("%Y-%m-%d %H:%M:%S")


def _line(fields: list[str]) -> str:
    return ",".join("`" + f for f in fields)


def trade_bill(platform: Platform, *, mchid: str, sub_mchid: str, bill_date: str) -> bytes:
    """Payments that succeeded and refunds made on `bill_date`, of one merchant (or one
    service provider's sub-merchant; a service provider without one gets all of its own)."""
    lines, count, settled, refunded, fees, ordered, asked = [HEADER], 0, 0, 0, 0, 0, 0
    with platform.lock:
        payments = [
            p
            for p in platform.payments.values()
            if p.mchid == mchid and (not sub_mchid or p.sub_mchid == sub_mchid) and p.success_time
        ]
        refunds = [r for r in platform.refunds.values() if r.payment in payments]
    for p in sorted(payments, key=lambda p: p.success_time or 0):
        if _day(p.success_time or 0) != bill_date:
            continue
        fee = fee_of(p.total)
        lines.append(
            _line(
                [
                    _when(p.success_time or 0),
                    p.appid,
                    p.mchid,
                    p.sub_mchid or "0",
                    "",
                    p.transaction_id,
                    p.out_trade_no,
                    "o" + p.transaction_id[-10:],
                    p.trade_type,
                    "SUCCESS",
                    "OTHERS",
                    "CNY",
                    yuan(p.total),
                    "0.00",
                    "0",
                    "0",
                    "0.00",
                    "0.00",
                    "",
                    "",
                    p.description,
                    p.attach,
                    yuan(fee),
                    "0.60%",
                    yuan(p.total),
                    "0.00",
                    "",
                ]
            )
        )
        count, settled, fees, ordered = count + 1, settled + p.total, fees + fee, ordered + p.total
    for r in sorted(refunds, key=lambda r: r.created):
        if _day(r.created) != bill_date:
            continue
        p, fee = r.payment, fee_of(r.amount)
        lines.append(
            _line(
                [
                    _when(r.created),
                    p.appid,
                    p.mchid,
                    p.sub_mchid or "0",
                    "",
                    p.transaction_id,
                    p.out_trade_no,
                    "o" + p.transaction_id[-10:],
                    p.trade_type,
                    "REFUND",
                    "OTHERS",
                    "CNY",
                    "0.00",
                    "0.00",
                    r.refund_id,
                    r.out_refund_no,
                    yuan(r.amount),
                    "0.00",
                    "ORIGINAL",
                    r.status,
                    p.description,
                    p.attach,
                    "-" + yuan(fee),
                    "0.60%",
                    "0.00",
                    yuan(r.amount),
                    "",
                ]
            )
        )
        count, refunded, fees, asked = count + 1, refunded + r.amount, fees - fee, asked + r.amount
    lines.append(SUMMARY_HEADER)
    fee_text = ("-" if fees < 0 else "") + yuan(abs(fees))
    lines.append(
        _line([str(count), yuan(settled), yuan(refunded), "0.00", fee_text, yuan(ordered), yuan(asked)])
    )
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")
