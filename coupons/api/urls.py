from django.urls import path

from coupons.api import views

urlpatterns = [
    path("coupons", views.CouponListApi.as_view(), name="coupon-list"),
    path("coupons/claim", views.CouponClaimApi.as_view(), name="coupon-claim"),
]
