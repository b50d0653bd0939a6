"""The platform's HTTP face as a WSGI app: the OpenAPI gateway (`/gateway.do`), the hosted
cashier a payer pays on, bill downloads, and `/dev/…` endpoints that stand in for Alipay's
open platform console (registering an app, a sub-merchant authorising a service provider)."""

import html
import json
import logging
import secrets
import time
from datetime import date
from urllib.parse import parse_qs, urlencode

from . import crypto
from .bills import bill_zip
from .platform import AlipayError, Platform, stamp, yuan

logger = logging.getLogger(__name__)

PAGE_METHODS = {
    "alipay.trade.page.pay": "page",
    "alipay.trade.wap.pay": "wap",
    "alipay.trade.app.pay": "app",
}
API_METHODS = {
    "alipay.trade.precreate": "_trade_precreate",
    "alipay.trade.query": "_trade_query",
    "alipay.trade.close": "_trade_close",
    "alipay.trade.refund": "_trade_refund",
    "alipay.trade.fastpay.refund.query": "_trade_fastpay_refund_query",
    "alipay.data.dataservice.bill.downloadurl.query": "_data_dataservice_bill_downloadurl_query",
}
MAX_BODY = 256 * 1024


class Request:
    def __init__(self, environ: dict) -> None:
        self.method = environ["REQUEST_METHOD"].upper()
        self.path = environ.get("PATH_INFO") or "/"
        self.query = {
            k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True).items()
        }
        length = min(int(environ.get("CONTENT_LENGTH") or 0), MAX_BODY)
        self.body = environ["wsgi.input"].read(length) if length > 0 else b""
        self.content_type = environ.get("CONTENT_TYPE", "")

    def form(self) -> dict:
        if "json" in self.content_type:
            return {}
        text = self.body.decode(self.query.get("charset") or "utf-8", errors="replace")
        return {k: v[0] for k, v in parse_qs(text, keep_blank_values=True).items()}

    def json(self) -> dict:
        try:
            data = json.loads(self.body or b"{}")
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}


class Reply:
    def __init__(
        self, status: str, body: bytes | str, content_type: str, *, headers: list | None = None
    ) -> None:
        self.status, self.content_type, self.headers = status, content_type, headers or []
        self.body = body.encode() if isinstance(body, str) else body


def _page(title: str, content: str, status: str = "200 OK") -> Reply:
    text = (
        "<!doctype html><html><head><meta charset='utf-8'><title>" + html.escape(title) + "</title>"
        "<style>body{font-family:sans-serif;max-width:30em;margin:3em auto}button{font-size:1.1em;"
        "margin-right:1em;padding:.4em 1.4em}</style></head><body><h1>" + html.escape(title) + "</h1>"
        + content + "</body></html>"
    )  # fmt: skip
    return Reply(status, text, "text/html; charset=utf-8")


def _json(payload: object, status: str = "200 OK") -> Reply:
    return Reply(status, json.dumps(payload), "application/json")


class AlipayApp:
    def __init__(self, platform: Platform) -> None:
        self.platform = platform

    def __call__(self, environ: dict, start_response):
        request = Request(environ)
        try:
            reply = self.route(request)
        except Exception:
            logger.exception("alipay fake: %s %s failed", request.method, request.path)
            reply = Reply("500 Internal Server Error", "internal error", "text/plain")
        start_response(reply.status, [("Content-Type", reply.content_type), *reply.headers])
        return [reply.body]

    def route(self, request: Request) -> Reply:
        path, verb = request.path.rstrip("/") or "/", request.method
        parts = path.strip("/").split("/")
        if path == "/gateway.do":
            return self.gateway(request)
        if parts[0] == "cashier" and len(parts) == 2:
            return self.cashier(parts[1], pay=request.form().get("choice") if verb == "POST" else None)
        if parts[0] == "bills" and len(parts) == 2 and verb == "GET":
            data = self.platform.bills.get(parts[1])
            if data is None:
                return Reply("404 Not Found", "no such bill", "text/plain")
            return Reply("200 OK", data, "application/zip", headers=[("Content-Disposition", "attachment")])
        if path == "/dev/platform-key":
            return _json({"alipay_public_key": self.platform.public_key})
        if path == "/dev/apps" and verb == "POST":
            data = request.json()
            app = self.platform.register_app(
                name=str(data.get("name", "")), public_key=str(data.get("public_key", ""))
            )
            return _json(
                {
                    "app_id": app.app_id,
                    "pid": app.pid,
                    "alipay_public_key": self.platform.public_key,
                    "gateway_url": self.platform.public_url + "/gateway.do",
                },
                "201 Created",
            )
        if (
            len(parts) == 4
            and parts[:2] == ["dev", "apps"]
            and parts[3] == "authorizations"
            and verb == "POST"
        ):
            try:
                token, sub = self.platform.authorize(
                    isv_app_id=parts[2], name=str(request.json().get("name", ""))
                )
            except AlipayError as exc:
                return _json({"error": exc.sub_code}, "404 Not Found")
            return _json(
                {"app_auth_token": token, "user_id": sub.pid, "auth_app_id": sub.app_id}, "201 Created"
            )
        return Reply("404 Not Found", "not found", "text/plain")

    # -- the OpenAPI gateway -----------------------------------------------------------
    def _signed(self, method: str, node: dict) -> Reply:
        name = method.replace(".", "_") + "_response" if method else "error_response"
        text = json.dumps(node, ensure_ascii=False, separators=(",", ":"))
        signature = crypto.sign(self.platform.key, text)
        return Reply("200 OK", f'{{"{name}":{text},"sign":"{signature}"}}', "text/html;charset=utf-8")

    def gateway(self, request: Request) -> Reply:
        params = {**request.query, **request.form()}
        method = params.get("method", "")
        platform = self.platform
        app = platform.apps.get(params.get("app_id", ""))
        try:
            if app is None:
                raise AlipayError("isv.invalid-app-id", "无效的AppID参数", code="40002")
            if params.get("sign_type") != "RSA2" or not crypto.verify(
                app.public_key, crypto.sign_content(params), params.get("sign", "")
            ):
                raise AlipayError("isv.invalid-signature", "验签出错", code="40002")
            try:
                biz = json.loads(params.get("biz_content") or "{}")
            except ValueError as exc:
                raise AlipayError("isv.invalid-biz-content", "biz_content is not JSON", code="40002") from exc
            seller = platform.seller_for(app, params.get("app_auth_token", ""))
            if method in PAGE_METHODS:
                trade = platform.create(
                    app=app,
                    seller=seller,
                    method=PAGE_METHODS[method],
                    biz=biz,
                    notify_url=params.get("notify_url", ""),
                    return_url=params.get("return_url", ""),
                )
                return Reply(
                    "302 Found", "", "text/plain", headers=[("Location", f"/cashier/{trade.trade_no}")]
                )
            handler = getattr(self, API_METHODS[method], None) if method in API_METHODS else None
            if handler is None:
                raise AlipayError("isv.invalid-method", "不存在的方法名", code="40002")
            node = {"code": "10000", "msg": "Success", **handler(app, seller, params, biz)}
        except AlipayError as exc:
            if method in PAGE_METHODS:
                return _page(
                    "支付宝 · 错误",
                    f"<p>{html.escape(exc.sub_code)}: {html.escape(exc.sub_msg)}</p>",
                    "400 Bad Request",
                )
            msg = {"40002": "Invalid Arguments", "20001": "Insufficient Token Permissions"}.get(
                exc.code, "Business Failed"
            )
            node = {"code": exc.code, "msg": msg, "sub_code": exc.sub_code, "sub_msg": exc.sub_msg}
        return self._signed(method, node)

    def _trade_precreate(self, app, seller, params: dict, biz: dict) -> dict:
        trade = self.platform.create(
            app=app,
            seller=seller,
            method="native",
            biz=biz,
            notify_url=params.get("notify_url", ""),
            return_url="",
        )
        hold = (
            float(trade.behaviour.get("timeout_ms") or 0) / 1000
            if trade.behaviour.get("outcome") == "timeout"
            else 0
        )
        if hold:
            time.sleep(hold)  # executed here, but the answer comes too late for the caller
        return {
            "out_trade_no": trade.out_trade_no,
            "qr_code": f"{self.platform.public_url}/cashier/{trade.trade_no}",
        }

    def _trade(self, seller, biz: dict):
        return self.platform.find(
            seller, out_trade_no=str(biz.get("out_trade_no") or ""), trade_no=str(biz.get("trade_no") or "")
        )

    def _trade_query(self, app, seller, params: dict, biz: dict) -> dict:
        trade = self._trade(seller, biz)
        paid_amount = trade.behaviour.get("paid_amount")
        total = str(yuan(paid_amount)) if paid_amount else str(trade.total)
        node = {
            "trade_no": trade.trade_no,
            "out_trade_no": trade.out_trade_no,
            "buyer_logon_id": "138****0000",
            "trade_status": trade.status,
            "total_amount": total,
            "buyer_pay_amount": total if trade.paid_at else "0.00",
            "receipt_amount": total if trade.paid_at else "0.00",
        }
        if trade.paid_at:
            node["send_pay_date"] = stamp(trade.paid_at)
        return node

    def _trade_close(self, app, seller, params: dict, biz: dict) -> dict:
        trade = self.platform.close(self._trade(seller, biz))
        return {"trade_no": trade.trade_no, "out_trade_no": trade.out_trade_no}

    def _trade_refund(self, app, seller, params: dict, biz: dict) -> dict:
        trade = self._trade(seller, biz)
        out_request_no = str(biz.get("out_request_no") or "")
        if not out_request_no:
            raise AlipayError("ACQ.INVALID_PARAMETER", "out_request_no is required", code="40002")
        amount = yuan(biz.get("refund_amount"), name="refund_amount")
        trade, moved = self.platform.refund(trade, amount=amount, out_request_no=out_request_no)
        return {
            "trade_no": trade.trade_no,
            "out_trade_no": trade.out_trade_no,
            "buyer_logon_id": "138****0000",
            "fund_change": "Y" if moved else "N",
            "refund_fee": str(trade.refunded),
            "gmt_refund_pay": stamp(trade.refunds[-1]["at"]),
        }

    def _trade_fastpay_refund_query(self, app, seller, params: dict, biz: dict) -> dict:
        trade = self._trade(seller, biz)
        request_no = str(biz.get("out_request_no") or "")
        for refund in trade.refunds:
            if refund["out_request_no"] == request_no:
                return {
                    "trade_no": trade.trade_no,
                    "out_trade_no": trade.out_trade_no,
                    "out_request_no": request_no,
                    "total_amount": str(trade.total),
                    "refund_amount": str(refund["amount"]),
                    "refund_status": "REFUND_SUCCESS",
                }
        return {"trade_no": trade.trade_no, "out_trade_no": trade.out_trade_no}  # no such refund: no data

    def _data_dataservice_bill_downloadurl_query(self, app, seller, params: dict, biz: dict) -> dict:
        if biz.get("bill_type") != "trade":
            raise AlipayError("isv.invalid-bill-type", "only trade bills here", code="40002")
        try:
            day = date.fromisoformat(str(biz.get("bill_date")))
        except ValueError as exc:
            raise AlipayError("isv.invalid-bill-date", "bill_date is yyyy-MM-dd", code="40002") from exc
        with self.platform.lock:
            trades = list(self.platform.trades.values())
        token = secrets.token_urlsafe(16)
        self.platform.bills[token] = bill_zip(seller=seller, trades=trades, day=day)
        return {"bill_download_url": f"{self.platform.public_url}/bills/{token}"}

    # -- the hosted cashier ------------------------------------------------------------
    def cashier(self, trade_no: str, *, pay: str | None) -> Reply:
        platform = self.platform
        trade = platform.trades.get(trade_no)
        if trade is None:
            return _page("支付宝收银台", "<p>交易不存在 (no such trade).</p>", "404 Not Found")
        if pay == "pay":
            platform.pay(trade_no)
        elif pay == "cancel" and trade.status == "WAIT_BUYER_PAY":
            platform.close(trade)
        if pay and trade.return_url:
            back = {
                "out_trade_no": trade.out_trade_no,
                "trade_no": trade.trade_no,
                "total_amount": str(trade.total),
                "seller_id": trade.seller.pid,
                "app_id": trade.app_id,
                "method": f"alipay.trade.{trade.method}.pay.return",
                "charset": "utf-8",
                "sign_type": "RSA2",
                "timestamp": stamp(trade.paid_at or trade.closed_at),
                "version": "1.0",
            }
            back["sign"] = crypto.sign(platform.key, crypto.sign_content(back, exclude=("sign", "sign_type")))
            separator = "&" if "?" in trade.return_url else "?"
            return Reply(
                "302 Found",
                "",
                "text/plain",
                headers=[("Location", trade.return_url + separator + urlencode(back))],
            )
        cells = [
            ("商户订单号 Order", trade.out_trade_no),
            ("支付宝交易号 Trade", trade.trade_no),
            ("商品 Subject", trade.subject),
            ("金额 Amount", f"¥{trade.total}"),
            ("状态 Status", trade.status),
        ]
        table = "".join(f"<tr><th align='left'>{k}</th><td>{html.escape(str(v))}</td></tr>" for k, v in cells)
        forms = ""
        if trade.status == "WAIT_BUYER_PAY":
            forms = (
                f"<form method='post' action='/cashier/{html.escape(trade_no)}'>"
                "<button name='choice' value='pay'>确认付款 Pay</button>"
                "<button name='choice' value='cancel'>取消 Cancel</button></form>"
            )
        return _page("支付宝收银台", f"<table>{table}</table>{forms}")
