"""The platform's state and its business rules: apps and their keys, third-party
authorisations (ISV mode), trades, refunds, notifications and bills. Held in memory: a fake
for tests and the demo, so a restart forgets everything (register the apps again)."""

import heapq
import itertools
import json
import logging
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import requests

from . import crypto

logger = logging.getLogger(__name__)

CHINA = ZoneInfo("Asia/Shanghai")
# Alipay's published retry habit: 8 tries over about 25 hours (then it gives up).
RETRY_DELAYS = (240, 600, 600, 3600, 7200, 21600, 54000)
NOTIFY_TIMEOUT = 5.0


class AlipayError(Exception):
    """A business refusal: answered as code 40004 (or 40002 for bad parameters)."""

    def __init__(self, sub_code: str, sub_msg: str, code: str = "40004") -> None:
        self.code, self.sub_code, self.sub_msg = code, sub_code, sub_msg
        super().__init__(f"{sub_code}: {sub_msg}")


def china_now(now: float | None = None) -> datetime:
    return datetime.fromtimestamp(time.time() if now is None else now, CHINA)


def stamp(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else ""


def yuan(value: object, *, name: str = "total_amount") -> Decimal:
    try:
        amount = Decimal(str(value))
    except InvalidOperation as exc:
        raise AlipayError("ACQ.INVALID_PARAMETER", f"{name} is not an amount", code="40002") from exc
    if (
        not amount.is_finite()
        or amount <= 0
        or amount != amount.quantize(Decimal("0.01"))
        or amount > 100000000
    ):
        raise AlipayError("ACQ.INVALID_PARAMETER", f"{name} must be 0.01 to 100000000.00", code="40002")
    return amount.quantize(Decimal("0.01"))


@dataclass
class App:
    app_id: str
    name: str
    public_key: str
    pid: str  # the seller account (2088…) the app collects for


@dataclass
class Trade:
    trade_no: str
    out_trade_no: str
    app_id: str  # the app that called (the service provider's app in ISV mode)
    seller: App  # whose money it is: the app's own merchant, or the authorising sub-merchant
    method: str
    subject: str
    total: Decimal
    notify_url: str
    return_url: str
    passback: str
    behaviour: dict
    created: datetime
    status: str = "WAIT_BUYER_PAY"
    paid_at: datetime | None = None
    closed_at: datetime | None = None
    buyer_id: str = "2088102177846880"
    refunds: list = field(default_factory=list)  # dicts: out_request_no, amount, at

    @property
    def refunded(self) -> Decimal:
        return sum((r["amount"] for r in self.refunds), Decimal("0.00"))


class Platform:
    def __init__(self, *, public_url: str, speed: float = 1.0) -> None:
        self.public_url = public_url.rstrip("/")
        self.speed = speed
        self.key = crypto.generate_private_key()
        self.public_key = crypto.public_key_pem(self.key)
        self.lock = threading.RLock()
        self.apps: dict[str, App] = {}
        self.auths: dict[str, tuple[str, App]] = {}  # app_auth_token → (ISV app_id, sub-merchant)
        self.trades: dict[str, Trade] = {}  # by trade_no
        self.by_out: dict[tuple[str, str], str] = {}  # (seller pid, out_trade_no) → trade_no
        self.bills: dict[str, bytes] = {}  # download token → zip
        self._numbers = itertools.count(1)
        self._jobs: list = []
        self._job_seq = itertools.count()
        self._wake = threading.Condition(self.lock)
        self.stopping = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="alipay-notify")
        self._thread = threading.Thread(target=self._run, name="alipay-scheduler", daemon=True)
        self.delivered: list[dict] = []  # what receivers accepted, for tests to look at

    # -- registration ------------------------------------------------------------------
    def register_app(self, *, name: str, public_key: str) -> App:
        with self.lock:
            n = next(self._numbers)
            app = App(app_id=f"2021{n:012d}", name=name, public_key=public_key, pid=f"2088{n:012d}")
            self.apps[app.app_id] = app
            return app

    def authorize(self, *, isv_app_id: str, name: str) -> tuple[str, App]:
        """A sub-merchant authorises the service provider's app: a token for its calls."""
        with self.lock:
            if isv_app_id not in self.apps:
                raise AlipayError("isv.invalid-app-id", "no such app", code="40002")
            n = next(self._numbers)
            sub = App(app_id=f"2021{n:012d}", name=name, public_key="", pid=f"2088{n:012d}")
            token = f"202{n:06d}BB{secrets.token_hex(12)}"
            self.auths[token] = (isv_app_id, sub)
            return token, sub

    def seller_for(self, app: App, app_auth_token: str) -> App:
        if not app_auth_token:
            return app
        isv_app_id, sub = self.auths.get(app_auth_token, ("", None))
        if sub is None or isv_app_id != app.app_id:
            raise AlipayError(
                "aop.invalid-auth-token", "app_auth_token is not valid for this app", code="20001"
            )
        return sub

    # -- trades ------------------------------------------------------------------------
    def find(self, seller: App, *, out_trade_no: str = "", trade_no: str = "") -> Trade:
        with self.lock:
            number = trade_no or self.by_out.get((seller.pid, out_trade_no), "")
            trade = self.trades.get(number)
            if trade is None or trade.seller.pid != seller.pid:
                raise AlipayError("ACQ.TRADE_NOT_EXIST", "交易不存在")
            return trade

    def create(
        self, *, app: App, seller: App, method: str, biz: dict, notify_url: str, return_url: str
    ) -> Trade:
        out_trade_no = str(biz.get("out_trade_no") or "")
        if not out_trade_no or len(out_trade_no) > 64:
            raise AlipayError("ACQ.INVALID_PARAMETER", "out_trade_no is required", code="40002")
        total = yuan(biz.get("total_amount"))
        passback = str(biz.get("passback_params") or "")
        try:
            behaviour = json.loads(passback) if passback.startswith("{") else {}
        except ValueError:
            behaviour = {}
        with self.lock:
            existing = self.by_out.get((seller.pid, out_trade_no))
            if existing:
                trade = self.trades[existing]
                if trade.total != total:
                    raise AlipayError("ACQ.CONTEXT_INCONSISTENT", "交易信息被篡改")
                if trade.status != "WAIT_BUYER_PAY":
                    raise AlipayError(
                        "ACQ.TRADE_HAS_SUCCESS" if trade.paid_at else "ACQ.TRADE_HAS_CLOSE", "交易已结束"
                    )
                return trade
            now = china_now()
            trade = Trade(
                trade_no=now.strftime("%Y%m%d") + f"22001{next(self._numbers):015d}",
                out_trade_no=out_trade_no,
                app_id=app.app_id,
                seller=seller,
                method=method,
                subject=str(biz.get("subject") or "")[:256],
                total=total,
                notify_url=notify_url,
                return_url=return_url,
                passback=passback,
                behaviour=behaviour if isinstance(behaviour, dict) else {},
                created=now,
            )
            self.trades[trade.trade_no] = trade
            self.by_out[(seller.pid, out_trade_no)] = trade.trade_no
        outcome = trade.behaviour.get("outcome")
        delay = float(trade.behaviour.get("delay_ms") or 0) / 1000
        if outcome in {"succeed", "never_notify"}:
            self.schedule(time.time() + delay, lambda: self.pay(trade.trade_no))
        elif outcome in {"fail", "close"}:
            self.schedule(time.time() + delay, lambda: self.close(trade))
        return trade

    def pay(self, trade_no: str) -> Trade | None:
        """The buyer pays (the hosted page, or the behaviour asked for)."""
        with self.lock:
            trade = self.trades.get(trade_no)
            if trade is None or trade.status != "WAIT_BUYER_PAY":
                return trade
            trade.status, trade.paid_at = "TRADE_SUCCESS", china_now()
        self._notify(trade)
        return trade

    def close(self, trade: Trade) -> Trade:
        with self.lock:
            if trade.status == "TRADE_SUCCESS" or trade.status == "TRADE_FINISHED":
                raise AlipayError("ACQ.TRADE_STATUS_ERROR", "交易状态不合法")
            if trade.status == "TRADE_CLOSED":
                return trade
            trade.status, trade.closed_at = "TRADE_CLOSED", china_now()
        self._notify(trade)
        return trade

    def refund(self, trade: Trade, *, amount: Decimal, out_request_no: str) -> tuple[Trade, bool]:
        """Returns the trade and whether money moved (`fund_change`): a repeated
        out_request_no is answered again, not refunded twice."""
        with self.lock:
            if any(r["out_request_no"] == out_request_no for r in trade.refunds):
                return trade, False
            if trade.status not in {"TRADE_SUCCESS"}:
                raise AlipayError("ACQ.TRADE_STATUS_ERROR", "交易状态不合法")
            if trade.refunded + amount > trade.total:
                raise AlipayError("ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", "退款金额超限")
            trade.refunds.append({"out_request_no": out_request_no, "amount": amount, "at": china_now()})
            if trade.refunded == trade.total:
                trade.status, trade.closed_at = "TRADE_CLOSED", china_now()
        self._notify(trade, refund=trade.refunds[-1])
        return trade, True

    # -- notifications -----------------------------------------------------------------
    def _notify(self, trade: Trade, *, refund: dict | None = None) -> None:
        behaviour = trade.behaviour
        times = int(behaviour.get("notify_times", 1))
        if not trade.notify_url or behaviour.get("outcome") == "never_notify" or times < 1:
            return
        total = (
            str(yuan(behaviour["paid_amount"]))
            if behaviour.get("paid_amount") and not refund
            else str(trade.total)
        )
        params = {
            "notify_time": stamp(china_now()),
            "notify_type": "trade_status_sync",
            "notify_id": secrets.token_hex(16),
            "app_id": trade.app_id,
            "auth_app_id": trade.seller.app_id,
            "charset": "utf-8",
            "version": "1.0",
            "sign_type": "RSA2",
            "trade_no": trade.trade_no,
            "out_trade_no": trade.out_trade_no,
            "buyer_id": trade.buyer_id,
            "seller_id": trade.seller.pid,
            "trade_status": trade.status,
            "total_amount": total,
            "receipt_amount": total if trade.paid_at else "",
            "buyer_pay_amount": total if trade.paid_at else "",
            "subject": trade.subject,
            "gmt_create": stamp(trade.created),
            "gmt_payment": stamp(trade.paid_at),
            "gmt_close": stamp(trade.closed_at),
            "passback_params": trade.passback,
        }
        if refund:
            params.update(
                out_biz_no=refund["out_request_no"],
                refund_fee=str(trade.refunded),
                gmt_refund=stamp(refund["at"]),
            )
        params = {k: v for k, v in params.items() if v != ""}
        params["sign"] = crypto.sign(self.key, crypto.sign_content(params, exclude=("sign", "sign_type")))
        body = urlencode(params)
        for _ in range(times):
            self.schedule(time.time(), lambda: self._deliver(trade.notify_url, body, 0))

    def _deliver(self, url: str, body: str, attempts: int) -> None:
        self._pool.submit(self._post, url, body, attempts)

    def _post(self, url: str, body: str, attempts: int) -> None:
        if self.stopping.is_set():
            return
        try:
            reply = requests.post(
                url,
                data=body.encode(),
                headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
                timeout=NOTIFY_TIMEOUT,
            )
            ok = reply.text.strip() == "success"
        except requests.RequestException:
            ok = False
        if ok:
            with self.lock:
                self.delivered.append({"url": url, "body": body, "attempts": attempts + 1})
            return
        if attempts < len(RETRY_DELAYS):
            self.schedule(
                time.time() + RETRY_DELAYS[attempts] / self.speed,
                lambda: self._deliver(url, body, attempts + 1),
            )
        else:
            logger.info("alipay fake: notification to %s given up after %s tries", url, attempts + 1)

    # -- the scheduler -----------------------------------------------------------------
    def schedule(self, at: float, job) -> None:
        with self._wake:
            heapq.heappush(self._jobs, (at, next(self._job_seq), job))
            self._wake.notify()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.stopping.set()
        with self._wake:
            self._wake.notify()
        self._thread.join(timeout=5)
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _run(self) -> None:
        while not self.stopping.is_set():
            with self._wake:
                now = time.time()
                if not self._jobs or self._jobs[0][0] > now:
                    self._wake.wait(min(0.5, self._jobs[0][0] - now) if self._jobs else 0.5)
                    continue
                _, _, job = heapq.heappop(self._jobs)
            try:
                job()
            except Exception:
                logger.exception("alipay fake: scheduled job failed")
