"""Client of Alipay's OpenAPI (RSA2) over real HTTP, exactly as it would run against
https://openapi.alipay.com/gateway.do; only `gateway_url` differs for the fake platform.

Page, WAP and app payments are built here and signed, never sent: the payer's browser (or the
Alipay SDK in the app) takes them to Alipay. QR payments (`alipay.trade.precreate`) and
everything else are server calls whose answers are verified with the Alipay public key.
"""

import json
import math
from datetime import date, datetime
from urllib.parse import parse_qsl, urlencode
from zoneinfo import ZoneInfo

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
    VerificationFailed,
)
from channels.choices import ChannelState, Method
from channels.models import MerchantChannel
from channels.plugins.alipay.bill import detail_csv
from channels.plugins.alipay.signing import (
    NOTIFY_EXCLUDED,
    load_private_key,
    load_public_key,
    response_node,
    rsa2_sign,
    rsa2_verify,
    sign_content,
)
from paycenter.errors import InvalidRequest, PaycenterError
from paycenter.money import format_minor, parse_minor

CHINA = ZoneInfo("Asia/Shanghai")  # Alipay's timestamps are Beijing time, without a zone
TRADE_STATES = {
    "WAIT_BUYER_PAY": ChannelState.PENDING,
    "TRADE_SUCCESS": ChannelState.SUCCEEDED,
    "TRADE_FINISHED": ChannelState.SUCCEEDED,  # succeeded and no longer refundable
    "TRADE_CLOSED": ChannelState.CLOSED,
}
EVENTS = {
    ChannelState.PENDING: "payment.pending",
    ChannelState.SUCCEEDED: "payment.succeeded",
    ChannelState.CLOSED: "payment.closed",
}
BROWSER_METHODS = {
    Method.PAGE: ("alipay.trade.page.pay", "FAST_INSTANT_TRADE_PAY"),
    Method.WAP: ("alipay.trade.wap.pay", "QUICK_WAP_WAY"),
    Method.APP: ("alipay.trade.app.pay", "QUICK_MSECURITY_PAY"),
}
NOT_EXIST = "ACQ.TRADE_NOT_EXIST"


def _minor(amount: object) -> int | None:
    return None if amount in (None, "") else parse_minor(str(amount), "CNY", allow_zero=True)


def _china_time(text: str | None) -> datetime | None:
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=CHINA) if text else None


class AlipayChannel(ChannelPlugin):
    name = "alipay"
    methods = frozenset({Method.PAGE, Method.WAP, Method.APP, Method.NATIVE})
    parameters = (
        Parameter("mode", "Mode", kind="choice", choices=(ORDINARY, SERVICE_PROVIDER)),
        Parameter("app_id", "App ID", help="the app's id (in service-provider mode, the provider's app)"),
        Parameter("app_private_key", "App private key", kind="pem_private"),
        Parameter("alipay_public_key", "Alipay public key", kind="pem_public"),
        Parameter("gateway_url", "Gateway URL", kind="url", help="https://openapi.alipay.com/gateway.do"),
        Parameter(
            "app_auth_token",
            "App auth token",
            kind="secret",
            modes=frozenset({SERVICE_PROVIDER}),
            help="the sub-merchant's authorisation of the provider's app",
        ),
    )

    # -- set-up ------------------------------------------------------------------------
    def activate(self, *, mc: MerchantChannel) -> tuple[dict, dict]:
        """Checks what the operator gave (keys load, URL is one); Alipay has no call for it."""
        params, secrets = dict(mc.params), self._secrets(mc)
        params.setdefault("mode", ORDINARY)
        if params["mode"] not in (ORDINARY, SERVICE_PROVIDER):
            raise InvalidRequest("mode is ordinary or service_provider.", field="mode")
        for p in self.parameters:
            have = secrets.get(p.name) if p.secret else params.get(p.name)
            if p.required and params["mode"] in p.modes and not have:
                raise InvalidRequest(f"{p.name} is required.", field=p.name)
        try:
            load_private_key(secrets["app_private_key"])
            load_public_key(params["alipay_public_key"])
        except ValueError as exc:
            raise InvalidRequest(f"A key does not load: {exc}", field="app_private_key") from exc
        if not str(params["gateway_url"]).startswith(("https://", "http://")):
            raise InvalidRequest("gateway_url is an http(s) URL.", field="gateway_url")
        return params, {}

    def _secrets(self, mc: MerchantChannel) -> dict:
        return json.loads(mc.secrets) if mc.secrets else {}

    def _timeout(self) -> tuple[float, float]:
        return (3.05, float(getattr(settings, "ALIPAY_CHANNEL_TIMEOUT", 10)))

    # -- the wire ----------------------------------------------------------------------
    def _signed_params(self, mc: MerchantChannel, method: str, biz: dict, **extra: str) -> dict:
        """The common parameters, biz_content and the RSA2 signature, as Alipay's SDKs send them."""
        secrets = self._secrets(mc)
        params = {
            "app_id": mc.params["app_id"],
            "method": method,
            "format": "JSON",
            "charset": "utf-8",
            "sign_type": "RSA2",
            "timestamp": datetime.now(CHINA).strftime("%Y-%m-%d %H:%M:%S"),
            "version": "1.0",
            "biz_content": json.dumps(biz, ensure_ascii=False, separators=(",", ":")),
            **{k: v for k, v in extra.items() if v},
        }
        if mc.params.get("mode") == SERVICE_PROVIDER:
            params["app_auth_token"] = secrets["app_auth_token"]
        params["sign"] = rsa2_sign(secrets["app_private_key"], sign_content(params))
        return params

    def _call(self, mc: MerchantChannel, method: str, biz: dict, **extra: str) -> dict:
        """One gateway call; the answer's node, verified. Refusals raise ChannelError(sub_code)."""
        params = self._signed_params(mc, method, biz, **extra)
        gateway.record(request={"method": method, "biz_content": biz})
        response = gateway.http_request(
            "POST",
            mc.params["gateway_url"],
            params={"charset": "utf-8"},
            data=params,
            timeout=self._timeout(),
        )
        try:
            text = response.content.decode("utf-8")
            node, node_text = response_node(text, method.replace(".", "_") + "_response")
            rsa2_verify(mc.params["alipay_public_key"], node_text, json.loads(text).get("sign", ""))
        except (VerificationFailed, ValueError) as exc:
            # Not Alipay's word (a proxy's page, a forgery): what happened is unknown.
            raise ChannelTimeout(f"unverifiable answer (HTTP {response.status_code}): {exc}") from exc
        gateway.record(status=response.status_code, response=node)
        if node.get("code") != "10000":
            raise ChannelError(node.get("sub_code") or node.get("code") or "UNKNOWN", node.get("sub_msg", ""))
        return node

    # -- payments ----------------------------------------------------------------------
    def pay(self, *, mc: MerchantChannel, order: PaymentOrder) -> ChannelPayment:
        if order.currency != "CNY":
            raise ChannelError("CURRENCY_NOT_SUPPORTED", "Alipay collects CNY")
        biz = {
            "out_trade_no": order.serial,
            "total_amount": format_minor(order.amount_minor, order.currency),
            "subject": order.subject[:256],
            "timeout_express": f"{max(1, math.ceil(order.expire_seconds / 60))}m",
        }
        if order.options:
            # Echoed back untouched by Alipay; the fake platform reads its behaviour from it.
            biz["passback_params"] = json.dumps(order.options, separators=(",", ":"))
        if order.method == Method.NATIVE:
            node = self._call(mc, "alipay.trade.precreate", biz, notify_url=order.notify_url)
            return ChannelPayment(
                state=ChannelState.PENDING, action={"type": "qr_code", "code_url": node.get("qr_code")}
            )
        method, product_code = BROWSER_METHODS[order.method]
        params = self._signed_params(
            mc,
            method,
            {**biz, "product_code": product_code},
            notify_url=order.notify_url,
            return_url=order.return_url,
        )
        gateway.record(request={"method": method, "biz_content": biz})
        if order.method == Method.APP:
            action = {"type": "sdk_params", "params": {"order_string": urlencode(params)}}
        else:
            action = {"type": "redirect", "url": f"{mc.params['gateway_url']}?{urlencode(params)}"}
        # The link itself is not logged: it carries the signature (and, for a service provider,
        # the sub-merchant's app_auth_token, which Alipay's protocol puts in it).
        gateway.record(response={"action": action["type"]})
        return ChannelPayment(state=ChannelState.PENDING, action=action)

    def query(self, *, mc: MerchantChannel, serial: str, channel_trade_no: str | None) -> ChannelPayment:
        biz = {"out_trade_no": serial}
        if channel_trade_no:
            biz["trade_no"] = channel_trade_no
        try:
            node = self._call(mc, "alipay.trade.query", biz)
        except ChannelError as exc:
            if exc.code == NOT_EXIST:
                # Alipay creates a page/QR trade only when the payer opens it: not there yet
                # is still payable, not failed. Expiry closes it (close answers the same).
                return ChannelPayment(state=ChannelState.PENDING)
            raise
        state = TRADE_STATES.get(node.get("trade_status", ""), ChannelState.UNKNOWN)
        return ChannelPayment(
            state=state,
            channel_trade_no=node.get("trade_no"),
            paid_minor=_minor(node.get("total_amount")) if state == ChannelState.SUCCEEDED else None,
            currency="CNY",
            paid_at=_china_time(node.get("send_pay_date")),
        )

    def close(self, *, mc: MerchantChannel, serial: str, channel_trade_no: str | None) -> ChannelPayment:
        biz = {"out_trade_no": serial}
        try:
            node = self._call(mc, "alipay.trade.close", biz)
        except ChannelError as exc:
            if exc.code == NOT_EXIST:
                return ChannelPayment(state=ChannelState.CLOSED)  # never opened: nothing to pay
            if exc.code == "ACQ.TRADE_STATUS_ERROR":
                return self.query(mc=mc, serial=serial, channel_trade_no=channel_trade_no)  # paid meanwhile
            raise
        return ChannelPayment(state=ChannelState.CLOSED, channel_trade_no=node.get("trade_no"))

    # -- refunds -----------------------------------------------------------------------
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
        biz = {
            "trade_no": channel_trade_no,
            "refund_amount": format_minor(amount_minor, currency),
            "out_request_no": refund_serial,  # the same number again is the same refund
        }
        self._call(mc, "alipay.trade.refund", biz)
        # Alipay refunds synchronously: code 10000 is done (fund_change N: done before).
        return ChannelRefund(state=ChannelState.SUCCEEDED, refund_no=refund_serial, amount_minor=amount_minor)

    def refund_query(
        self, *, mc: MerchantChannel, channel_trade_no: str, refund_serial: str
    ) -> ChannelRefund:
        biz = {"trade_no": channel_trade_no, "out_request_no": refund_serial}
        node = self._call(mc, "alipay.trade.fastpay.refund.query", biz)
        if not node.get("refund_amount"):
            return ChannelRefund(state=ChannelState.FAILED)  # Alipay never received it
        status = node.get("refund_status", "REFUND_SUCCESS")  # absent on older answers: success
        return ChannelRefund(
            state=ChannelState.SUCCEEDED if status == "REFUND_SUCCESS" else ChannelState.PENDING,
            refund_no=refund_serial,
            amount_minor=_minor(node.get("refund_amount")),
        )

    # -- notifications -----------------------------------------------------------------
    def parse_notification(self, *, mc: MerchantChannel, headers: dict, body: bytes) -> ChannelEvent:
        try:
            fields = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=True))
        except (UnicodeDecodeError, ValueError) as exc:
            raise VerificationFailed(f"not a form-encoded notification: {exc}") from exc
        if fields.get("sign_type") != "RSA2":
            raise VerificationFailed("only RSA2 notifications are accepted")
        rsa2_verify(
            mc.params["alipay_public_key"],
            sign_content(fields, exclude=NOTIFY_EXCLUDED),
            fields.get("sign", ""),
        )
        if fields.get("app_id") != mc.params.get("app_id"):
            raise VerificationFailed("the notification is for another app")
        try:
            state = TRADE_STATES[fields["trade_status"]]
            common = {
                "notify_id": fields["notify_id"],
                "reference": fields["out_trade_no"],
                "channel_trade_no": fields["trade_no"],
                "currency": "CNY",
            }
            if fields.get("out_biz_no") and fields.get("refund_fee"):
                # A refund's notification: refund_fee is the trade's total refunded so far,
                # not this refund's amount, so it is not compared with one refund.
                return ChannelEvent(
                    event="refund.succeeded",
                    state=ChannelState.SUCCEEDED,
                    paid_minor=None,
                    refund_reference=fields["out_biz_no"],
                    **common,
                )
            return ChannelEvent(
                event=EVENTS[state],
                state=state,
                paid_minor=_minor(fields.get("total_amount")) if state == ChannelState.SUCCEEDED else None,
                **common,
            )
        except (KeyError, ValueError, PaycenterError) as exc:
            raise VerificationFailed(f"notification is not what Alipay sends: {exc}") from exc

    # -- statements --------------------------------------------------------------------
    def download_statement(self, *, mc: MerchantChannel, day: date) -> bytes:
        """The day's 业务明细 CSV (GBK bytes, as Alipay wrote it): bill.parse_trade_bill reads it."""
        node = self._call(
            mc,
            "alipay.data.dataservice.bill.downloadurl.query",
            {"bill_type": "trade", "bill_date": str(day)},
        )
        try:
            response = requests.get(node["bill_download_url"], timeout=self._timeout())
        except requests.RequestException as exc:
            raise ChannelTimeout(f"bill download: {exc}") from exc
        if response.status_code != 200:
            raise ChannelError("BILL_DOWNLOAD_FAILED", f"HTTP {response.status_code}")
        return detail_csv(response.content)
