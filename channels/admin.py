"""Merchant channel activation (G1) and the gateway's logs. Secrets are never shown.

Adding and editing go through channels.services (audited). Activate and Disable are
buttons with their own view: activation calls the platform, so it must run outside the
change form's transaction and with no row locked (the service opens its own). Activate
opens a form built from the plugin's declared parameters (channels.forms); stored
secrets are never shown, only whether each is set."""

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import render
from django.urls import path, reverse
from django.utils import timezone

from channels import registry, services
from channels.base import ChannelError, ChannelUnreachable
from channels.choices import MerchantChannelStatus
from channels.forms import ChannelActivationForm
from channels.models import ChannelNotification, ChannelRequestLog, MerchantChannel
from channels.parameters import secrets_stored
from paycenter.adminutils import ReadOnlyAdmin
from paycenter.errors import PaycenterError

S = MerchantChannelStatus
TRANSITIONS = {"activate": {S.PENDING, S.DISABLED}, "disable": {S.PENDING, S.ACTIVE}}


class MerchantChannelForm(forms.ModelForm):
    channel = forms.ChoiceField(choices=[])

    class Meta:
        model = MerchantChannel
        fields = ["merchant", "channel", "priority", "min_amount_minor", "max_amount_minor", "fee_rate_bps"]

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        if "channel" in self.fields:
            self.fields["channel"].choices = [(name, name) for name in registry.names()]
        self.fields["fee_rate_bps"].required = False  # no contracted fee: 0

    def clean_fee_rate_bps(self) -> int:
        return self.cleaned_data.get("fee_rate_bps") or 0


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
        return base if obj is None else [*base, "merchant", "channel", "params", "secrets_held"]

    @admin.display(description="secrets")
    def secrets_held(self, obj: MerchantChannel) -> str:
        """Which secrets are stored, never their values."""
        return ", ".join(f"{name}: set" for name in sorted(secrets_stored(mc=obj))) or "none"

    def save_model(self, request: HttpRequest, obj: MerchantChannel, form: object, change: bool) -> None:
        actor, now = request.user.get_username(), timezone.now()
        limits = {
            "priority": obj.priority,
            "min_amount_minor": obj.min_amount_minor,
            "max_amount_minor": obj.max_amount_minor,
            "fee_rate_bps": obj.fee_rate_bps,
        }
        if change:
            services.merchant_channel_update(mc_id=obj.pk, **limits, actor=actor, now=now)
            return
        created = services.merchant_channel_add(
            merchant_id=obj.merchant_id,
            channel=obj.channel,
            params={},  # the plugin's parameters are given on activation
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
        if request.method != "POST" and name != "activate":
            return HttpResponseNotAllowed(["POST"])
        back = HttpResponseRedirect(reverse("admin:channels_merchantchannel_change", args=[pk]))
        mc = MerchantChannel.objects.filter(pk=pk).first()
        if mc is None or name not in TRANSITIONS or not self.has_change_permission(request, mc):
            self.message_user(request, "Not allowed.", messages.ERROR)
            return back
        if mc.status not in TRANSITIONS[name]:  # a stale page: someone else got there first
            self.message_user(request, f"The channel is {mc.status}: nothing to {name}.", messages.WARNING)
            return back
        if name == "activate":
            return self.activate_view(request, mc)
        try:
            actor = request.user.get_username()
            services.merchant_channel_disable(mc_id=mc.pk, actor=actor, now=timezone.now())
        except PaycenterError as exc:
            self.message_user(request, f"{name} failed: {exc}", level=messages.ERROR)
        else:
            self.message_user(request, f"Channel {mc.channel}: {name} done.", level=messages.SUCCESS)
        return back

    def activate_view(self, request: HttpRequest, mc: MerchantChannel) -> HttpResponse:
        """GET: the plugin's parameter form, with the stored public values; POST: checked by
        the same code as `channel_activate --params`, then the service (no transaction)."""
        back = HttpResponseRedirect(reverse("admin:channels_merchantchannel_change", args=[mc.pk]))
        try:
            plugin = registry.plugin_for(mc.channel)
        except PaycenterError as exc:
            self.message_user(request, f"activate failed: {exc}", level=messages.ERROR)
            return back
        form = ChannelActivationForm(
            request.POST if request.method == "POST" else None,
            plugin=plugin,
            stored_secrets=secrets_stored(mc=mc),
            initial={p.name: mc.params.get(p.name, "") for p in plugin.parameters if not p.secret},
        )
        if request.method == "POST" and form.is_valid():
            try:
                services.merchant_channel_activate(
                    merchant_id=mc.merchant_id,
                    channel=mc.channel,
                    params=form.params,
                    secrets=form.secrets,
                    actor=request.user.get_username(),
                    now=timezone.now(),
                )
            except (PaycenterError, ChannelError, ChannelUnreachable) as exc:
                self.message_user(request, f"activate failed: {exc}", level=messages.ERROR)
            else:
                self.message_user(request, f"Channel {mc.channel}: activate done.", level=messages.SUCCESS)
                return back
        context = {
            **self.admin_site.each_context(request),
            "title": f"Activate {mc.channel} for {mc.merchant}",
            "form": form,
            "mc": mc,
            "opts": self.model._meta,
        }
        return render(request, "admin/channels/merchantchannel/activate.html", context)

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
