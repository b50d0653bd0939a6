"""The sandbox's HTTP face as a WSGI app: routing, request signatures, signed responses."""

import json
import logging
import re
import time
from collections.abc import Callable, Iterable
from datetime import date
from urllib.parse import parse_qs, quote

from . import actions, checkout, payments, refunds, signing, statements
from .core import Sandbox
from .errors import SandboxError
from .responses import Response, json_response

logger = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024
TIMESTAMP_WINDOW = 300


class Request:
    def __init__(self, environ: dict) -> None:
        self.method = environ["REQUEST_METHOD"].upper()
        # WSGI hands PATH_INFO over as latin-1; ids are UTF-8 on the wire.
        self.path = _utf8(environ.get("PATH_INFO") or "/")
        query = environ.get("QUERY_STRING", "")
        # The signature covers the path exactly as sent; servers that keep it say so in RAW_URI.
        self.raw_path = environ.get("RAW_URI") or quote(self.path) + (f"?{query}" if query else "")
        self.query = {k: v[0] for k, v in parse_qs(query, keep_blank_values=True).items()}
        self.headers = {
            k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")
        }
        self.content_type = environ.get("CONTENT_TYPE", "")
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > MAX_BODY:
            raise SandboxError(413, "BODY_TOO_LARGE", "bodies are limited to 1 MB")
        self.body = environ["wsgi.input"].read(length) if length > 0 else b""

    def json(self) -> dict:
        try:
            data = json.loads(self.body.decode("utf-8"), parse_constant=_refuse) if self.body else {}
        except (UnicodeDecodeError, ValueError) as exc:
            raise SandboxError(400, "INVALID_JSON", "the body must be a UTF-8 JSON object") from exc
        if not isinstance(data, dict):
            raise SandboxError(400, "INVALID_JSON", "the body must be a JSON object")
        return data


def _utf8(text: str) -> str:
    try:
        return text.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return text


def _refuse(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


class SandboxApp:
    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        # (method, pattern, signed, handler(request, merchant_id, **groups))
        self.routes: list[tuple[str, re.Pattern, bool, Callable[..., Response]]] = [
            ("GET", re.compile(r"/v1/platform-key"), False, self.platform_key),
            ("POST", re.compile(r"/v1/merchants"), False, self.register),
            ("POST", re.compile(r"/v1/payments"), True, self.create_payment),
            ("GET", re.compile(r"/v1/payments"), True, self.find_payment),
            ("GET", re.compile(r"/v1/payments/(?P<trade_no>[^/]+)"), True, self.get_payment),
            (
                "POST",
                re.compile(r"/v1/payments/(?P<trade_no>[^/]+)/(?P<action>close|capture|void)"),
                True,
                self.act,
            ),
            ("POST", re.compile(r"/v1/refunds"), True, self.create_refund),
            ("GET", re.compile(r"/v1/refunds/(?P<out_refund_no>[^/]+)"), True, self.get_refund),
            ("GET", re.compile(r"/v1/statements/(?P<day>\d{4}-\d{2}-\d{2})"), True, self.statement),
            ("GET", re.compile(r"/checkout/(?P<trade_no>[^/]+)"), False, self.checkout_page),
            (
                "POST",
                re.compile(r"/checkout/(?P<trade_no>[^/]+)/(?P<choice>pay|decline)"),
                False,
                self.checkout,
            ),
        ]

    def __call__(self, environ: dict, start_response) -> Iterable[bytes]:
        try:
            response = self.dispatch(environ)
        except SandboxError as exc:
            response = json_response(exc.status, {"code": exc.code, "message": exc.message})
        except Exception:
            logger.exception("sandbox request failed")
            response = json_response(500, {"code": "INTERNAL_ERROR", "message": "the sandbox failed"})
        # The `timeout` behaviour: the work is done, the answer comes too late for the client.
        self.sandbox.hold(response.hold)
        headers = {"Content-Type": response.content_type, **response.headers}
        headers |= {"Content-Length": str(len(response.body)), **self.sandbox.signed_headers(response.body)}
        start_response(response.status_line, list(headers.items()))
        return [response.body]

    def dispatch(self, environ: dict) -> Response:
        request = Request(environ)
        allowed = False
        for method, pattern, signed, handler in self.routes:
            match = pattern.fullmatch(request.path)
            if not match:
                continue
            allowed = True
            if method != request.method:
                continue
            merchant_id = self.authenticate(request) if signed else None
            return handler(request, merchant_id, **match.groupdict())
        if allowed:
            raise SandboxError(405, "METHOD_NOT_ALLOWED", f"{request.method} is not allowed here")
        raise SandboxError(404, "NOT_FOUND", f"no route for {request.path}")

    def authenticate(self, request: Request) -> str:
        merchant_id = request.headers.get("x-sandbox-merchant")
        public_pem = self.sandbox.merchant_key(merchant_id)
        if public_pem is None:
            raise SandboxError(401, "INVALID_MERCHANT", "unknown X-Sandbox-Merchant")
        stamp = request.headers.get("x-sandbox-timestamp", "")
        signature = request.headers.get("x-sandbox-signature")
        if not stamp.isdigit() or not signature:
            raise SandboxError(
                401, "INVALID_SIGNATURE", "X-Sandbox-Timestamp and X-Sandbox-Signature are required"
            )
        if abs(time.time() - int(stamp)) > TIMESTAMP_WINDOW:
            raise SandboxError(401, "TIMESTAMP_EXPIRED", "the timestamp is more than 300 s off")
        ok = signing.verify_request(
            public_pem,
            method=request.method,
            path=request.raw_path,
            timestamp=stamp,
            body=request.body,
            signature=signature,
        )
        if not ok:
            raise SandboxError(401, "INVALID_SIGNATURE", "the signature does not match")
        return merchant_id

    # Handlers --------------------------------------------------------------------------

    def platform_key(self, request: Request, merchant_id: None) -> Response:
        return json_response(200, {"public_key": self.sandbox.public_key_pem})

    def register(self, request: Request, merchant_id: None) -> Response:
        data = request.json()
        name, public_pem = data.get("name", ""), data.get("public_key")
        if not isinstance(name, str) or not isinstance(public_pem, str):
            raise SandboxError(400, "INVALID_PARAMETER", "name and public_key must be strings")
        new_id = self.sandbox.register_merchant(name=name, public_pem=public_pem)
        return json_response(201, {"merchant_id": new_id, "platform_public_key": self.sandbox.public_key_pem})

    def create_payment(self, request: Request, merchant_id: str) -> Response:
        data = request.json()
        body, hold = payments.create_payment(
            self.sandbox, merchant_id=merchant_id, data=data, now=time.time()
        )
        return json_response(200, body, hold=hold)

    def find_payment(self, request: Request, merchant_id: str) -> Response:
        out_trade_no = request.query.get("out_trade_no")
        if not out_trade_no:
            raise SandboxError(400, "INVALID_PARAMETER", "out_trade_no is required")
        return json_response(
            200, actions.query_payment(self.sandbox, merchant_id=merchant_id, out_trade_no=out_trade_no)
        )

    def get_payment(self, request: Request, merchant_id: str, trade_no: str) -> Response:
        return json_response(
            200, actions.query_payment(self.sandbox, merchant_id=merchant_id, trade_no=trade_no)
        )

    def act(self, request: Request, merchant_id: str, trade_no: str, action: str) -> Response:
        common = {"merchant_id": merchant_id, "trade_no": trade_no, "now": time.time()}
        if action == "close":
            return json_response(200, actions.close_payment(self.sandbox, **common))
        if action == "void":
            return json_response(200, actions.void_payment(self.sandbox, **common))
        return json_response(200, actions.capture_payment(self.sandbox, data=request.json(), **common))

    def create_refund(self, request: Request, merchant_id: str) -> Response:
        data = request.json()
        body, hold = refunds.create_refund(self.sandbox, merchant_id=merchant_id, data=data, now=time.time())
        return json_response(200, body, hold=hold)

    def get_refund(self, request: Request, merchant_id: str, out_refund_no: str) -> Response:
        refund = refunds.get_refund(
            self.sandbox,
            merchant_id=merchant_id,
            out_refund_no=out_refund_no,
            trade_no=request.query.get("trade_no"),
        )
        return json_response(200, refund)

    def statement(self, request: Request, merchant_id: str, day: str) -> Response:
        try:
            parsed = date.fromisoformat(day)
        except ValueError as exc:
            raise SandboxError(400, "INVALID_DATE", "the date must be YYYY-MM-DD") from exc
        text = statements.statement_csv(self.sandbox, merchant_id=merchant_id, day=parsed)
        return Response(200, text.encode(), "text/csv; charset=utf-8")

    # The payer's browser: unsigned, HTML.

    def checkout_page(self, request: Request, merchant_id: None, trade_no: str) -> Response:
        return checkout.page(self.sandbox, trade_no=trade_no)

    def checkout(self, request: Request, merchant_id: None, trade_no: str, choice: str) -> Response:
        return checkout.submit(self.sandbox, trade_no=trade_no, choice=choice, now=time.time())
