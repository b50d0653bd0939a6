from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from paycenter.health import health

api_v1 = [
    path("", include("accounts.api.urls")),
    path("", include("ledger.api.urls")),
    path("", include("orders.api.order_urls")),
    path("", include("orders.api.catalog_urls")),
    path("", include("coupons.api.urls")),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("health", health, name="health"),
    path("notify/", include("ledger.api.notify_urls")),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]

handler404 = "paycenter.api.errors.not_found"
handler500 = "paycenter.api.errors.server_error"
