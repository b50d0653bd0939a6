"""Client of the sandbox platform (docs/sandbox.md) over real HTTP.

Requests are signed with the merchant's RSA key; responses and notifications are verified
with the platform's public key, never with ours (R21, docs/requirements.md).
"""

import base64
import json
import time
from datetime import date, datetime

import requests
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from django.conf import settings

from channels import gateway
from channels.base import (
    ChannelError,
    ChannelEvent,
    ChannelPayment,
    ChannelPlugin,
    ChannelRefund,
    ChannelTimeout,
    ChannelUnreachable,
    Parameter,
    PaymentOrder,
    VerificationFailed,
)
from channels.choices import ChannelState, Method
from channels.models import MerchantChannel
from paycenter.errors import PaycenterError
from paycenter.money import format_minor, parse_minor

STATES = {s.value: s for s in ChannelState}
SIGNATURE_WINDOW = 300


def _sign(private_pem: str, message: bytes) -> str:
    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    return base64.b64encode(key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()


def _verify(public_pem: str, message: bytes, signature: str) -> None:
    try:
        key = serialization.load_pem_public_key(public_pem.encode())
        key.verify(base64.b64decode(signature, validate=True), message, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError, TypeError) as exc:
        raise VerificationFailed("the platform's signature does not verify") from exc


def _minor(amount: object, currency: str) -> int | None:
    return None if amount in (None, "") else parse_minor(str(amount), currency, allow_zero=True)


def _action(method: str, body: dict) -> dict:
    if method == Method.NATIVE:
        return {"type": "qr_code", "code_url": body.get("qr_code")}
    if method in {Method.APP, Method.JSAPI, Method.MINI_PROGRAM}:
        return {"type": "sdk_params", "params": body.get("sdk_params") or {}}
    return {"type": "redirect", "url": body.get("checkout_url")}


class SandboxChannel(ChannelPlugin):
    name = "sandbox"
    methods = frozenset(
        {Method.PAGE, Method.WAP, Method.APP, Method.NATIVE, Method.JSAPI, Method.MINI_PROGRAM}
    )
    parameters = (
        Parameter(
            name="base_url",
            label="Platform URL",
            kind="url",
            required=False,
            help="Where the sandbox platform listens; empty for this installation's default.",
        ),
    )

    def _timeout(self) -> tuple[float, float]:
        return (3.05, float(getattr(settings, "SANDBOX_CHANNEL_TIMEOUT", 10)))

    def activate(self, *, mc: MerchantChannel) -> tuple[dict, dict]:
        base_url = (mc.params.get("base_url") or settings.SANDBOX_CHANNEL_URL).rstrip("/")
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public_pem = (
            key.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )
        private_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        try:
            response = requests.post(
                f"{base_url}/v1/merchants",
                json={"name": f"merchant-{mc.merchant_id}", "public_key": public_pem},
                timeout=self._timeout(),
            )
        except requests.RequestException as exc:
            raise ChannelUnreachable(f"sandbox at {base_url}: {exc}") from exc
        if response.status_code != 201:
            raise ChannelError("ACTIVATION_FAILED", response.text[:200])
        body = response.json()
        params = {
            "base_url": base_url,
            "merchant_id": body["merchant_id"],
            "platform_public_key": body["platform_public_key"],
        }
        return params, {"private_key": private_pem}

    def _request(self, mc: MerchantChannel, method: str, path: str, body: dict | None = None) -> dict:
        return self._exchange(mc, method, path, body)[0]

    def _exchange(
        self, mc: MerchantChannel, method: str, path: str, body: dict | None = None, *, raw: bool = False
    ) -> tuple[dict, bytes]:
        """The platform's verified answer: (its JSON, or {} when `raw`; its bytes)."""
        payload = json.dumps(body).encode() if body is not None else b""
        timestamp = str(int(time.time()))
        message = "\n".join([method, path, timestamp]).encode() + b"\n" + payload
        headers = {
            "Content-Type": "application/json",
            "X-Sandbox-Merchant": mc.params["merchant_id"],
            "X-Sandbox-Timestamp": timestamp,
            "X-Sandbox-Signature": _sign(json.loads(mc.secrets)["private_key"], message),
        }
        gateway.record(request={"method": method, "path": path, "body": body or {}})
        response = gateway.http_request(
            method,
            mc.params["base_url"] + path,
            data=payload or None,
            headers=headers,
            timeout=self._timeout(),
        )
        try:
            _verify(
                mc.params["platform_public_key"],
                response.headers.get("X-Sandbox-Timestamp", "").encode() + b"\n" + response.content,
                response.headers.get("X-Sandbox-Signature", ""),
            )
            data = response.json() if response.content and not (raw and response.status_code < 400) else {}
        except (VerificationFailed, ValueError) as exc:
            # Not the platform's word (a proxy's error page, a forgery): what happened there
            # is unknown, and only a query may tell.
            raise ChannelTimeout(f"unverifiable answer (HTTP {response.status_code}): {exc}") from exc
        gateway.record(status=response.status_code, response=data or {"bytes": len(response.content)})
        if response.status_code >= 400:
            raise ChannelError(data.get("code", f"HTTP_{response.status_code}"), data.get("message", ""))
        return data, response.content

    def _payment(self, data: dict, *, method: str = "") -> ChannelPayment:
        currency = data.get("currency", "CNY")
        paid_at = data.get("paid_at")
        paid = _minor(data.get("paid_amount") or data.get("amount"), currency)
        captured = _minor(data.get("captured_amount"), currency)
        if data.get("status") == "succeeded" and captured:
            paid = captured  # a captured pre-authorization: what was taken, not what was held
        return ChannelPayment(
            state=STATES.get(data.get("status", ""), ChannelState.UNKNOWN),
            channel_trade_no=data.get("trade_no"),
            paid_minor=paid,
            currency=currency,
            action=_action(method, data) if method else {"type": "none"},
            paid_at=datetime.fromisoformat(paid_at.replace("Z", "+00:00")) if paid_at else None,
        )

    def pay(self, *, mc: MerchantChannel, order: PaymentOrder) -> ChannelPayment:
        body = {
            "out_trade_no": order.serial,
            "amount": format_minor(order.amount_minor, order.currency),
            "currency": order.currency,
            "subject": order.subject,
            "method": order.method,
            "capture": order.capture,
            "notify_url": order.notify_url,
            "expire_seconds": order.expire_seconds,
        }
        if order.return_url:
            body["return_url"] = order.return_url
        if order.options:
            body["behaviour"] = order.options
        return self._payment(self._request(mc, "POST", "/v1/payments", body), method=order.method)

    def query(self, *, mc: MerchantChannel, serial: str, channel_trade_no: str | None) -> ChannelPayment:
        path = (
            f"/v1/payments/{channel_trade_no}" if channel_trade_no else f"/v1/payments?out_trade_no={serial}"
        )
        try:
            return self._payment(self._request(mc, "GET", path))
        except ChannelError as exc:
            if exc.code == "TRADE_NOT_FOUND":
                return ChannelPayment(state=ChannelState.FAILED)  # the platform never took it
            raise

    def close(self, *, mc: MerchantChannel, serial: str, channel_trade_no: str | None) -> ChannelPayment:
        if not channel_trade_no:
            return self.query(mc=mc, serial=serial, channel_trade_no=None)
        return self._payment(self._request(mc, "POST", f"/v1/payments/{channel_trade_no}/close", {}))

    def capture(
        self, *, mc: MerchantChannel, channel_trade_no: str, amount_minor: int, currency: str
    ) -> ChannelPayment:
        body = {"amount": format_minor(amount_minor, currency)}
        return self._payment(self._request(mc, "POST", f"/v1/payments/{channel_trade_no}/capture", body))

    def void(self, *, mc: MerchantChannel, channel_trade_no: str) -> ChannelPayment:
        return self._payment(self._request(mc, "POST", f"/v1/payments/{channel_trade_no}/void", {}))

    def refund(
        self,
        *,
        mc: MerchantChannel,
        channel_trade_no: str,
        refund_serial: str,
        amount_minor: int,
        currency: str,
        options: dict,
    ) -> ChannelRefund:
        body = {
            "trade_no": channel_trade_no,
            "out_refund_no": refund_serial,
            "amount": format_minor(amount_minor, currency),
        }
        if options:
            body["behaviour"] = options
        data = self._request(mc, "POST", "/v1/refunds", body)
        return self._refund(data, currency)

    def refund_query(
        self, *, mc: MerchantChannel, channel_trade_no: str, refund_serial: str
    ) -> ChannelRefund:
        try:
            data = self._request(mc, "GET", f"/v1/refunds/{refund_serial}?trade_no={channel_trade_no}")
        except ChannelError as exc:
            if exc.code == "REFUND_NOT_FOUND":
                return ChannelRefund(state=ChannelState.FAILED)
            raise
        return self._refund(data, data.get("currency", "CNY"))

    def _refund(self, data: dict, currency: str) -> ChannelRefund:
        return ChannelRefund(
            state=STATES.get(data.get("status", ""), ChannelState.UNKNOWN),
            refund_no=data.get("refund_no"),
            amount_minor=_minor(data.get("amount"), currency),
        )

    def download_statement(self, *, mc: MerchantChannel, day: date) -> bytes:
        """The day's statement CSV (docs/sandbox.md), signed like every answer."""
        return self._exchange(mc, "GET", f"/v1/statements/{day:%Y-%m-%d}", raw=True)[1]

    def parse_notification(self, *, mc: MerchantChannel, headers: dict, body: bytes) -> ChannelEvent:
        timestamp = headers.get("X-Sandbox-Timestamp", "")
        if not timestamp.isascii() or not timestamp.isdigit():
            raise VerificationFailed("missing or malformed X-Sandbox-Timestamp")
        _verify(
            mc.params["platform_public_key"],
            timestamp.encode() + b"\n" + body,
            headers.get("X-Sandbox-Signature", ""),
        )
        if abs(time.time() - int(timestamp)) > 24 * 3600:
            raise VerificationFailed("notification timestamp is more than a day off")
        try:
            data = json.loads(body)
            currency = str(data["currency"])
            return ChannelEvent(
                notify_id=str(data["notify_id"]),
                event=str(data["event"]),
                reference=str(data["out_trade_no"]),
                channel_trade_no=str(data["trade_no"]),
                state=STATES.get(str(data.get("status", "")), ChannelState.UNKNOWN),
                paid_minor=_minor(data.get("amount"), currency),
                currency=currency,
                refund_reference=data.get("out_refund_no"),
                refund_amount_minor=_minor(data.get("refund_amount"), currency),
            )
        except (ValueError, KeyError, TypeError, PaycenterError) as exc:
            raise VerificationFailed(f"notification body is not what the platform sends: {exc}") from exc
