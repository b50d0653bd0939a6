from django.core.cache import cache
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from channels.errors import ChannelUnavailable
from ledger.api.payment_serializers import (
    CaptureInput,
    NotSupported,
    PaymentInput,
    PaymentOutput,
    RefundInput,
    RefundOutput,
)
from ledger.choices import TransactionKind, TransactionStatus
from ledger.errors import (
    AccountNotActive,
    AccountNotFound,
    CurrencyMismatch,
    DuplicateOutTradeNo,
    InsufficientFunds,
    InvalidState,
    RefundExceedsPayment,
    RefundNeedsSplit,
    RetryTooSoon,
    SameAccount,
    TransactionNotFound,
)
from ledger.models import Transaction
from ledger.representations import payment_data, refund_data
from ledger.selectors import transaction_for_merchant
from ledger.services.channel_calls import channel_options
from ledger.services.collect import PaymentRequest
from ledger.services.payment_create import payment_create
from ledger.services.payment_query import payment_close, payment_query
from ledger.services.preauth import CaptureExceedsAuthorization, payment_capture, payment_void
from ledger.services.refunds import refund_create
from paycenter.api.schema import raises
from paycenter.api.views import AppApi
from paycenter.errors import InvalidRequest
from paycenter.money import to_minor

ACTIVE_QUERY_EVERY = 5  # seconds: a reading app must not hammer the channel


def _payment(request: Request, payment_id: str) -> Transaction:
    return transaction_for_merchant(
        merchant_id=request.user.merchant_id, serial=payment_id, kind=TransactionKind.PAYMENT
    )


def fresh(txn: Transaction) -> Transaction:
    """A pending payment (or recharge) read by its app reflects the channel's latest state
    (docs/api.md)."""
    asks_channel = txn.status == TransactionStatus.PENDING and txn.channel not in ("", "balance")
    if asks_channel and cache.add(f"payments:query:{txn.pk}", 1, timeout=ACTIVE_QUERY_EVERY):
        return payment_query(txn_id=txn.pk, now=timezone.now())
    return txn


class PaymentCollectionApi(AppApi):
    rate_scopes = {"GET": "read", "POST": "payment_create"}

    @raises(
        DuplicateOutTradeNo,
        RetryTooSoon,
        AccountNotFound,
        InsufficientFunds,
        AccountNotActive,
        CurrencyMismatch,
        SameAccount,
        ChannelUnavailable,
        NotSupported,
    )
    @extend_schema(request=PaymentInput, responses={201: PaymentOutput}, summary="Create a payment")
    def post(self, request: Request) -> Response:
        body = PaymentInput(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        txn = payment_create(
            app_id=request.user.app_pk,
            merchant_id=request.user.merchant_id,
            request=PaymentRequest(
                out_trade_no=data["out_trade_no"],
                amount_minor=to_minor(data["amount"], data["currency"], field="amount"),
                currency=data["currency"],
                subject=data["subject"],
                channel=data["channel"],
                method=data["method"],
                payer_account_id=data["payer_account_id"],
                capture=data["capture"],
                expire_seconds=data["expire_seconds"],
                metadata=data["metadata"],
            ),
            idempotency_key=request.idempotency_key,
            now=timezone.now(),
        )
        return Response(payment_data(txn), status=status.HTTP_201_CREATED)

    @raises(TransactionNotFound)
    @extend_schema(
        operation_id="v1_payments_find",
        parameters=[OpenApiParameter("out_trade_no", {"type": "string", "minLength": 1}, required=True)],
        responses=PaymentOutput,
        summary="Find a payment by the app's order number",
    )
    def get(self, request: Request) -> Response:
        out_trade_no = request.query_params.get("out_trade_no")
        if not out_trade_no:
            raise InvalidRequest("out_trade_no is required.", field="out_trade_no")
        txn = (
            Transaction.objects.filter(
                kind=TransactionKind.PAYMENT, app_id=request.user.app_pk, out_trade_no=out_trade_no
            )
            .order_by("-id")
            .first()
        )
        if txn is None:
            raise TransactionNotFound()
        return Response(payment_data(fresh(txn)))


class PaymentDetailApi(AppApi):
    @extend_schema(responses=PaymentOutput)
    def get(self, request: Request, payment_id: str) -> Response:
        return Response(payment_data(fresh(_payment(request, payment_id))))


class PaymentCloseApi(AppApi):
    @raises(InvalidState)
    @extend_schema(request=None, responses=PaymentOutput)
    def post(self, request: Request, payment_id: str) -> Response:
        txn = payment_close(txn_id=_payment(request, payment_id).pk, now=timezone.now())
        return Response(payment_data(txn))


class PaymentCaptureApi(AppApi):
    @raises(InvalidState, CaptureExceedsAuthorization, InsufficientFunds)
    @extend_schema(request=CaptureInput, responses=PaymentOutput)
    def post(self, request: Request, payment_id: str) -> Response:
        txn = _payment(request, payment_id)
        body = CaptureInput(data=request.data)
        body.is_valid(raise_exception=True)
        amount = body.validated_data.get("amount")
        minor = None if amount is None else to_minor(amount, txn.currency, field="amount")
        return Response(payment_data(payment_capture(txn_id=txn.pk, amount_minor=minor, now=timezone.now())))


class PaymentVoidApi(AppApi):
    @raises(InvalidState)
    @extend_schema(request=None, responses=PaymentOutput)
    def post(self, request: Request, payment_id: str) -> Response:
        txn = _payment(request, payment_id)
        return Response(payment_data(payment_void(txn_id=txn.pk, now=timezone.now())))


class RefundCreateApi(AppApi):
    @raises(
        InvalidState,
        RefundExceedsPayment,
        RefundNeedsSplit,
        DuplicateOutTradeNo,
        InsufficientFunds,
        AccountNotActive,
    )
    @extend_schema(request=RefundInput, responses={201: RefundOutput})
    def post(self, request: Request, payment_id: str) -> Response:
        payment = _payment(request, payment_id)
        body = RefundInput(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        refund = refund_create(
            app_id=request.user.app_pk,
            payment_id=payment.pk,
            amount_minor=to_minor(data["amount"], payment.currency, field="amount"),
            reason=data["reason"],
            out_refund_no=data["out_refund_no"],
            options=channel_options(data["metadata"], payment.channel),
            idempotency_key=request.idempotency_key,
            now=timezone.now(),
        )
        return Response(refund_data(refund), status=status.HTTP_201_CREATED)


class RefundDetailApi(AppApi):
    @extend_schema(responses=RefundOutput)
    def get(self, request: Request, refund_id: str) -> Response:
        refund = transaction_for_merchant(
            merchant_id=request.user.merchant_id, serial=refund_id, kind=TransactionKind.REFUND
        )
        return Response(refund_data(refund))
