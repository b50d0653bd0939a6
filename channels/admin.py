"""Merchant channel activation (G1) and the gateway's logs. Secrets are never shown.

Adding and editing go through channels.services (audited). Activate and Disable are
buttons that POST to their own view: activation calls the platform, so it must run outside
the change form's transaction and with no row locked (the service opens its own)."""

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import path, reverse
from django.utils import timezone

from channels import registry, services
from channels.base import ChannelError, ChannelUnreachable
from channels.choices import MerchantChannelStatus
from channels.models import ChannelNotification, ChannelRequestLog, MerchantChannel
from paycenter.adminutils import ReadOnlyAdmin
from paycenter.errors import PaycenterError

S = MerchantChannelStatus
TRANSITIONS = {"activate": {S.PENDING, S.DISABLED}, "disable": {S.PENDING, S.ACTIVE}}


class MerchantChannelForm(forms.ModelForm):
    channel = forms.ChoiceField(choices=[])

    class Meta:
        model = MerchantChannel
        fields = ["merchant", "channel", "priority", "min_amount_minor", "max_amount_minor", "params"]

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        if "channel" in self.fields:
            self.fields["channel"].choices = [(name, name) for name in registry.names()]


@admin.register(MerchantChannel)
class MerchantChannelAdmin(admin.ModelAdmin):
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
    autocomplete_fields = ["merchant"]
    change_form_template = "admin/channels/merchantchannel/change_form.html"

    def get_readonly_fields(self, request: HttpRequest, obj: MerchantChannel | None = None) -> list[str]:
        base = ["status", "consecutive_failures", "unhealthy_until", "created_at"]
        return base if obj is None else [*base, "merchant", "channel", "params"]

    def save_model(self, request: HttpRequest, obj: MerchantChannel, form: object, change: bool) -> None:
        actor, now = request.user.get_username(), timezone.now()
        limits = {
            "priority": obj.priority,
            "min_amount_minor": obj.min_amount_minor,
            "max_amount_minor": obj.max_amount_minor,
        }
        if change:
            services.merchant_channel_update(mc_id=obj.pk, **limits, actor=actor, now=now)
            return
        created = services.merchant_channel_add(
            merchant_id=obj.merchant_id,
            channel=obj.channel,
            params=obj.params,
            **limits,
            actor=actor,
            now=now,
        )
        obj.pk, obj.created_at = created.pk, created.created_at

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def get_urls(self) -> list:
        return [
            path(
                "<int:pk>/transition/<str:name>/",
                self.admin_site.admin_view(self.transition_view),
                name="channels_merchantchannel_transition",
            ),
            *super().get_urls(),
        ]

    def transition_view(self, request: HttpRequest, pk: int, name: str) -> HttpResponse:
        """Not atomic on purpose (see the module doc)."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        back = HttpResponseRedirect(reverse("admin:channels_merchantchannel_change", args=[pk]))
        mc = MerchantChannel.objects.filter(pk=pk).first()
        if mc is None or name not in TRANSITIONS or not self.has_change_permission(request, mc):
            self.message_user(request, "Not allowed.", messages.ERROR)
            return back
        actor, now = request.user.get_username(), timezone.now()
        try:
            if name == "activate":
                services.merchant_channel_activate(
                    merchant_id=mc.merchant_id, channel=mc.channel, actor=actor, now=now
                )
            else:
                services.merchant_channel_disable(mc_id=mc.pk, actor=actor, now=now)
        except (PaycenterError, ChannelError, ChannelUnreachable) as exc:
            self.message_user(request, f"{name} failed: {exc}", level=messages.ERROR)
        else:
            self.message_user(request, f"Channel {mc.channel}: {name} done.", level=messages.SUCCESS)
        return back

    def render_change_form(
        self, request: HttpRequest, context: dict, *args: object, **kwargs: object
    ) -> HttpResponse:
        mc = context.get("original")
        allowed = mc is not None and self.has_change_permission(request, mc)
        context["transitions"] = [
            (name, reverse("admin:channels_merchantchannel_transition", args=[mc.pk, name]))
            for name, sources in TRANSITIONS.items()
            if allowed and mc.status in sources
        ]
        return super().render_change_form(request, context, *args, **kwargs)


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
