from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from coupons import selectors
from coupons.api.serializers import CouponClaimInput, CouponListOutput, CouponListQuery, CouponOutput
from coupons.errors import CouponBatchClosed, CouponBatchExhausted, CouponBatchNotFound, CouponLimitReached
from coupons.services import coupon_claim
from paycenter.api.schema import raises
from paycenter.api.views import AppApi


class CouponListApi(AppApi):
    @extend_schema(
        parameters=[
            OpenApiParameter(
                "buyer_external_id", str, required=True, description="the buyer, as the app knows it"
            ),
            OpenApiParameter("status", str, enum=["claimed", "locked", "used", "expired"]),
            OpenApiParameter("cursor", str, description="next_cursor of the previous page"),
            OpenApiParameter("limit", int, description="1..200, default 50"),
        ],
        responses=CouponListOutput,
        summary="A buyer's coupons, newest first",
    )
    def get(self, request: Request) -> Response:
        query = CouponListQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        coupons, next_cursor = selectors.buyer_coupons(
            merchant_id=request.user.merchant_id, **query.validated_data
        )
        return Response(CouponListOutput({"coupons": coupons, "next_cursor": next_cursor}).data)


class CouponClaimApi(AppApi):
    @raises(CouponBatchNotFound, CouponBatchExhausted, CouponLimitReached, CouponBatchClosed)
    @extend_schema(request=CouponClaimInput, responses={201: CouponOutput}, summary="A buyer claims a coupon")
    def post(self, request: Request) -> Response:
        body = CouponClaimInput(data=request.data)
        body.is_valid(raise_exception=True)
        coupon = coupon_claim(merchant_id=request.user.merchant_id, now=timezone.now(), **body.validated_data)
        return Response(
            CouponOutput(selectors.coupon_with_terms(coupon_id=coupon.pk)).data,
            status=status.HTTP_201_CREATED,
        )
