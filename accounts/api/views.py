from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import selectors, services
from accounts.api.serializers import CustomerInput, CustomerOutput
from paycenter.api.views import AppApi


class CustomerCreateApi(AppApi):
    @extend_schema(request=CustomerInput, responses={200: CustomerOutput, 201: CustomerOutput})
    def post(self, request: Request) -> Response:
        data = CustomerInput(data=request.data)
        data.is_valid(raise_exception=True)
        customer, created = services.customer_get_or_create(
            merchant_id=request.user.merchant_id, now=timezone.now(), **data.validated_data
        )
        body = CustomerOutput(
            {
                "id": customer.pk,
                "external_id": customer.external_id,
                "name": customer.name,
                "accounts": selectors.customer_accounts(customer=customer),
            }
        ).data
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)
