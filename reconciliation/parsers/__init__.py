"""One parser per statement format; each `parse(stream)` returns a Parsed (rows and row
errors, then the statement's own totals)."""

from collections.abc import Callable
from typing import BinaryIO

from reconciliation.choices import StatementFormat
from reconciliation.parsers import alipay, generic, sandbox, wechatpay
from reconciliation.parsers.base import Parsed, Row, RowError, StatementInvalid

PARSERS: dict[str, Callable[[BinaryIO], Parsed]] = {
    StatementFormat.SANDBOX: sandbox.parse,
    StatementFormat.WECHATPAY: wechatpay.parse,
    StatementFormat.ALIPAY: alipay.parse,
    StatementFormat.GENERIC: generic.parse,
}

__all__ = ["PARSERS", "Parsed", "Row", "RowError", "StatementInvalid"]
