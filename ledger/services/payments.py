"""The payment, step by step (ARCHITECTURE.md):

1. `payment_create`: checks, then pre-payment in one transaction (record `pending`, the
   payer's funds frozen when a balance pre-authorization holds them);
2. the channel call, outside any transaction (a timeout leaves the state `unknown`);
3. the channel's answer — from the call, a notification or a query — applied by
   `payment_apply` with a conditional state change, so only the first of any number of
   duplicates moves money (post-payment: journal, outbox).

A balance payment captured at once has no channel to wait for: `_pay_from_balance` does all
three in one local transaction (docs/payments.md).
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Case, Q, Value, When

from accounts.choices import AccountKind
from accounts.models import Account
from accounts.services import account_open
from channels import gateway, registry
from channels.base import (
    ChannelError,
    ChannelPayment,
    ChannelPlugin,
    ChannelTimeout,
    ChannelUnreachable,
    PaymentOrder,
)
from channels.choices import ChannelState, Method
from channels.models import MerchantChannel
from channels.services import Route, route
from ledger import locks
from ledger.choices import Direction, TransactionKind, TransactionStatus
from ledger.errors import AccountNotFound, DuplicateOutTradeNo, InvalidState, RetryTooSoon, SameAccount
from ledger.models import Transaction
from ledger.services.events import event_emit
from ledger.services.holds import hold_cancel, hold_confirm, hold_freeze
from ledger.services.journal import Leg, journal_post
from ledger.services.records import (
    AlreadyDone,
    check_usable,
    clearing_account,
    insert_first,
    transaction_new,
    transaction_record,
)
from paycenter.errors import IdempotencyKeyReused, InvalidRequest

logger = logging.getLogger(__name__)
S = TransactionStatus
RETRY_AFTER_FAILURE = timedelta(seconds=15)
AUTHORIZATION_TTL = timedelta(days=7)
QUERY_BACKOFF_SECONDS = (5, 10, 30, 60, 120, 300, 600, 1800, 3600)
PAID = {S.SUCCEEDED, S.PARTIALLY_REFUNDED, S.REFUNDED}


@dataclass(frozen=True)
class PaymentRequest:
    out_trade_no: str
    amount_minor: int
    currency: str
    subject: str
    channel: str | None = None
    method: str | None = None
    payer_account_id: int | None = None
    capture: bool = True
    expire_seconds: int = 900
    metadata: dict = field(default_factory=dict)


def next_query_at(*, attempts: int, now: datetime) -> datetime:
    return now + timedelta(seconds=QUERY_BACKOFF_SECONDS[min(attempts, len(QUERY_BACKOFF_SECONDS) - 1)])


def channel_of(txn: Transaction) -> tuple[ChannelPlugin, MerchantChannel]:
    """The plugin and merchant channel a payment (or its refund) went through."""
    return registry.plugin_for(txn.merchant_channel.channel), txn.merchant_channel


def settlement_account(*, merchant_id: int, currency: str, now: datetime) -> Account:
    return account_open(
        kind=AccountKind.MERCHANT_SETTLEMENT,
        currency=currency,
        merchant_id=merchant_id,
        buffered=True,
        now=now,
    )


def payment_create(
    *,
    app_id: int,
    merchant_id: int,
    request: PaymentRequest,
    now: datetime,
    idempotency_key: str | None = None,
) -> Transaction:
    existing = _existing(
        app_id=app_id, out_trade_no=request.out_trade_no, idempotency_key=idempotency_key, now=now
    )
    if existing is not None:
        return existing
    routes = route(
        merchant_id=merchant_id,
        channel=request.channel,
        method=request.method,
        amount_minor=request.amount_minor,
        now=now,
    )
    if routes[0].plugin.internal and request.capture:
        return _pay_from_balance(
            app_id=app_id,
            merchant_id=merchant_id,
            request=request,
            mc=routes[0].mc,
            key=idempotency_key,
            now=now,
        )
    try:
        txn = _prepay(
            app_id=app_id,
            merchant_id=merchant_id,
            request=request,
            first=routes[0],
            key=idempotency_key,
            now=now,
        )
    except AlreadyDone as done:  # a concurrent twin with the same key committed first
        return done.txn
    for attempt, candidate in enumerate(routes):
        if attempt:
            txn = _switch_channel(txn, candidate)
        try:
            result = _call_pay(txn, candidate, request)
        except ChannelUnreachable:
            if request.channel is None and attempt + 1 < len(routes):
                continue  # nothing happened there: fail over to the next channel (D6)
            return payment_fail(txn_id=txn.pk, reason="channel unreachable", now=now)
        except ChannelTimeout:
            return _mark_unknown(txn, now=now)
        except ChannelError as exc:
            return payment_fail(txn_id=txn.pk, reason=f"channel refused: {exc.code}", now=now)
        payment_apply(txn_id=txn.pk, result=result, now=now)
        return Transaction.objects.get(pk=txn.pk)
    raise AssertionError("unreachable")


def _existing(
    *, app_id: int, out_trade_no: str, idempotency_key: str | None, now: datetime
) -> Transaction | None:
    """The payment this request already made, or why it may not be made; one query."""
    same_order = Q(kind=TransactionKind.PAYMENT, out_trade_no=out_trade_no)
    mine = same_order | Q(idempotency_key=idempotency_key) if idempotency_key else same_order
    # The key's row first, then the newest attempts: those are the ones that decide (the
    # unique constraints still stop anything a pathological history pushes past the limit).
    key_first = (
        Case(When(idempotency_key=idempotency_key, then=0), default=1) if idempotency_key else Value(1)
    )
    rows = list(Transaction.objects.filter(mine, app_id=app_id).order_by(key_first, "-id")[:20])
    for row in rows:
        if idempotency_key and row.idempotency_key == idempotency_key:
            if row.kind != TransactionKind.PAYMENT or row.out_trade_no != out_trade_no:
                raise IdempotencyKeyReused()
            return row  # the same request again after its response was lost
    orders = [row for row in rows if row.kind == TransactionKind.PAYMENT and row.out_trade_no == out_trade_no]
    if any(row.status != S.FAILED for row in orders):
        raise DuplicateOutTradeNo(field="out_trade_no")
    if any(row.finished_at and row.finished_at > now - RETRY_AFTER_FAILURE for row in orders):
        raise RetryTooSoon(field="out_trade_no")
    return None


def _pay_from_balance(
    *,
    app_id: int,
    merchant_id: int,
    request: PaymentRequest,
    mc: MerchantChannel,
    key: str | None,
    now: datetime,
) -> Transaction:
    """The wallet is the channel, so there is nothing to wait for: try and confirm collapse
    into one local transaction. The payer's conditional debit is the freeze and its
    confirmation at once, and the record is written already succeeded (docs/payments.md).
    A pre-authorization (capture: false) still holds the funds."""
    fields = _payment_fields(app_id=app_id, merchant_id=merchant_id, request=request, mc=mc, key=key, now=now)
    try:
        return insert_first(
            lambda: transaction_record(
                **fields,
                method=Method.BALANCE,
                status=S.SUCCEEDED,
                channel_state=ChannelState.SUCCEEDED,
                paid_minor=request.amount_minor,
                finished_at=now,
            ),
            lambda record: _pay_from_balance_commit(
                record, payer_account_id=request.payer_account_id, now=now
            ),
        )
    except AlreadyDone as done:  # a concurrent twin with the same key committed first
        return done.txn


def _payment_fields(
    *,
    app_id: int,
    merchant_id: int,
    request: PaymentRequest,
    mc: MerchantChannel,
    key: str | None,
    now: datetime,
) -> dict:
    """What every new payment record says, whichever way it is paid."""
    return {
        "kind": TransactionKind.PAYMENT,
        "amount_minor": request.amount_minor,
        "currency": request.currency,
        "merchant_id": merchant_id,
        "app_id": app_id,
        "idempotency_key": key,
        "out_trade_no": request.out_trade_no,
        "memo": request.subject,
        "channel": mc.channel,
        "merchant_channel": mc,
        "expires_at": now + timedelta(seconds=request.expire_seconds),
        "metadata": request.metadata,
        "now": now,
    }


@transaction.atomic(durable=True)
def _pay_from_balance_commit(
    record: Transaction, *, payer_account_id: int | None, now: datetime
) -> Transaction:
    payer, payee = _balance_accounts(
        merchant_id=record.merchant_id, payer_account_id=payer_account_id, currency=record.currency, now=now
    )
    record.payer_account, record.payee_account = payer, payee
    record.save(force_insert=True)
    amount = record.amount_minor
    journal_post(
        txn=record,
        reason="payment",
        legs=[
            Leg(account=payer, direction=Direction.DEBIT, amount_minor=amount),
            Leg(account=payee, direction=Direction.CREDIT, amount_minor=amount),
        ],
        now=now,
    )
    event_emit(txn=record, event_type="payment.succeeded", now=now)
    return record


def _balance_accounts(
    *, merchant_id: int, payer_account_id: int | None, currency: str, now: datetime
) -> tuple[Account, Account]:
    """The payer's wallet and the merchant's settlement account, read together."""
    if payer_account_id is None:
        raise InvalidRequest("Balance payments need payer_account_id.", field="payer_account_id")
    settlement = Q(kind=AccountKind.MERCHANT_SETTLEMENT, currency=currency, customer__isnull=True)
    rows = {
        a.pk: a for a in Account.objects.filter(Q(pk=payer_account_id) | settlement, merchant_id=merchant_id)
    }
    payer = rows.pop(payer_account_id, None)
    if payer is None:
        raise AccountNotFound(field="payer_account_id")
    check_usable(payer, currency=currency)
    if payer.kind == AccountKind.MERCHANT_SETTLEMENT:  # of this currency: the payee itself
        raise SameAccount(
            "The merchant's settlement account cannot pay the merchant.", field="payer_account_id"
        )
    payee = next(iter(rows.values()), None) or settlement_account(
        merchant_id=merchant_id, currency=currency, now=now
    )
    return payer, payee


@transaction.atomic(durable=True)
def _prepay(
    *,
    app_id: int,
    merchant_id: int,
    request: PaymentRequest,
    first: Route,
    key: str | None,
    now: datetime,
) -> Transaction:
    if first.plugin.internal:
        payer, payee = _balance_accounts(
            merchant_id=merchant_id,
            payer_account_id=request.payer_account_id,
            currency=request.currency,
            now=now,
        )
    else:
        payer, payee = None, settlement_account(merchant_id=merchant_id, currency=request.currency, now=now)
    txn = transaction_new(
        **_payment_fields(
            app_id=app_id, merchant_id=merchant_id, request=request, mc=first.mc, key=key, now=now
        ),
        method=request.method or _default_method(first.plugin.methods),
        payer_account=payer,
        payee_account=payee,
    )
    if payer is not None:
        # An unpaid payment's hold lapses with it; an authorization's lives until it is
        # captured or voided (the expiry sweep voids it after AUTHORIZATION_TTL).
        hold_freeze(
            key=f"payment:{txn.serial}",
            account=payer,
            amount_minor=request.amount_minor,
            txn=txn,
            expires_at=txn.expires_at if request.capture else None,
            now=now,
        )
    return txn


def _default_method(methods: frozenset[str]) -> str:
    """No method asked for: the most widely usable one the channel has."""
    for method in ("page", "wap", "native", "balance"):
        if method in methods:
            return method
    return sorted(methods)[0]


def _switch_channel(txn: Transaction, candidate: Route) -> Transaction:
    Transaction.objects.filter(pk=txn.pk, status=S.PENDING).update(
        channel=candidate.mc.channel, merchant_channel=candidate.mc
    )
    return Transaction.objects.get(pk=txn.pk)


def notify_url(mc_id: int, channel: str) -> str:
    return f"{settings.PAYCENTER_PUBLIC_URL}/notify/{channel}/{mc_id}"


def _call_pay(txn: Transaction, candidate: Route, request: PaymentRequest) -> ChannelPayment:
    order = PaymentOrder(
        serial=txn.serial,
        amount_minor=txn.amount_minor,
        currency=txn.currency,
        subject=request.subject,
        method=txn.method,
        capture=request.capture,
        notify_url=notify_url(candidate.mc.pk, candidate.mc.channel),
        expire_seconds=request.expire_seconds,
        options=request.metadata.get(candidate.mc.channel) or {},
    )
    return gateway.call(
        mc=candidate.mc,
        operation="pay",
        reference=txn.serial,
        fn=lambda: candidate.plugin.pay(mc=candidate.mc, order=order),
    )


def _mark_unknown(txn: Transaction, *, now: datetime) -> Transaction:
    """No answer: the channel may have taken the payment. Ask it later; never pay again."""
    Transaction.objects.filter(pk=txn.pk, status=S.PENDING).update(
        channel_state=ChannelState.UNKNOWN, next_query_at=next_query_at(attempts=0, now=now)
    )
    return Transaction.objects.get(pk=txn.pk)


def payment_apply(*, txn_id: int, result: ChannelPayment, now: datetime) -> str:
    """Apply what the channel says. Returns what happened: applied, duplicate, late_success,
    amount_mismatch, currency_mismatch, ignored."""
    if result.state == ChannelState.SUCCEEDED:
        return payment_succeed(txn_id=txn_id, result=result, now=now)
    if result.state == ChannelState.AUTHORIZED:
        return payment_authorize(txn_id=txn_id, result=result, now=now)
    if result.state in {ChannelState.FAILED, ChannelState.CLOSED}:
        before = Transaction.objects.values_list("status", flat=True).get(pk=txn_id)
        closed = result.state == ChannelState.CLOSED
        txn = payment_fail(txn_id=txn_id, reason=f"channel says {result.state}", now=now, closed=closed)
        return "applied" if txn.status != before else "duplicate"
    if result.state == ChannelState.PENDING:
        Transaction.objects.filter(pk=txn_id, status=S.PENDING).update(
            channel_state=ChannelState.PENDING,
            channel_trade_no=result.channel_trade_no,
            action=result.action,
            next_query_at=None,
        )
        return "applied"
    return "ignored"


def _disagreement(txn: Transaction, result: ChannelPayment, *, expected_minor: int) -> str | None:
    if result.currency and result.currency != txn.currency:
        return "currency_mismatch"
    if result.paid_minor is not None and result.paid_minor != expected_minor:
        return "amount_mismatch"
    if result.channel_trade_no and txn.channel_trade_no and result.channel_trade_no != txn.channel_trade_no:
        return "unknown_payment"
    return None


def _flag(txn: Transaction, reason: str, detail: str) -> None:
    """Money and record disagree: nothing is posted; a person decides (D4)."""
    Transaction.objects.filter(pk=txn.pk).update(review_reason=f"{reason}: {detail}"[:255])
    logger.error("ALERT payment %s: %s (%s)", txn.serial, reason, detail)


@transaction.atomic
def payment_succeed(*, txn_id: int, result: ChannelPayment, now: datetime) -> str:
    txn = locks.transaction_for_update(transaction_id=txn_id)
    if txn.status in PAID:
        return "duplicate"
    if txn.status in {S.CLOSED, S.FAILED}:
        _flag(txn, "late_success", f"the channel reports it paid after it was {txn.status}; refund or review")
        return "late_success"
    expected = txn.captured_minor if txn.status == S.AUTHORIZED and txn.captured_minor else txn.amount_minor
    problem = _disagreement(txn, result, expected_minor=expected)
    if problem:
        _flag(
            txn,
            problem,
            f"channel reports {result.paid_minor} {result.currency}, expected {expected} {txn.currency}",
        )
        return problem
    txn.succeed()
    txn.channel_state = ChannelState.SUCCEEDED
    txn.channel_trade_no = result.channel_trade_no or txn.channel_trade_no
    txn.paid_minor = expected
    txn.finished_at = result.paid_at or now
    txn.next_query_at = None
    txn.save()
    _post_payment(txn, amount_minor=expected, now=now)
    event_emit(txn=txn, event_type="payment.succeeded", now=now)
    return "applied"


def _post_payment(txn: Transaction, *, amount_minor: int, now: datetime) -> None:
    merchant = Account.objects.get(pk=txn.payee_account_id)
    if txn.payer_account_id is not None:
        # Paid from a wallet: the money is the frozen hold, and nothing else.
        hold = txn.holds.get(status="pending")
        hold_confirm(
            hold_id=hold.pk, credit_account=merchant, amount_minor=amount_minor, reason="payment", now=now
        )
        return
    journal_post(
        txn=txn,
        reason="payment",
        legs=[
            Leg(
                account=clearing_account(currency=txn.currency, now=now),
                direction=Direction.DEBIT,
                amount_minor=amount_minor,
            ),
            Leg(account=merchant, direction=Direction.CREDIT, amount_minor=amount_minor),
        ],
        now=now,
    )


@transaction.atomic
def payment_authorize(*, txn_id: int, result: ChannelPayment, now: datetime) -> str:
    txn = locks.transaction_for_update(transaction_id=txn_id)
    if txn.status == S.AUTHORIZED and txn.channel_state == ChannelState.UNKNOWN:
        # A capture timed out and the channel says it is still only authorized: the capture
        # did not happen, so the claim is given back and queries stop.
        Transaction.objects.filter(pk=txn.pk).update(
            captured_minor=None, channel_state=ChannelState.AUTHORIZED, next_query_at=None
        )
        return "applied"
    if txn.status != S.PENDING:
        return "duplicate" if txn.status in PAID | {S.AUTHORIZED} else "ignored"
    problem = _disagreement(txn, result, expected_minor=txn.amount_minor)
    if problem:
        _flag(txn, problem, f"authorized {result.paid_minor} {result.currency}")
        return problem
    txn.authorize()
    txn.channel_state = ChannelState.AUTHORIZED
    txn.channel_trade_no = result.channel_trade_no or txn.channel_trade_no
    txn.next_query_at = None
    txn.expires_at = now + AUTHORIZATION_TTL
    txn.save()
    event_emit(txn=txn, event_type="payment.authorized", now=now)
    return "applied"


@transaction.atomic
def payment_fail(*, txn_id: int, reason: str, now: datetime, closed: bool = False) -> Transaction:
    """pending (or authorized, when closed) → failed/closed; frozen funds go back."""
    txn = locks.transaction_for_update(transaction_id=txn_id)
    if txn.status not in {S.PENDING, S.AUTHORIZED} or (txn.status == S.AUTHORIZED and not closed):
        return txn
    if txn.status == S.AUTHORIZED and txn.captured_minor is not None:
        raise InvalidState("A capture of this authorization is under way.")
    if closed:
        txn.close()
    else:
        txn.fail()
    txn.channel_state = ChannelState.CLOSED if closed else ChannelState.FAILED
    txn.finished_at = now
    txn.next_query_at = None
    txn.metadata = {**txn.metadata, "failure_reason": reason[:200]}
    txn.save()
    for hold in txn.holds.filter(status="pending"):
        hold_cancel(hold_id=hold.pk, now=now)
    event_emit(txn=txn, event_type="payment.closed" if closed else "payment.failed", now=now)
    return txn


def payment_query(*, txn_id: int, now: datetime) -> Transaction:
    """Ask the channel (D5). Unknown stays unknown until it answers; each unanswered query
    pushes the next one further out."""
    txn = Transaction.objects.select_related("merchant_channel").get(pk=txn_id)
    if txn.status not in {S.PENDING, S.AUTHORIZED} or txn.merchant_channel is None:
        return txn
    plugin, mc = channel_of(txn)
    if plugin.internal:
        return txn
    try:
        result = gateway.call(
            mc=mc,
            operation="query",
            reference=txn.serial,
            fn=lambda: plugin.query(mc=mc, serial=txn.serial, channel_trade_no=txn.channel_trade_no),
        )
    except (ChannelTimeout, ChannelUnreachable, ChannelError):
        result = ChannelPayment(state=ChannelState.UNKNOWN)
    if result.state in {ChannelState.UNKNOWN, ChannelState.PENDING}:
        attempts = txn.query_attempts + 1
        Transaction.objects.filter(pk=txn.pk, status=txn.status).update(
            query_attempts=attempts, next_query_at=next_query_at(attempts=attempts, now=now)
        )
        if result.state == ChannelState.PENDING and result.channel_trade_no and not txn.channel_trade_no:
            Transaction.objects.filter(pk=txn.pk).update(channel_trade_no=result.channel_trade_no)
    else:
        payment_apply(txn_id=txn.pk, result=result, now=now)
    return Transaction.objects.get(pk=txn.pk)


def payment_close(*, txn_id: int, now: datetime, reason: str = "closed by the app") -> Transaction:
    """Only while pending: the channel is told first; if it says paid, that wins."""
    txn = Transaction.objects.select_related("merchant_channel").get(pk=txn_id)
    if txn.status != S.PENDING:
        raise InvalidState(f"A {txn.status} payment cannot be closed.")
    if txn.channel_state == ChannelState.UNKNOWN:
        raise InvalidState("The channel has not answered yet; the payment is being queried.")
    plugin, mc = channel_of(txn)
    if not plugin.internal:
        try:
            result = gateway.call(
                mc=mc,
                operation="close",
                reference=txn.serial,
                fn=lambda: plugin.close(mc=mc, serial=txn.serial, channel_trade_no=txn.channel_trade_no),
            )
        except ChannelError as exc:
            if exc.code != "TRADE_ALREADY_PAID":
                raise InvalidState(f"The channel refused to close: {exc.code}") from exc
            payment_query(txn_id=txn.pk, now=now)  # learn and apply what was paid
            raise InvalidState("The payer has already paid; the payment is not closed.") from exc
        except (ChannelTimeout, ChannelUnreachable) as exc:
            raise InvalidState("The channel did not answer; the payment stays open.") from exc
        if result.state in {ChannelState.SUCCEEDED, ChannelState.AUTHORIZED}:
            payment_apply(txn_id=txn.pk, result=result, now=now)
            raise InvalidState("The payer has already paid; the payment is not closed.")
        if result.state == ChannelState.PENDING:
            raise InvalidState("The channel still has the payment open; it was not closed.")
    return payment_fail(txn_id=txn.pk, reason=reason, now=now, closed=True)
