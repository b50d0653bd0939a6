from django.urls import path

from ledger.api import views
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
]
