"""The fake platform's state and business rules, in memory behind one lock: merchants
(ordinary and service providers with their sub-merchants), transactions, refunds, the
notifications waiting to go out. A restart forgets everything, which a test fake may."""

import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from . import crypto

BEIJING = timezone(timedelta(hours=8))
OUTCOMES = {"succeed", "fail", "timeout", "never_notify"}
TRADE_TYPES = {"native": "NATIVE", "jsapi": "JSAPI", "h5": "MWEB", "app": "APP"}


class PlatformError(Exception):
    """An error answer: HTTP status, WeChat's code and message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.status, self.code, self.message = status, code, message


def wechat_time(epoch: float) -> str:
    return datetime.fromtimestamp(int(epoch), BEIJING).isoformat()


def new_id(prefix: str, digits: int = 10) -> str:
    return (
        prefix
        + datetime.now(BEIJING).strftime("%Y%m%d%H%M%S")
        + str(secrets.randbelow(10**digits)).zfill(digits)
    )


@dataclass
class Merchant:
    mchid: str
    serial_no: str
    public_key: str
    apiv3_key: str
    sub_mchids: set[str] = field(default_factory=set)  # non-empty: a service provider


@dataclass
class Payment:
    mchid: str
    sub_mchid: str
    appid: str
    sub_appid: str
    out_trade_no: str
    trade_type: str
    description: str
    attach: str
    notify_url: str
    total: int
    currency: str
    prepay_id: str
    created: float
    expire_at: float
    behaviour: dict
    trade_state: str = "NOTPAY"
    transaction_id: str = ""
    success_time: float | None = None
    settle_at: float | None = None
    refunded: int = 0

    @property
    def reported_total(self) -> int:
        return int(self.behaviour.get("paid_amount") or self.total)


@dataclass
class Refund:
    payment: Payment
    out_refund_no: str
    refund_id: str
    amount: int
    status: str
    notify_url: str
    created: float
    success_time: float | None = None


@dataclass
class Delivery:
    event_id: str
    url: str
    body: bytes
    next_at: float
    attempts: int = 0
    state: str = "pending"  # pending, sending, delivered, failed
    last_error: str = ""


def parse_behaviour(attach: str) -> dict:
    """The per-payment behaviour a test asks for, carried in `attach` as JSON; any other
    `attach` is a merchant's own data and means no special behaviour."""
    try:
        raw = json.loads(attach) if attach.startswith("{") else {}
    except ValueError:
        return {}
    if not isinstance(raw, dict) or raw.get("outcome", "succeed") not in OUTCOMES:
        return {}
    return raw


class Platform:
    def __init__(self, *, public_url: str, speed: float = 1.0) -> None:
        self.public_url = public_url.rstrip("/")
        self.speed = speed
        self.key = crypto.generate_private_key()
        self.public_key_pem = crypto.public_key_pem(self.key)
        self.public_key_id = "PUB_KEY_ID_" + secrets.token_hex(12).upper()
        self.lock = threading.RLock()
        self.wakeup = threading.Event()
        self.stopping = threading.Event()
        self.merchants: dict[str, Merchant] = {}
        self.payments: dict[tuple[str, str, str], Payment] = {}
        self.by_prepay: dict[str, Payment] = {}
        self.by_transaction: dict[str, Payment] = {}
        self.refunds: dict[tuple[str, str], Refund] = {}
        self.deliveries: list[Delivery] = []
        self.bill_tokens: dict[str, tuple[str, bytes]] = {}  # token → (mchid, the file)

    # --- signing ---------------------------------------------------------------------
    def signed_headers(self, body: bytes) -> dict[str, str]:
        timestamp, nonce = str(int(time.time())), crypto.nonce()
        return {
            "Wechatpay-Timestamp": timestamp,
            "Wechatpay-Nonce": nonce,
            "Wechatpay-Signature": crypto.sign(self.key, crypto.response_message(timestamp, nonce, body)),
            "Wechatpay-Serial": self.public_key_id,
            "Wechatpay-Signature-Type": crypto.SCHEMA,
        }

    # --- merchants -------------------------------------------------------------------
    def register(self, data: dict) -> dict:
        try:
            merchant = Merchant(
                mchid=str(data["mchid"]),
                serial_no=str(data["merchant_serial_no"]),
                public_key=str(data["merchant_public_key"]),
                apiv3_key=str(data["apiv3_key"]),
                sub_mchids={str(s) for s in data.get("sub_mchids") or []},
            )
        except KeyError as exc:
            raise PlatformError(400, "PARAM_ERROR", f"{exc.args[0]} is required") from exc
        if len(merchant.apiv3_key.encode()) != 32:
            raise PlatformError(400, "PARAM_ERROR", "apiv3_key must be 32 bytes")
        with self.lock:
            known = self.merchants.get(merchant.mchid)
            if known is not None:
                merchant.sub_mchids |= known.sub_mchids
            self.merchants[merchant.mchid] = merchant
        return {"wechatpay_public_key": self.public_key_pem, "wechatpay_public_key_id": self.public_key_id}

    # --- transactions ----------------------------------------------------------------
    def create(self, merchant: Merchant, data: dict, *, kind: str, partner: bool) -> tuple[dict, float]:
        """A prepay order; returns the answer body and how long to hold it back."""
        sub_mchid, appid, sub_appid = self._parties(merchant, data, partner=partner)
        out_trade_no = _text(data, "out_trade_no", 6, 32)
        amount = data.get("amount") or {}
        total = amount.get("total") if isinstance(amount, dict) else None
        if isinstance(total, bool) or not isinstance(total, int) or total < 1:
            raise PlatformError(400, "PARAM_ERROR", "amount.total must be a positive integer (fen)")
        currency = amount.get("currency") or "CNY"
        if currency != "CNY":
            raise PlatformError(400, "PARAM_ERROR", "amount.currency must be CNY")
        notify_url = _text(data, "notify_url", 1, 256)
        if not notify_url.startswith(("http://", "https://")):
            raise PlatformError(400, "PARAM_ERROR", "notify_url must be an http(s) URL")
        payer = data.get("payer") if isinstance(data.get("payer"), dict) else {}
        if kind == "jsapi" and not any(payer.get(k) for k in ("openid", "sp_openid", "sub_openid")):
            raise PlatformError(400, "PARAM_ERROR", "payer.openid is required")
        attach = str(data.get("attach") or "")
        if len(attach.encode()) > 128:
            raise PlatformError(400, "PARAM_ERROR", "attach is limited to 128 bytes")
        now = time.time()
        expire_at = now + 2 * 3600
        if data.get("time_expire"):
            try:
                expire_at = datetime.fromisoformat(data["time_expire"]).timestamp()
            except ValueError as exc:
                raise PlatformError(400, "PARAM_ERROR", "time_expire must be RFC 3339") from exc
        behaviour = parse_behaviour(attach)
        with self.lock:
            key = (merchant.mchid, sub_mchid, out_trade_no)
            payment = self.payments.get(key)
            if payment is not None:
                if payment.trade_state == "SUCCESS":
                    raise PlatformError(400, "ORDERPAID", "该订单已支付")
                if payment.total != total or payment.trade_type != TRADE_TYPES[kind]:
                    raise PlatformError(400, "INVALID_REQUEST", "201 商户订单号重复")
                return self._prepay_view(payment), 0.0
            payment = Payment(
                mchid=merchant.mchid,
                sub_mchid=sub_mchid,
                appid=appid,
                sub_appid=sub_appid,
                out_trade_no=out_trade_no,
                trade_type=TRADE_TYPES[kind],
                description=_text(data, "description", 1, 127),
                attach=attach,
                notify_url=notify_url,
                total=total,
                currency=currency,
                prepay_id="wx" + datetime.now(BEIJING).strftime("%d%H%M%S") + secrets.token_hex(12),
                created=now,
                expire_at=expire_at,
                behaviour=behaviour,
            )
            if behaviour:
                payment.settle_at = now + int(behaviour.get("delay_ms") or 0) / 1000
            self.payments[key] = payment
            self.by_prepay[payment.prepay_id] = payment
        self.wakeup.set()
        hold = (
            int(behaviour.get("timeout_ms") or 15000) / 1000 if behaviour.get("outcome") == "timeout" else 0.0
        )
        return self._prepay_view(payment), hold

    def _parties(self, merchant: Merchant, data: dict, *, partner: bool) -> tuple[str, str, str]:
        if partner:
            if data.get("sp_mchid") != merchant.mchid:
                raise PlatformError(400, "PARAM_ERROR", "sp_mchid does not match the requesting merchant")
            sub_mchid = str(data.get("sub_mchid") or "")
            if sub_mchid not in merchant.sub_mchids:
                raise PlatformError(
                    403, "NO_AUTH", "sub_mchid is not a sub-merchant of this service provider"
                )
            return sub_mchid, _text(data, "sp_appid", 1, 32), str(data.get("sub_appid") or "")
        if data.get("mchid") != merchant.mchid:
            raise PlatformError(400, "PARAM_ERROR", "mchid does not match the requesting merchant")
        return "", _text(data, "appid", 1, 32), ""

    def _prepay_view(self, payment: Payment) -> dict:
        if payment.trade_type == "NATIVE":
            return {"code_url": f"weixin://wxpay/bizpayurl?pr={payment.prepay_id}"}
        if payment.trade_type == "MWEB":
            return {"h5_url": f"{self.public_url}/pay/{payment.prepay_id}"}
        return {"prepay_id": payment.prepay_id}

    def find(
        self, merchant: Merchant, sub_mchid: str, *, out_trade_no: str = "", transaction_id: str = ""
    ) -> Payment:
        with self.lock:
            if transaction_id:
                payment = self.by_transaction.get(transaction_id)
            else:
                payment = self.payments.get((merchant.mchid, sub_mchid, out_trade_no))
            if payment is None or payment.mchid != merchant.mchid or payment.sub_mchid != sub_mchid:
                raise PlatformError(404, "ORDER_NOT_EXIST", "订单不存在")
            self._expire(payment, time.time())
            return payment

    def close(self, merchant: Merchant, sub_mchid: str, out_trade_no: str) -> None:
        with self.lock:
            payment = self.find(merchant, sub_mchid, out_trade_no=out_trade_no)
            if payment.trade_state in {"SUCCESS", "REFUND"}:
                raise PlatformError(400, "ORDERPAID", "订单已支付")
            payment.trade_state = "CLOSED"
            payment.settle_at = None

    def _expire(self, payment: Payment, now: float) -> None:
        if payment.trade_state == "NOTPAY" and payment.settle_at is None and now > payment.expire_at:
            payment.trade_state = "CLOSED"

    def pay(self, prepay_id: str) -> Payment:
        """The payer confirms on the hosted page."""
        with self.lock:
            payment = self.by_prepay.get(prepay_id)
            if payment is None:
                raise PlatformError(404, "ORDER_NOT_EXIST", "订单不存在")
            self._expire(payment, time.time())
            if payment.trade_state != "NOTPAY":
                raise PlatformError(
                    400,
                    "ORDER_CLOSED" if payment.trade_state == "CLOSED" else "ORDERPAID",
                    payment.trade_state,
                )
            self._succeed(payment, time.time(), notify_times=1)
            return payment

    def settle_due(self, now: float) -> None:
        with self.lock:
            for payment in self.payments.values():
                if payment.settle_at is None or payment.settle_at > now:
                    continue
                payment.settle_at = None
                if payment.trade_state != "NOTPAY":
                    continue
                outcome = payment.behaviour.get("outcome", "succeed")
                if outcome == "fail":
                    payment.trade_state = "PAYERROR"  # WeChat sends no callback for a failed payment
                    continue
                # A held (`timeout`) answer is not called back unless asked: only a query tells.
                default_times = 0 if outcome in {"never_notify", "timeout"} else 1
                times = (
                    0
                    if outcome == "never_notify"
                    else int(payment.behaviour.get("notify_times", default_times))
                )
                self._succeed(payment, now, notify_times=times)

    def next_settlement(self) -> float | None:
        with self.lock:
            times = [p.settle_at for p in self.payments.values() if p.settle_at is not None]
        return min(times) if times else None

    def _succeed(self, payment: Payment, now: float, *, notify_times: int) -> None:
        payment.trade_state = "SUCCESS"
        payment.success_time = now
        payment.transaction_id = new_id("42", 8)
        self.by_transaction[payment.transaction_id] = payment
        resource = self.transaction_view(payment)
        self._notify(payment, "TRANSACTION.SUCCESS", "transaction", "支付成功", resource, times=notify_times)

    def transaction_view(self, payment: Payment) -> dict:
        view: dict = {}
        if payment.sub_mchid:
            view.update(sp_appid=payment.appid, sp_mchid=payment.mchid, sub_mchid=payment.sub_mchid)
            if payment.sub_appid:
                view["sub_appid"] = payment.sub_appid
        else:
            view.update(appid=payment.appid, mchid=payment.mchid)
        view.update(
            out_trade_no=payment.out_trade_no,
            trade_type=payment.trade_type,
            trade_state=payment.trade_state,
            trade_state_desc={"SUCCESS": "支付成功", "NOTPAY": "未支付", "CLOSED": "已关闭"}.get(
                payment.trade_state, payment.trade_state
            ),
            attach=payment.attach,
            amount={"total": payment.reported_total, "currency": payment.currency},
        )
        if payment.transaction_id:
            view.update(
                transaction_id=payment.transaction_id,
                bank_type="OTHERS",
                success_time=wechat_time(payment.success_time or 0),
                payer={"openid": "o" + payment.transaction_id[-10:]},
            )
            view["amount"].update(payer_total=payment.reported_total, payer_currency=payment.currency)
        return view

    # --- refunds ---------------------------------------------------------------------
    def refund(self, merchant: Merchant, data: dict, *, notify_url_default: str = "") -> Refund:
        sub_mchid = str(data.get("sub_mchid") or "")
        if merchant.sub_mchids and sub_mchid not in merchant.sub_mchids:
            raise PlatformError(403, "NO_AUTH", "sub_mchid is not a sub-merchant of this service provider")
        out_refund_no = _text(data, "out_refund_no", 1, 64)
        amount = data.get("amount") or {}
        refund_amount, total = amount.get("refund"), amount.get("total")
        if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in (refund_amount, total)):
            raise PlatformError(
                400, "PARAM_ERROR", "amount.refund and amount.total must be positive integers"
            )
        with self.lock:
            payment = self.find(
                merchant,
                sub_mchid,
                out_trade_no=str(data.get("out_trade_no") or ""),
                transaction_id=str(data.get("transaction_id") or ""),
            )
            known = self.refunds.get((merchant.mchid, out_refund_no))
            if known is not None:
                if known.amount != refund_amount or known.payment is not payment:
                    raise PlatformError(400, "INVALID_REQUEST", "out_refund_no exists with another content")
                return known
            if payment.trade_state not in {"SUCCESS", "REFUND"}:
                raise PlatformError(400, "INVALID_REQUEST", "订单未支付")
            if total != payment.total:
                raise PlatformError(400, "PARAM_ERROR", "amount.total is not the order's total")
            if payment.refunded + refund_amount > payment.total:
                raise PlatformError(403, "NOT_ENOUGH", "退款金额超过可退金额")
            now = time.time()
            refund = Refund(
                payment=payment,
                out_refund_no=out_refund_no,
                refund_id=new_id("50", 10),
                amount=refund_amount,
                status="SUCCESS",
                notify_url=str(data.get("notify_url") or payment.notify_url),
                created=now,
                success_time=now,
            )
            payment.refunded += refund_amount
            payment.trade_state = "REFUND"
            self.refunds[(merchant.mchid, out_refund_no)] = refund
            resource = self.refund_resource(refund)
            self._notify(
                payment, "REFUND.SUCCESS", "refund", "退款成功", resource, times=1, url=refund.notify_url
            )
            return refund

    def find_refund(self, merchant: Merchant, out_refund_no: str, sub_mchid: str) -> Refund:
        with self.lock:
            refund = self.refunds.get((merchant.mchid, out_refund_no))
            if refund is None or refund.payment.sub_mchid != sub_mchid:
                raise PlatformError(404, "RESOURCE_NOT_EXISTS", "退款单不存在")
            return refund

    def refund_view(self, refund: Refund) -> dict:
        payment = refund.payment
        view = {
            "refund_id": refund.refund_id,
            "out_refund_no": refund.out_refund_no,
            "transaction_id": payment.transaction_id,
            "out_trade_no": payment.out_trade_no,
            "channel": "ORIGINAL",
            "user_received_account": "支付用户零钱",
            "create_time": wechat_time(refund.created),
            "status": refund.status,
            "amount": {
                "total": payment.total,
                "refund": refund.amount,
                "payer_total": payment.total,
                "payer_refund": refund.amount,
                "settlement_total": payment.total,
                "settlement_refund": refund.amount,
                "discount_refund": 0,
                "currency": payment.currency,
            },
        }
        if refund.success_time:
            view["success_time"] = wechat_time(refund.success_time)
        return view

    def refund_resource(self, refund: Refund) -> dict:
        payment = refund.payment
        party = (
            {"sp_mchid": payment.mchid, "sub_mchid": payment.sub_mchid}
            if payment.sub_mchid
            else {"mchid": payment.mchid}
        )
        return {
            **party,
            "out_trade_no": payment.out_trade_no,
            "transaction_id": payment.transaction_id,
            "out_refund_no": refund.out_refund_no,
            "refund_id": refund.refund_id,
            "refund_status": refund.status,
            "success_time": wechat_time(refund.success_time or 0),
            "user_received_account": "支付用户零钱",
            "amount": {
                "total": payment.total,
                "refund": refund.amount,
                "payer_total": payment.total,
                "payer_refund": refund.amount,
            },
        }

    # --- notifications ---------------------------------------------------------------
    def _notify(
        self,
        payment: Payment,
        event_type: str,
        original_type: str,
        summary: str,
        resource: dict,
        *,
        times: int,
        url: str = "",
    ) -> None:
        merchant = self.merchants[payment.mchid]
        event_id = "EV-" + new_id("", 12)
        plaintext = json.dumps(resource, ensure_ascii=False, separators=(",", ":")).encode()
        body = {
            "id": event_id,
            "create_time": wechat_time(time.time()),
            "resource_type": "encrypt-resource",
            "event_type": event_type,
            "summary": summary,
            "resource": {
                "original_type": original_type,
                **crypto.encrypt_resource(merchant.apiv3_key, plaintext, original_type),
            },
        }
        payload = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        for _ in range(times):
            self.deliveries.append(
                Delivery(event_id=event_id, url=url or payment.notify_url, body=payload, next_at=time.time())
            )
        self.wakeup.set()

    # --- bills -----------------------------------------------------------------------
    def bill_token(self, merchant: Merchant, content: bytes) -> str:
        """The file is kept as made, so what is downloaded matches the hash given out."""
        token = secrets.token_urlsafe(24)
        with self.lock:
            self.bill_tokens[token] = (merchant.mchid, content)
        return token


def _text(data: dict, key: str, low: int, high: int) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not low <= len(value) <= high:
        raise PlatformError(400, "PARAM_ERROR", f"{key} must be a string of {low} to {high} characters")
    return value
