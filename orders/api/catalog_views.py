from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from orders.api.catalog_serializers import ProductListOutput, ProductQuery
from orders.selectors import products_page
from paycenter.api.schema import raises
from paycenter.api.views import AppApi
from paycenter.errors import InvalidRequest


class ProductListApi(AppApi):
    @raises(InvalidRequest)
    @extend_schema(
        parameters=[
            OpenApiParameter("merchant_id", int, description="only this seller's products"),
            OpenApiParameter("category", str),
            OpenApiParameter("cursor", str, description="next_cursor of the previous page"),
            OpenApiParameter("limit", int, description="1..100, default 20"),
        ],
        responses=ProductListOutput,
        summary="What this app may order: products on sale, with SKUs, price tiers and stock",
    )
    def get(self, request: Request) -> Response:
        query = ProductQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        products, next_cursor = products_page(
            merchant_id=request.user.merchant_id,
            seller_id=data.get("merchant_id"),
            category=data.get("category"),
            cursor=data.get("cursor"),
            limit=data["limit"],
        )
        return Response(ProductListOutput({"products": products, "next_cursor": next_cursor}).data)
