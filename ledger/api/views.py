from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from channels.errors import ChannelUnavailable
from ledger import selectors
from ledger.api.payment_views import fresh
from ledger.api.serializers import (
    BalanceOutput,
    RechargeInput,
    StatementOutput,
    StatementQuery,
    TransactionOutput,
    TransferInput,
    WithdrawalInput,
)
from ledger.choices import TransactionKind
from ledger.errors import (
    AccountNotActive,
    AccountNotFound,
    CurrencyMismatch,
    DuplicateOutTradeNo,
    InsufficientFunds,
    RetryTooSoon,
    SameAccount,
)
from ledger.representations import transaction_data
from ledger.services.collect import PaymentRequest
from ledger.services.recharges import recharge_create
from ledger.services.records import merchant_account
from ledger.services.transfers import transfer_create
from ledger.services.withdrawals import withdrawal_request
from paycenter.api.schema import raises
from paycenter.api.views import AppApi
from paycenter.errors import InvalidRequest
from paycenter.money import to_minor


def _money(request: Request, data: dict, account_id: int) -> tuple[int, str]:
    """The amount in minor units of the body's currency, or of the account's when omitted."""
    account = merchant_account(merchant_id=request.user.merchant_id, account_id=account_id)
    currency = data["currency"] or account.currency
    return to_minor(data["amount"], currency, field="amount"), currency


class AccountDetailApi(AppApi):
    @extend_schema(responses=BalanceOutput, summary="Balance inquiry")
    def get(self, request: Request, account_id: int) -> Response:
        account = selectors.account_for_merchant(merchant_id=request.user.merchant_id, account_id=account_id)
        return Response(BalanceOutput(selectors.account_balance(account=account)).data)


class AccountStatementApi(AppApi):
    @raises(InvalidRequest)
    @extend_schema(
        parameters=[
            OpenApiParameter("from", str, description="ISO 8601 time, inclusive"),
            OpenApiParameter("to", str, description="ISO 8601 time, exclusive"),
            OpenApiParameter("cursor", str, description="next_cursor of the previous page"),
            OpenApiParameter("limit", int, description="1..200, default 50"),
        ],
        responses=StatementOutput,
        summary="Statement: every change of the account, newest first",
    )
    def get(self, request: Request, account_id: int) -> Response:
        account = selectors.account_for_merchant(merchant_id=request.user.merchant_id, account_id=account_id)
        query = StatementQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        lines, next_cursor = selectors.statement_lines(account=account, **query.validated_data)
        return Response(StatementOutput({"lines": lines, "next_cursor": next_cursor}).data)


class RechargeCreateApi(AppApi):
    @raises(
        AccountNotFound,
        AccountNotActive,
        CurrencyMismatch,
        ChannelUnavailable,
        DuplicateOutTradeNo,
        RetryTooSoon,
    )
    @extend_schema(request=RechargeInput, responses={201: TransactionOutput})
    def post(self, request: Request) -> Response:
        body = RechargeInput(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        amount_minor, currency = _money(request, data, data["account_id"])
        txn = recharge_create(
            app_id=request.user.app_pk,
            merchant_id=request.user.merchant_id,
            account_id=data["account_id"],
            request=PaymentRequest(
                out_trade_no=data["out_trade_no"],
                amount_minor=amount_minor,
                currency=currency,
                subject=data["subject"],
                channel=data["channel"],
                method=data["method"],
                expire_seconds=data["expire_seconds"],
                metadata=data["metadata"],
            ),
            idempotency_key=request.idempotency_key,
            now=timezone.now(),
        )
        return Response(transaction_data(txn), status=status.HTTP_201_CREATED)


class WithdrawalCreateApi(AppApi):
    @raises(AccountNotFound, AccountNotActive, CurrencyMismatch, InsufficientFunds)
    @extend_schema(request=WithdrawalInput, responses={201: TransactionOutput})
    def post(self, request: Request) -> Response:
        body = WithdrawalInput(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        amount_minor, currency = _money(request, data, data["account_id"])
        txn = withdrawal_request(
            merchant_id=request.user.merchant_id,
            account_id=data["account_id"],
            amount_minor=amount_minor,
            currency=currency,
            destination=data["destination"],
            app_id=request.user.app_pk,
            idempotency_key=request.idempotency_key,
            now=timezone.now(),
        )
        return Response(transaction_data(txn), status=status.HTTP_201_CREATED)


class TransferCreateApi(AppApi):
    @raises(AccountNotFound, AccountNotActive, CurrencyMismatch, InsufficientFunds, SameAccount)
    @extend_schema(request=TransferInput, responses={201: TransactionOutput})
    def post(self, request: Request) -> Response:
        body = TransferInput(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        amount_minor, currency = _money(request, data, data["from_account_id"])
        txn = transfer_create(
            merchant_id=request.user.merchant_id,
            from_account_id=data["from_account_id"],
            to_account_id=data["to_account_id"],
            amount_minor=amount_minor,
            currency=currency,
            memo=data["memo"],
            app_id=request.user.app_pk,
            idempotency_key=request.idempotency_key,
            now=timezone.now(),
        )
        return Response(transaction_data(txn), status=status.HTTP_201_CREATED)


class TransactionDetailApi(AppApi):
    kind: str = ""  # set per route: recharges, withdrawals, transfers

    @extend_schema(responses=TransactionOutput)
    def get(self, request: Request, serial: str) -> Response:
        txn = selectors.transaction_for_merchant(
            merchant_id=request.user.merchant_id, serial=serial, kind=self.kind
        )
        if txn.kind == TransactionKind.RECHARGE:
            txn = fresh(txn)
        return Response(transaction_data(txn))
