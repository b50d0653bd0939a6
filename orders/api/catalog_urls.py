from django.urls import path

from orders.api import catalog_views as views

urlpatterns = [
    path("products", views.ProductListApi.as_view(), name="product-list"),
]
