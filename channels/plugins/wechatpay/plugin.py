"""Client of WeChat Pay API v3 over real HTTP, ordinary merchants and service providers
(partner API). Requests carry the merchant's `Authorization` signature; answers and
callbacks are verified with the WeChat Pay public key (public-key mode, its id as serial),
never with ours. Amounts are integer fen on the wire, as in our minor units."""

import hashlib
import json
import time
from datetime import date, datetime, timedelta
from urllib.parse import quote, urlsplit

import requests
from django.conf import settings

from channels import gateway
from channels.base import (
    ORDINARY,
    SERVICE_PROVIDER,
    ChannelError,
    ChannelEvent,
    ChannelPayment,
    ChannelPlugin,
    ChannelRefund,
    ChannelTimeout,
    Parameter,
    PaymentOrder,
    Reply,
    VerificationFailed,
)
from channels.choices import ChannelState, Method
from channels.models import MerchantChannel
from channels.plugins.wechatpay import signing
from channels.plugins.wechatpay.bill import BEIJING
from paycenter.errors import InvalidRequest

SP = frozenset({SERVICE_PROVIDER})
ORD = frozenset({ORDINARY})
TRADE_STATES = {
    "SUCCESS": ChannelState.SUCCEEDED,
    "REFUND": ChannelState.SUCCEEDED,  # paid, then (partly) refunded: still a paid payment
    "NOTPAY": ChannelState.PENDING,
    "USERPAYING": ChannelState.PENDING,
    "ACCEPT": ChannelState.PENDING,
    "CLOSED": ChannelState.CLOSED,
    "REVOKED": ChannelState.CLOSED,
    "PAYERROR": ChannelState.FAILED,
}
REFUND_STATES = {
    "SUCCESS": ChannelState.SUCCEEDED,
    "PROCESSING": ChannelState.PENDING,
    "ABNORMAL": ChannelState.PENDING,  # stuck at the bank: an operator's case, not a failure yet
    "CLOSED": ChannelState.FAILED,
}
KINDS = {
    Method.NATIVE: "native",
    Method.JSAPI: "jsapi",
    Method.MINI_PROGRAM: "jsapi",
    Method.WAP: "h5",
    Method.APP: "app",
}


class WechatPayChannel(ChannelPlugin):
    name = "wechatpay"
    methods = frozenset(KINDS)
    parameters = (
        Parameter("mode", "Mode", kind="choice", choices=(ORDINARY, SERVICE_PROVIDER)),
        Parameter("mchid", "Merchant id (mchid)", modes=ORD),
        Parameter("appid", "App id (appid)", modes=ORD),
        Parameter("sp_mchid", "Service provider merchant id (sp_mchid)", modes=SP),
        Parameter("sp_appid", "Service provider app id (sp_appid)", modes=SP),
        Parameter("sub_mchid", "Sub-merchant id (sub_mchid)", modes=SP),
        Parameter("sub_appid", "Sub-merchant app id (sub_appid)", required=False, modes=SP),
        Parameter(
            "merchant_serial_no",
            "Merchant API certificate serial number",
            help="In service-provider mode, the service provider's.",
        ),
        Parameter(
            "merchant_private_key",
            "Merchant API private key (apiclient_key.pem)",
            kind="pem_private",
            help="In service-provider mode, the service provider's.",
        ),
        Parameter("apiv3_key", "APIv3 key (32 characters)", kind="secret"),
        Parameter("wechatpay_public_key", "WeChat Pay public key", kind="pem_public"),
        Parameter("wechatpay_public_key_id", "WeChat Pay public key id (PUB_KEY_ID_…)"),
        Parameter(
            "base_url", "API base URL", kind="url", help="https://api.mch.weixin.qq.com in production."
        ),
    )

    # --- setup -----------------------------------------------------------------------
    def activate(self, *, mc: MerchantChannel) -> tuple[dict, dict]:
        """Checks what the operator gave; WeChat has nothing to register through the API."""
        values = {**mc.params, **_secrets(mc)}
        mode = values.get("mode") or ORDINARY
        if mode not in (ORDINARY, SERVICE_PROVIDER):
            raise InvalidRequest("mode is ordinary or service_provider.", field="mode")
        for parameter in self.parameters:
            if parameter.required and mode in parameter.modes and not values.get(parameter.name):
                raise InvalidRequest(f"{parameter.name} is required.", field=parameter.name)
        try:
            signing.load_private_key(values["merchant_private_key"])
            signing.verify_key_loads(values["wechatpay_public_key"])
        except ValueError as exc:
            raise InvalidRequest(f"A key does not load: {exc}", field="merchant_private_key") from exc
        if len(values["apiv3_key"].encode()) != 32:
            raise InvalidRequest("apiv3_key is 32 characters.", field="apiv3_key")
        if urlsplit(values["base_url"]).scheme not in {"http", "https"}:
            raise InvalidRequest("base_url must be an http(s) URL.", field="base_url")
        secret_names = {p.name for p in self.parameters if p.secret}
        params = {k: v for k, v in mc.params.items() if k not in secret_names}
        params["mode"] = mode
        params["base_url"] = values["base_url"].rstrip("/")
        return params, {}

    # --- transport -------------------------------------------------------------------
    def _timeout(self) -> tuple[float, float]:
        return (3.05, float(getattr(settings, "WECHATPAY_TIMEOUT", 10)))

    def _send(self, mc: MerchantChannel, method: str, path: str, body: dict | None) -> requests.Response:
        payload = (
            json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode() if body is not None else b""
        )
        secrets = _secrets(mc)
        headers = {
            "Accept": "application/json",
            "Content-Type": "application/json",
            "User-Agent": "paycenter-wechatpay/1",
            "Authorization": signing.authorization(
                mchid=_account(mc),
                serial_no=mc.params["merchant_serial_no"],
                private_pem=secrets["merchant_private_key"],
                method=method,
                path=path,
                body=payload,
                timestamp=str(int(time.time())),
                nonce_str=signing.nonce(),
            ),
        }
        gateway.record(request={"method": method, "path": path, "body": body or {}})
        url = path if path.startswith("http") else mc.params["base_url"] + path
        return gateway.http_request(
            method, url, data=payload or None, headers=headers, timeout=self._timeout()
        )

    def _request(self, mc: MerchantChannel, method: str, path: str, body: dict | None = None) -> dict:
        response = self._send(mc, method, path, body)
        try:
            signing.verify(
                public_pem=mc.params["wechatpay_public_key"],
                key_id=mc.params["wechatpay_public_key_id"],
                headers=dict(response.headers),
                body=response.content,
                now=time.time(),
            )
            data = response.json() if response.content else {}
        except (VerificationFailed, ValueError) as exc:
            # Not the platform's word (a proxy's page, a forgery): what happened there is
            # unknown, and only a query may tell.
            raise ChannelTimeout(f"unverifiable answer (HTTP {response.status_code}): {exc}") from exc
        gateway.record(status=response.status_code, response=data)
        if response.status_code >= 400:
            raise ChannelError(data.get("code", f"HTTP_{response.status_code}"), data.get("message", ""))
        return data

    # --- payments --------------------------------------------------------------------
    def pay(self, *, mc: MerchantChannel, order: PaymentOrder) -> ChannelPayment:
        if order.currency != "CNY":
            raise ChannelError("CURRENCY_UNSUPPORTED", "WeChat Pay takes CNY only")
        if not order.capture:
            raise ChannelError("CAPTURE_UNSUPPORTED", "WeChat Pay has no separate capture")
        kind = KINDS.get(order.method)
        if kind is None:
            raise ChannelError("METHOD_UNSUPPORTED", f"WeChat Pay has no {order.method} payment")
        options = dict(order.options)
        openid = options.pop("openid", None)
        client_ip = options.pop("payer_client_ip", "127.0.0.1")
        expire = datetime.now(BEIJING).replace(microsecond=0) + timedelta(seconds=order.expire_seconds)
        body = {
            **_parties(mc),
            "description": order.subject[:127] or order.serial,
            "out_trade_no": order.serial,
            "time_expire": expire.isoformat(),
            "notify_url": order.notify_url,
            "amount": {"total": order.amount_minor, "currency": "CNY"},
        }
        if options:
            body["attach"] = json.dumps(options, separators=(",", ":"))[
                :128
            ]  # the fake reads its behaviour here
        if kind == "jsapi":
            body["payer"] = {_openid_field(mc): openid or ""}
        if kind == "h5":
            body["scene_info"] = {"payer_client_ip": client_ip, "h5_info": {"type": "Wap"}}
        data = self._request(mc, "POST", f"{_prefix(mc)}/{kind}", body)
        return ChannelPayment(state=ChannelState.PENDING, currency="CNY", action=self._action(mc, kind, data))

    def _action(self, mc: MerchantChannel, kind: str, data: dict) -> dict:
        if kind == "native":
            return {"type": "qr_code", "code_url": data.get("code_url")}
        if kind == "h5":
            return {"type": "redirect", "url": data.get("h5_url")}
        prepay_id = str(data.get("prepay_id") or "")
        timestamp, nonce_str = str(int(time.time())), signing.nonce()
        private_pem = _secrets(mc)["merchant_private_key"]
        appid = mc.params.get("sub_appid") or mc.params.get("sp_appid") or mc.params.get("appid", "")
        if kind == "app":
            fields = [appid, timestamp, nonce_str, prepay_id]
            params = {
                "appid": appid,
                "partnerid": _account(mc),
                "prepayid": prepay_id,
                "package": "Sign=WXPay",
                "noncestr": nonce_str,
                "timestamp": timestamp,
                "sign": signing.pay_sign(private_pem=private_pem, fields=fields),
            }
            return {"type": "sdk_params", "params": params}
        package = f"prepay_id={prepay_id}"
        params = {
            "appId": appid,
            "timeStamp": timestamp,
            "nonceStr": nonce_str,
            "package": package,
            "signType": "RSA",
            "paySign": signing.pay_sign(
                private_pem=private_pem, fields=[appid, timestamp, nonce_str, package]
            ),
        }
        return {"type": "sdk_params", "params": params}

    def _payment(self, data: dict) -> ChannelPayment:
        state = TRADE_STATES.get(str(data.get("trade_state", "")), ChannelState.UNKNOWN)
        amount = data.get("amount") or {}
        success_time = data.get("success_time")
        paid = state == ChannelState.SUCCEEDED
        return ChannelPayment(
            state=state,
            channel_trade_no=data.get("transaction_id") or None,
            paid_minor=_int(amount.get("total")) if paid else None,
            currency=str(amount.get("currency") or "CNY"),
            paid_at=datetime.fromisoformat(success_time) if paid and success_time else None,
        )

    def _get_payment(self, mc: MerchantChannel, *, out_trade_no: str = "", transaction_id: str = "") -> dict:
        which = f"id/{quote(transaction_id)}" if transaction_id else f"out-trade-no/{quote(out_trade_no)}"
        return self._request(mc, "GET", f"{_prefix(mc)}/{which}?{_query(mc)}")

    def query(self, *, mc: MerchantChannel, serial: str, channel_trade_no: str | None) -> ChannelPayment:
        try:
            return self._payment(self._get_payment(mc, out_trade_no=serial))
        except ChannelError as exc:
            if exc.code == "ORDER_NOT_EXIST":
                return ChannelPayment(state=ChannelState.FAILED)  # the platform never took it
            raise

    def close(self, *, mc: MerchantChannel, serial: str, channel_trade_no: str | None) -> ChannelPayment:
        try:
            self._request(mc, "POST", f"{_prefix(mc)}/out-trade-no/{quote(serial)}/close", _closer(mc))
        except ChannelError as exc:
            if exc.code not in {"ORDERPAID", "ORDER_NOT_EXIST"}:
                raise
        return self.query(mc=mc, serial=serial, channel_trade_no=channel_trade_no)

    # --- refunds ---------------------------------------------------------------------
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
        # WeChat wants the order's total with every refund; the platform's word for it.
        total = _int(
            (self._get_payment(mc, transaction_id=channel_trade_no).get("amount") or {}).get("total")
        )
        body = {
            "transaction_id": channel_trade_no,
            "out_refund_no": refund_serial,
            "notify_url": f"{settings.PAYCENTER_PUBLIC_URL}/notify/{self.name}/{mc.pk}",
            "amount": {"refund": amount_minor, "total": total, "currency": "CNY"},
        }
        if options.get("reason"):
            body["reason"] = str(options["reason"])[:80]
        if _sp(mc):
            body = {"sub_mchid": mc.params["sub_mchid"], **body}
        return self._refund(self._request(mc, "POST", "/v3/refund/domestic/refunds", body))

    def refund_query(
        self, *, mc: MerchantChannel, channel_trade_no: str, refund_serial: str
    ) -> ChannelRefund:
        path = f"/v3/refund/domestic/refunds/{quote(refund_serial)}"
        if _sp(mc):
            path += f"?sub_mchid={quote(mc.params['sub_mchid'])}"
        try:
            return self._refund(self._request(mc, "GET", path))
        except ChannelError as exc:
            if exc.code == "RESOURCE_NOT_EXISTS":
                return ChannelRefund(state=ChannelState.FAILED)
            raise

    def _refund(self, data: dict) -> ChannelRefund:
        return ChannelRefund(
            state=REFUND_STATES.get(str(data.get("status", "")), ChannelState.UNKNOWN),
            refund_no=data.get("refund_id"),
            amount_minor=_int((data.get("amount") or {}).get("refund")),
        )

    # --- callbacks -------------------------------------------------------------------
    def parse_notification(self, *, mc: MerchantChannel, headers: dict, body: bytes) -> ChannelEvent:
        signing.verify(
            public_pem=mc.params["wechatpay_public_key"],
            key_id=mc.params["wechatpay_public_key_id"],
            headers=headers,
            body=body,
            now=time.time(),
        )
        try:
            envelope = json.loads(body)
            plain = json.loads(
                signing.decrypt(apiv3_key=_secrets(mc)["apiv3_key"], resource=envelope["resource"])
            )
            if plain.get("sp_mchid", plain.get("mchid")) != _account(mc) or plain.get("sub_mchid", "") != (
                mc.params.get("sub_mchid", "") if _sp(mc) else ""
            ):
                raise VerificationFailed("the callback is for another merchant")
            amount = plain.get("amount") or {}
            event_type = str(envelope["event_type"])
            if event_type.startswith("REFUND."):
                return ChannelEvent(
                    notify_id=str(envelope["id"]),
                    event="refund.succeeded" if event_type == "REFUND.SUCCESS" else "refund.failed",
                    reference=str(plain["out_trade_no"]),
                    channel_trade_no=str(plain["transaction_id"]),
                    state=REFUND_STATES.get(str(plain.get("refund_status")), ChannelState.UNKNOWN),
                    paid_minor=None,
                    currency="CNY",
                    refund_reference=str(plain["out_refund_no"]),
                    refund_amount_minor=_int(amount.get("refund")),
                )
            payment = self._payment(plain)
            return ChannelEvent(
                notify_id=str(envelope["id"]),
                event="payment.succeeded" if payment.state == ChannelState.SUCCEEDED else "payment.failed",
                reference=str(plain["out_trade_no"]),
                channel_trade_no=str(plain.get("transaction_id") or ""),
                state=payment.state,
                paid_minor=_int(amount.get("total")),
                currency=str(amount.get("currency") or "CNY"),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise VerificationFailed(f"callback body is not what WeChat Pay sends: {exc}") from exc

    def reply(self, *, ok: bool) -> Reply:
        if ok:
            return Reply(status=200, body='{"code":"SUCCESS"}', content_type="application/json")
        body = '{"code":"FAIL","message":"verification failed"}'
        return Reply(status=400, body=body, content_type="application/json")

    # --- statements ------------------------------------------------------------------
    def download_statement(self, *, mc: MerchantChannel, day: date) -> bytes:
        """The trade bill (ALL) of the day, as WeChat sends it; `bill.parse_trade_bill` reads it."""
        query = f"bill_date={day.isoformat()}&bill_type=ALL"
        if _sp(mc):
            query += f"&sub_mchid={quote(mc.params['sub_mchid'])}"
        found = self._request(mc, "GET", f"/v3/bill/tradebill?{query}")
        parts = urlsplit(found["download_url"])
        base = urlsplit(mc.params["base_url"])
        if (parts.scheme, parts.netloc) != (base.scheme, base.netloc):
            raise ChannelError("BILL_URL_FOREIGN", "the download URL is not on the API host")
        response = self._send(mc, "GET", f"{parts.path}?{parts.query}", None)
        gateway.record(status=response.status_code, response={"bytes": len(response.content)})
        if response.status_code != 200:
            raise ChannelError(f"HTTP_{response.status_code}", response.text[:200])
        # The file is not signed; its SHA-1 came in the signed answer above.
        if hashlib.sha1(response.content).hexdigest() != str(found.get("hash_value", "")).lower():  # noqa: S324
            raise ChannelError("BILL_HASH_MISMATCH", "the bill does not match hash_value")
        return response.content


def _secrets(mc: MerchantChannel) -> dict:
    return json.loads(mc.secrets) if mc.secrets else {}


def _sp(mc: MerchantChannel) -> bool:
    return mc.params.get("mode") == SERVICE_PROVIDER


def _account(mc: MerchantChannel) -> str:
    """Whose key signs: the merchant's, or in service-provider mode the provider's."""
    return mc.params["sp_mchid"] if _sp(mc) else mc.params["mchid"]


def _prefix(mc: MerchantChannel) -> str:
    return "/v3/pay/partner/transactions" if _sp(mc) else "/v3/pay/transactions"


def _parties(mc: MerchantChannel) -> dict:
    if not _sp(mc):
        return {"appid": mc.params["appid"], "mchid": mc.params["mchid"]}
    parties = {"sp_appid": mc.params["sp_appid"], "sp_mchid": mc.params["sp_mchid"]}
    if mc.params.get("sub_appid"):
        parties["sub_appid"] = mc.params["sub_appid"]
    parties["sub_mchid"] = mc.params["sub_mchid"]
    return parties


def _closer(mc: MerchantChannel) -> dict:
    if _sp(mc):
        return {"sp_mchid": mc.params["sp_mchid"], "sub_mchid": mc.params["sub_mchid"]}
    return {"mchid": mc.params["mchid"]}


def _query(mc: MerchantChannel) -> str:
    if _sp(mc):
        return f"sp_mchid={quote(mc.params['sp_mchid'])}&sub_mchid={quote(mc.params['sub_mchid'])}"
    return f"mchid={quote(mc.params['mchid'])}"


def _openid_field(mc: MerchantChannel) -> str:
    if not _sp(mc):
        return "openid"
    return "sub_openid" if mc.params.get("sub_appid") else "sp_openid"


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
