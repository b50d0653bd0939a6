"""WeChat Pay trade bills (bill_type ALL) parsed: header line, backtick-prefixed rows,
then a summary header and line. Amounts become integer fen."""

import csv
import io
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

BEIJING = timezone(timedelta(hours=8))


@dataclass(frozen=True)
class BillRow:
    kind: str  # payment | refund
    at: datetime
    channel_trade_no: str  # 微信订单号 (transaction_id)
    reference: str  # 商户订单号: our payment serial
    refund_no: str  # 微信退款单号
    refund_reference: str  # 商户退款单号: our refund serial
    amount_minor: int  # paid (payment) or refunded (refund)
    fee_minor: int  # signed: a refund returns part of the fee
    mchid: str
    sub_mchid: str
    currency: str


@dataclass(frozen=True)
class BillSummary:
    count: int
    paid_minor: int
    refunded_minor: int
    fee_minor: int


def fen(text: str) -> int:
    """`12.34` / `-0.07` → 1234 / -7, exactly (no floats)."""
    sign, text = (-1, text[1:]) if text.startswith("-") else (1, text)
    whole, _, frac = text.partition(".")
    frac = (frac + "00")[:5]
    value = int(whole or "0") * 100 + int(frac[:2])
    if int(frac[2:] or "0") >= 500:  # 手续费 has five decimals in summaries
        value += 1
    return sign * value


def parse_trade_bill(content: bytes) -> tuple[list[BillRow], BillSummary]:
    lines = [line for line in content.decode("utf-8-sig").splitlines() if line.strip()]
    summary_at = next(i for i, line in enumerate(lines) if line.startswith("总交易单数"))
    header = next(csv.reader([lines[0]]))
    rows = []
    for record in csv.reader(io.StringIO("\n".join(lines[1:summary_at]))):
        field = dict(zip(header, (v.removeprefix("`") for v in record), strict=True))
        refund = field["交易状态"] == "REFUND"
        rows.append(
            BillRow(
                kind="refund" if refund else "payment",
                at=datetime.strptime(field["交易时间"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=BEIJING),
                channel_trade_no=field["微信订单号"],
                reference=field["商户订单号"],
                refund_no=field["微信退款单号"] if refund else "",
                refund_reference=field["商户退款单号"] if refund else "",
                amount_minor=fen(field["退款金额"] if refund else field["应结订单金额"]),
                fee_minor=fen(field["手续费"]),
                mchid=field["商户号"],
                sub_mchid="" if field["特约商户号"] in {"", "0"} else field["特约商户号"],
                currency=field["货币种类"],
            )
        )
    totals = [v.removeprefix("`") for v in next(csv.reader([lines[summary_at + 1]]))]
    summary = BillSummary(
        count=int(totals[0]),
        paid_minor=fen(totals[1]),
        refunded_minor=fen(totals[2]),
        fee_minor=fen(totals[4]),
    )
    return rows, summary
