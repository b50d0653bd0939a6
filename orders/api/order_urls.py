from django.urls import path

from orders.api import order_views as views

urlpatterns = [
    path("orders", views.OrderCreateApi.as_view(), name="order-create"),
    path("orders/preview", views.OrderPreviewApi.as_view(), name="order-preview"),
    path("orders/<str:order_id>", views.OrderDetailApi.as_view(), name="order-detail"),
    path("orders/<str:order_id>/pay", views.OrderPayApi.as_view(), name="order-pay"),
    path("orders/<str:order_id>/cancel", views.OrderCancelApi.as_view(), name="order-cancel"),
    path("orders/<str:order_id>/refunds", views.OrderRefundApi.as_view(), name="order-refund"),
]
