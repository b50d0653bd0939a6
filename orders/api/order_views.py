from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from channels.errors import ChannelUnavailable
from coupons.errors import CouponNotApplicable, CouponNotFound, CouponsNotStackable, CouponUnavailable
from ledger.api.payment_serializers import PaymentOutput
from ledger.errors import (
    AccountNotActive,
    AccountNotFound,
    CurrencyMismatch,
    DuplicateOutTradeNo,
    InsufficientFunds,
    RetryTooSoon,
)
from ledger.representations import payment_data
from ledger.services.collect import PaymentRequest
from orders.api.order_serializers import (
    OrderInput,
    OrderOutput,
    OrderPayInput,
    OrderPreviewInput,
    OrderRefundInput,
    OrderRefundOutput,
)
from orders.errors import (
    InsufficientStock,
    OrderNotFound,
    OrderNotPayable,
    OrderNotRefundable,
    OrderRefundExceedsPaid,
    OrderState,
    SubOrderNotFound,
    UnknownSku,
)
from orders.models import Order
from orders.representations import order_data, order_for_output, order_refund_data, preview_data
from orders.services.cart import Item
from orders.services.checkout import NothingToPay, order_create, order_preview
from orders.services.lifecycle import order_cancel
from orders.services.payment import order_pay
from orders.services.refunds import RefundLine, order_refund_create
from paycenter.api.schema import raises
from paycenter.api.views import AppApi
from paycenter.money import to_minor

COUPON_ERRORS = (CouponNotFound, CouponUnavailable, CouponNotApplicable, CouponsNotStackable)


def _order(request: Request, order_id: str) -> Order:
    order = Order.objects.filter(merchant_id=request.user.merchant_id, serial=order_id).first()
    if order is None:
        raise OrderNotFound()
    return order


def _items(data: dict) -> list[Item]:
    return [Item(sku=item["sku"], quantity=item["quantity"]) for item in data["items"]]


class OrderCreateApi(AppApi):
    @raises(InsufficientStock, UnknownSku, NothingToPay, *COUPON_ERRORS)
    @extend_schema(request=OrderInput, responses={201: OrderOutput}, summary="Place an order")
    def post(self, request: Request) -> Response:
        body = OrderInput(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        order = order_create(
            merchant_id=request.user.merchant_id,
            app_id=request.user.app_pk,
            buyer_external_id=data["buyer_external_id"],
            items=_items(data),
            coupon_ids=data["coupon_ids"],
            split_by=data["split_by"],
            address=data["address"],
            now=timezone.now(),
        )
        return Response(order_data(order_for_output(order.pk)), status=status.HTTP_201_CREATED)


class OrderPreviewApi(AppApi):
    @raises(InsufficientStock, UnknownSku, *COUPON_ERRORS)
    @extend_schema(
        request=OrderPreviewInput,
        responses={200: OpenApiTypes.OBJECT},
        summary="Price a cart without reserving anything",
    )
    def post(self, request: Request) -> Response:
        body = OrderPreviewInput(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        cart = order_preview(
            merchant_id=request.user.merchant_id,
            buyer_external_id=data["buyer_external_id"],
            items=_items(data),
            coupon_ids=data["coupon_ids"],
            split_by=data["split_by"],
            now=timezone.now(),
        )
        return Response(preview_data(cart))


class OrderDetailApi(AppApi):
    @raises(OrderNotFound)
    @extend_schema(responses=OrderOutput)
    def get(self, request: Request, order_id: str) -> Response:
        return Response(order_data(order_for_output(_order(request, order_id).pk)))


class OrderPayApi(AppApi):
    rate_scopes = {"POST": "payment_create"}

    @raises(
        OrderNotFound,
        OrderNotPayable,
        DuplicateOutTradeNo,
        RetryTooSoon,
        AccountNotFound,
        InsufficientFunds,
        AccountNotActive,
        CurrencyMismatch,
        ChannelUnavailable,
    )
    @extend_schema(request=OrderPayInput, responses={201: PaymentOutput}, summary="Pay an order")
    def post(self, request: Request, order_id: str) -> Response:
        order = _order(request, order_id)
        body = OrderPayInput(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        txn = order_pay(
            order_id=order.pk,
            app_id=request.user.app_pk,
            request=PaymentRequest(
                out_trade_no=order.serial,
                amount_minor=order.payable_minor,
                currency=order.currency,
                subject=data["subject"] or f"Order {order.serial}",
                channel=data["channel"],
                method=data["method"],
                payer_account_id=data["payer_account_id"],
                expire_seconds=data["expire_seconds"],
                metadata=data["metadata"],
            ),
            idempotency_key=request.idempotency_key,
            now=timezone.now(),
        )
        return Response(payment_data(txn), status=status.HTTP_201_CREATED)


class OrderCancelApi(AppApi):
    @raises(OrderNotFound, OrderState)
    @extend_schema(request=None, responses=OrderOutput, summary="Cancel an unpaid order")
    def post(self, request: Request, order_id: str) -> Response:
        order = order_cancel(order_id=_order(request, order_id).pk, now=timezone.now())
        return Response(order_data(order_for_output(order.pk)))


class OrderRefundApi(AppApi):
    @raises(OrderNotFound, SubOrderNotFound, OrderNotRefundable, OrderRefundExceedsPaid)
    @extend_schema(request=OrderRefundInput, responses={201: OrderRefundOutput}, summary="Refund a sub-order")
    def post(self, request: Request, order_id: str) -> Response:
        order = _order(request, order_id)
        body = OrderRefundInput(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        amount = data["amount"]
        order_refund = order_refund_create(
            order_id=order.pk,
            sub_order_serial=data["sub_order_id"],
            reason=data["reason"],
            lines=[RefundLine(sku=line["sku"], quantity=line["quantity"]) for line in data["lines"] or []],
            amount_minor=None if amount is None else to_minor(amount, order.currency, field="amount"),
            now=timezone.now(),
        )
        return Response(order_refund_data(order_refund), status=status.HTTP_201_CREATED)
