from django.urls import path

from accounts.api import views

urlpatterns = [
    path("customers", views.CustomerCreateApi.as_view(), name="customer-create"),
]
