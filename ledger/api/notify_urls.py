from django.urls import path

from ledger.api.notify import channel_notify

urlpatterns = [path("<str:channel>/<int:mc_id>", channel_notify, name="channel-notify")]
