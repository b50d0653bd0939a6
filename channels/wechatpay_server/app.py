"""The fake's HTTP face as a WSGI app: the v3 endpoints (each request's `Authorization`
verified with the merchant's registered key, each answer signed with the platform key),
the merchant registration a test or the demo uses, and the hosted page where a payer pays."""

import hashlib
import html
import json
import re
import time
from collections.abc import Callable, Iterable
from datetime import date
from urllib.parse import parse_qs, quote

from . import crypto
from .bills import trade_bill, yuan
from .platform import Merchant, Platform, PlatformError

MAX_BODY = 1024 * 1024
TIMESTAMP_WINDOW = 300
KINDS = "native|jsapi|h5|app"


class Request:
    def __init__(self, environ: dict) -> None:
        self.method = environ["REQUEST_METHOD"].upper()
        self.path = environ.get("PATH_INFO") or "/"
        query = environ.get("QUERY_STRING", "")
        # The signature covers the path and query exactly as sent on the request line.
        self.raw_path = environ.get("RAW_URI") or quote(self.path) + (f"?{query}" if query else "")
        self.query = {k: v[0] for k, v in parse_qs(query, keep_blank_values=True).items()}
        self.headers = {
            k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")
        }
        length = int(environ.get("CONTENT_LENGTH") or 0)
        if length > MAX_BODY:
            raise PlatformError(413, "PARAM_ERROR", "body too large")
        self.body = environ["wsgi.input"].read(length) if length > 0 else b""

    def json(self) -> dict:
        try:
            data = json.loads(self.body) if self.body else {}
        except ValueError as exc:
            raise PlatformError(400, "PARAM_ERROR", "the body must be JSON") from exc
        if not isinstance(data, dict):
            raise PlatformError(400, "PARAM_ERROR", "the body must be a JSON object")
        return data


Response = tuple[int, dict[str, str], bytes]


class WechatPayApp:
    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        t = r"/v3/pay/(?P<partner>partner/)?transactions"
        # (method, pattern, signed, handler(request, merchant, **groups))
        self.routes: list[tuple[str, re.Pattern, bool, Callable[..., Response]]] = [
            ("POST", re.compile(r"/fake/merchants"), False, self.register),
            ("GET", re.compile(r"/fake/platform-key"), False, self.platform_key),
            ("GET", re.compile(r"/pay/(?P<prepay_id>\w+)"), False, self.page),
            ("POST", re.compile(r"/pay/(?P<prepay_id>\w+)"), False, self.pay),
            ("POST", re.compile(rf"{t}/(?P<kind>{KINDS})"), True, self.create),
            ("GET", re.compile(rf"{t}/out-trade-no/(?P<out_trade_no>[^/]+)"), True, self.query),
            ("GET", re.compile(rf"{t}/id/(?P<transaction_id>[^/]+)"), True, self.query),
            ("POST", re.compile(rf"{t}/out-trade-no/(?P<out_trade_no>[^/]+)/close"), True, self.close),
            ("POST", re.compile(r"/v3/refund/domestic/refunds"), True, self.refund),
            (
                "GET",
                re.compile(r"/v3/refund/domestic/refunds/(?P<out_refund_no>[^/]+)"),
                True,
                self.find_refund,
            ),
            ("GET", re.compile(r"/v3/bill/tradebill"), True, self.bill),
            ("GET", re.compile(r"/v3/billdownload/file"), True, self.download),
        ]

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        try:
            request = Request(environ)
            status, headers, body = self.dispatch(request)
        except PlatformError as exc:
            status, headers, body = self.json_answer(exc.status, {"code": exc.code, "message": exc.message})
        reason = {200: "OK", 204: "No Content", 302: "Found"}.get(status, "Error")
        start_response(f"{status} {reason}", [*headers.items(), ("Content-Length", str(len(body)))])
        return [body]

    def dispatch(self, request: Request) -> Response:
        for method, pattern, signed, handler in self.routes:
            match = pattern.fullmatch(request.path)
            if match and method == request.method:
                merchant = self.authenticate(request) if signed else None
                return handler(request, merchant, **match.groupdict())
        raise PlatformError(404, "NOT_FOUND", "no such endpoint")

    def authenticate(self, request: Request) -> Merchant:
        fields = crypto.parse_authorization(request.headers.get("authorization", ""))
        if fields is None:
            raise PlatformError(401, "SIGN_ERROR", "Authorization is missing or malformed")
        merchant = self.platform.merchants.get(fields["mchid"])
        if merchant is None:
            raise PlatformError(401, "SIGN_ERROR", "unknown mchid")
        if fields["serial_no"] != merchant.serial_no:
            raise PlatformError(401, "SIGN_ERROR", "serial_no is not the merchant's certificate")
        if (
            not fields["timestamp"].isdigit()
            or abs(time.time() - int(fields["timestamp"])) > TIMESTAMP_WINDOW
        ):
            raise PlatformError(401, "SIGN_ERROR", "timestamp out of the 5 minute window")
        message = crypto.request_message(
            request.method, request.raw_path, fields["timestamp"], fields["nonce_str"], request.body
        )
        if not crypto.verify(merchant.public_key, message, fields["signature"]):
            raise PlatformError(401, "SIGN_ERROR", "签名错误")
        return merchant

    def json_answer(self, status: int, payload: dict | None) -> Response:
        body = b"" if payload is None else json.dumps(payload, ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json", **self.platform.signed_headers(body)}
        return status, headers, body

    # --- unsigned: registration and the hosted page -----------------------------------
    def register(self, request: Request, _: None) -> Response:
        return self.json_answer(200, self.platform.register(request.json()))

    def platform_key(self, request: Request, _: None) -> Response:
        key = {
            "wechatpay_public_key": self.platform.public_key_pem,
            "wechatpay_public_key_id": self.platform.public_key_id,
        }
        return self.json_answer(200, key)

    def page(self, request: Request, _: None, *, prepay_id: str) -> Response:
        payment = self.platform.by_prepay.get(prepay_id)
        if payment is None:
            raise PlatformError(404, "ORDER_NOT_EXIST", "订单不存在")
        button = (
            f'<form method="post"><button type="submit">确认支付 Pay ¥{yuan(payment.total)}</button></form>'
            if payment.trade_state == "NOTPAY"
            else f"<p>State: {payment.trade_state}</p>"
        )
        text = (
            "<!doctype html><meta charset=utf-8><title>WeChat Pay (fake)</title>"
            f"<h1>{html.escape(payment.description)}</h1><p>¥{yuan(payment.total)}</p>"
            f"<p>Merchant {html.escape(payment.sub_mchid or payment.mchid)}</p>{button}"
        )
        return 200, {"Content-Type": "text/html; charset=utf-8"}, text.encode()

    def pay(self, request: Request, _: None, *, prepay_id: str) -> Response:
        payment = self.platform.pay(prepay_id)
        text = f"<!doctype html><meta charset=utf-8><p>支付成功 Paid ¥{yuan(payment.total)}</p>"
        return 200, {"Content-Type": "text/html; charset=utf-8"}, text.encode()

    # --- v3 -----------------------------------------------------------------------------
    def create(self, request: Request, merchant: Merchant, *, partner: str | None, kind: str) -> Response:
        view, hold = self.platform.create(merchant, request.json(), kind=kind, partner=bool(partner))
        if hold:
            self.platform.stopping.wait(hold)  # done here, answered too late for the caller
        return self.json_answer(200, view)

    def _sub(
        self, request: Request, merchant: Merchant, partner: str | None, data: dict | None = None
    ) -> str:
        source = data if data is not None else request.query
        if partner:
            if source.get("sp_mchid") != merchant.mchid:
                raise PlatformError(400, "PARAM_ERROR", "sp_mchid does not match the requesting merchant")
            return str(source.get("sub_mchid") or "")
        if source.get("mchid") != merchant.mchid:
            raise PlatformError(400, "PARAM_ERROR", "mchid does not match the requesting merchant")
        return ""

    def query(self, request: Request, merchant: Merchant, *, partner: str | None, **which: str) -> Response:
        payment = self.platform.find(merchant, self._sub(request, merchant, partner), **which)
        return self.json_answer(200, self.platform.transaction_view(payment))

    def close(
        self, request: Request, merchant: Merchant, *, partner: str | None, out_trade_no: str
    ) -> Response:
        sub_mchid = self._sub(request, merchant, partner, request.json())
        self.platform.close(merchant, sub_mchid, out_trade_no)
        return self.json_answer(204, None)

    def refund(self, request: Request, merchant: Merchant) -> Response:
        refund = self.platform.refund(merchant, request.json())
        return self.json_answer(200, self.platform.refund_view(refund))

    def find_refund(self, request: Request, merchant: Merchant, *, out_refund_no: str) -> Response:
        refund = self.platform.find_refund(merchant, out_refund_no, request.query.get("sub_mchid", ""))
        return self.json_answer(200, self.platform.refund_view(refund))

    def bill(self, request: Request, merchant: Merchant) -> Response:
        bill_date = request.query.get("bill_date", "")
        try:
            day = date.fromisoformat(bill_date)
        except ValueError as exc:
            raise PlatformError(400, "PARAM_ERROR", "bill_date must be YYYY-MM-DD") from exc
        if request.query.get("bill_type", "ALL") != "ALL":
            raise PlatformError(400, "PARAM_ERROR", "this fake keeps ALL bills only")
        sub_mchid = request.query.get("sub_mchid", "")
        if sub_mchid and sub_mchid not in merchant.sub_mchids:
            raise PlatformError(403, "NO_AUTH", "sub_mchid is not a sub-merchant of this service provider")
        content = trade_bill(
            self.platform, mchid=merchant.mchid, sub_mchid=sub_mchid, bill_date=day.isoformat()
        )
        token = self.platform.bill_token(merchant, content)
        return self.json_answer(
            200,
            {
                "hash_type": "SHA1",
                "hash_value": hashlib.sha1(content).hexdigest(),  # noqa: S324 - WeChat's own choice
                "download_url": f"{self.platform.public_url}/v3/billdownload/file?token={token}",
            },
        )

    def download(self, request: Request, merchant: Merchant) -> Response:
        with self.platform.lock:
            found = self.platform.bill_tokens.get(request.query.get("token", ""))
        if found is None or found[0] != merchant.mchid:
            raise PlatformError(404, "RESOURCE_NOT_EXISTS", "no such bill")
        content = found[1]
        # The file itself is not signed: WeChat has the client check it against hash_value.
        return 200, {"Content-Type": "text/csv; charset=utf-8"}, content
