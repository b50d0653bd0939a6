"""Merchant channel activation (G1) and the gateway's logs. Secrets are never shown."""

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest
from django.utils import timezone
from django_fsm.admin import FSMAdminMixin

from channels import registry, services
from channels.base import ChannelError, ChannelUnreachable
from channels.models import ChannelNotification, ChannelRequestLog, MerchantChannel
from paycenter.adminutils import ReadOnlyAdmin
from paycenter.errors import PaycenterError


class MerchantChannelForm(forms.ModelForm):
    channel = forms.ChoiceField(choices=[])

    class Meta:
        model = MerchantChannel
        fields = ["merchant", "channel", "priority", "min_amount_minor", "max_amount_minor", "params"]

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.fields["channel"].choices = [(name, name) for name in registry.names()]


@admin.register(MerchantChannel)
class MerchantChannelAdmin(FSMAdminMixin, admin.ModelAdmin):
    form = MerchantChannelForm
    list_display = [
        "id",
        "merchant",
        "channel",
        "status",
        "priority",
        "consecutive_failures",
        "unhealthy_until",
    ]
    list_filter = ["channel", "status"]
    search_fields = ["merchant__name"]
    list_select_related = ["merchant"]
    fsm_fields = ["status"]
    autocomplete_fields = ["merchant"]

    def get_readonly_fields(self, request: HttpRequest, obj: MerchantChannel | None = None) -> list[str]:
        base = ["status", "consecutive_failures", "unhealthy_until", "created_at"]
        return base if obj is None else [*base, "merchant", "channel", "params"]

    def save_model(self, request: HttpRequest, obj: MerchantChannel, form: object, change: bool) -> None:
        if not change:
            obj.created_at = timezone.now()
        super().save_model(request, obj, form, change)

    def _apply_fsm_transition(
        self, *, obj: MerchantChannel, transition_name: str, request: HttpRequest, kwargs: object = None
    ) -> bool:
        actor, now = request.user.get_username(), timezone.now()
        try:
            if transition_name == "activate":
                services.merchant_channel_activate(
                    merchant_id=obj.merchant_id, channel=obj.channel, actor=actor, now=now
                )
            else:
                services.merchant_channel_disable(mc_id=obj.pk, actor=actor, now=now)
        except (PaycenterError, ChannelError, ChannelUnreachable) as exc:
            self.message_user(request, f"{transition_name} failed: {exc}", level=messages.ERROR)
            return False
        self.message_user(request, f"Channel {obj.channel}: {transition_name} done.", level=messages.SUCCESS)
        return True

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(ChannelRequestLog)
class ChannelRequestLogAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at",
        "merchant_channel",
        "operation",
        "reference",
        "outcome",
        "response_status",
        "duration_ms",
    ]
    list_filter = ["operation", "outcome"]
    search_fields = ["reference", "trace_id"]
    date_hierarchy = "created_at"


@admin.register(ChannelNotification)
class ChannelNotificationAdmin(ReadOnlyAdmin):
    list_display = ["received_at", "channel", "merchant_channel", "event", "reference", "verified", "outcome"]
    list_filter = ["outcome", "verified", "channel", "event"]
    search_fields = ["reference", "channel_trade_no", "notify_id", "trace_id"]
    date_hierarchy = "received_at"
