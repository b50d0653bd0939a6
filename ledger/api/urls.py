from django.urls import path

from ledger.api import payment_views as payments
from ledger.api import views
from ledger.api.payment_at_once import payment_collection
from ledger.choices import TransactionKind

detail = views.TransactionDetailApi.as_view

urlpatterns = [
    path("accounts/<int:account_id>", views.AccountDetailApi.as_view(), name="account-detail"),
    path(
        "accounts/<int:account_id>/statement", views.AccountStatementApi.as_view(), name="account-statement"
    ),
    path("recharges", views.RechargeCreateApi.as_view(), name="recharge-create"),
    path("recharges/<str:serial>", detail(kind=TransactionKind.RECHARGE), name="recharge-detail"),
    path("withdrawals", views.WithdrawalCreateApi.as_view(), name="withdrawal-create"),
    path("withdrawals/<str:serial>", detail(kind=TransactionKind.WITHDRAWAL), name="withdrawal-detail"),
    path("transfers", views.TransferCreateApi.as_view(), name="transfer-create"),
    path("transfers/<str:serial>", detail(kind=TransactionKind.TRANSFER), name="transfer-detail"),
    path("payments", payment_collection, name="payment-collection"),
    path("payments/<str:payment_id>", payments.PaymentDetailApi.as_view(), name="payment-detail"),
    path("payments/<str:payment_id>/close", payments.PaymentCloseApi.as_view(), name="payment-close"),
    path("payments/<str:payment_id>/capture", payments.PaymentCaptureApi.as_view(), name="payment-capture"),
    path("payments/<str:payment_id>/void", payments.PaymentVoidApi.as_view(), name="payment-void"),
    path("payments/<str:payment_id>/refunds", payments.RefundCreateApi.as_view(), name="refund-create"),
    path("refunds/<str:refund_id>", payments.RefundDetailApi.as_view(), name="refund-detail"),
]
