"""Merchant onboarding for operations staff. Every write goes through accounts.services."""

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django_fsm.admin import FSMAdminMixin

from accounts import services, webhooks
from accounts.models import Account, Customer, Merchant, MerchantApp, WebhookDelivery
from paycenter.adminutils import ReadOnlyAdmin, amount_column
from paycenter.errors import PaycenterError
from paycenter.netguard import notify_url_check


class MerchantAppInline(admin.TabularInline):
    model = MerchantApp
    fields = ["app_id", "name", "notify_url", "enabled", "created_at"]
    readonly_fields = fields
    extra = 0
    show_change_link = True
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Merchant)
class MerchantAdmin(FSMAdminMixin, admin.ModelAdmin):
    list_display = ["id", "name", "status", "contact_email", "created_at"]
    list_filter = ["status"]
    search_fields = ["name", "contact_email"]
    fsm_fields = ["status"]
    readonly_fields = ["status", "created_at"]
    inlines = [MerchantAppInline]

    def get_fields(self, request: HttpRequest, obj: Merchant | None = None) -> list[str]:
        return ["name", "contact_email"] if obj is None else ["name", "contact_email", "status", "created_at"]

    def get_readonly_fields(self, request: HttpRequest, obj: Merchant | None = None) -> list[str]:
        return [] if obj is None else ["name", "status", "created_at"]

    def save_model(self, request: HttpRequest, obj: Merchant, form: object, change: bool) -> None:
        if change:
            services.merchant_update_contact(
                merchant_id=obj.pk,
                contact_email=obj.contact_email,
                actor=request.user.get_username(),
                now=timezone.now(),
            )
            return
        created = services.merchant_create(
            name=obj.name,
            contact_email=obj.contact_email,
            actor=request.user.get_username(),
            now=timezone.now(),
        )
        obj.pk = created.pk

    def _apply_fsm_transition(
        self, *, obj: Merchant, transition_name: str, request: HttpRequest, kwargs: object = None
    ) -> bool:
        try:
            services.merchant_transition(
                merchant_id=obj.pk,
                transition=transition_name,
                actor=request.user.get_username(),
                now=timezone.now(),
            )
        except PaycenterError as exc:
            self.message_user(request, exc.message, level=messages.ERROR)
            return False
        self.message_user(request, f"Merchant {obj.name}: {transition_name} done.", level=messages.SUCCESS)
        return True

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class MerchantAppForm(forms.ModelForm):
    """Runs the services' own checks so a bad value is a form error, not a failed save."""

    class Meta:
        model = MerchantApp
        fields = "__all__"

    def clean_notify_url(self) -> str:
        url = self.cleaned_data.get("notify_url", "")
        try:
            return notify_url_check(url) if url else url
        except PaycenterError as exc:
            raise forms.ValidationError(exc.message) from None

    def clean_ip_allowlist(self) -> str:
        try:
            return services.allowlist_check(self.cleaned_data.get("ip_allowlist", ""))
        except PaycenterError as exc:
            raise forms.ValidationError(exc.message) from None


@admin.register(MerchantApp)
class MerchantAppAdmin(admin.ModelAdmin):
    form = MerchantAppForm
    list_display = ["app_id", "name", "merchant", "enabled", "notify_url", "created_at"]
    list_filter = ["enabled"]
    search_fields = ["app_id", "name", "merchant__name"]
    list_select_related = ["merchant"]
    autocomplete_fields = ["merchant"]

    def get_fields(self, request: HttpRequest, obj: MerchantApp | None = None) -> list[str]:
        editable = ["name", "notify_url", "ip_allowlist"]
        return (
            ["merchant", *editable]
            if obj is None
            else ["merchant", "app_id", *editable, "enabled", "created_at"]
        )

    def get_readonly_fields(self, request: HttpRequest, obj: MerchantApp | None = None) -> list[str]:
        return [] if obj is None else ["merchant", "app_id", "created_at"]

    def save_model(self, request: HttpRequest, obj: MerchantApp, form: object, change: bool) -> None:
        actor, now = request.user.get_username(), timezone.now()
        if change:
            services.app_update(
                app_pk=obj.pk,
                name=obj.name,
                notify_url=obj.notify_url,
                ip_allowlist=obj.ip_allowlist,
                enabled=obj.enabled,
                actor=actor,
                now=now,
            )
            return
        app, secret = services.app_create(
            merchant_id=obj.merchant_id,
            name=obj.name,
            notify_url=obj.notify_url,
            ip_allowlist=obj.ip_allowlist,
            actor=actor,
            now=now,
        )
        obj.pk, obj.app_id = app.pk, app.app_id
        request._paycenter_new_secret = secret  # handed to response_add, never stored

    def response_add(
        self, request: HttpRequest, obj: MerchantApp, post_url_continue: str | None = None
    ) -> HttpResponse:
        secret = getattr(request, "_paycenter_new_secret", None)
        if secret is None:
            return super().response_add(request, obj, post_url_continue)
        context = {
            **self.admin_site.each_context(request),
            "title": "App credentials",
            "app": obj,
            "secret": secret,
            "continue_url": reverse("admin:accounts_merchantapp_change", args=[obj.pk]),
        }
        response = TemplateResponse(request, "admin/accounts/app_secret.html", context)
        response["Cache-Control"] = "no-store"
        return response

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Customer)
class CustomerAdmin(ReadOnlyAdmin):
    list_display = ["id", "external_id", "name", "merchant", "created_at"]
    search_fields = ["external_id", "name"]
    list_select_related = ["merchant"]
    list_filter = ["merchant"]


@admin.register(Account)
class AccountAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "kind",
        "currency",
        "merchant",
        "customer",
        "total",
        "available",
        "frozen",
        "status",
        "statement",
    ]
    list_filter = ["kind", "currency", "status"]
    search_fields = ["customer__external_id", "merchant__name"]
    list_select_related = ["merchant", "customer"]
    list_display_links = ["id", "kind"]
    total = amount_column("total_minor", "total")
    available = amount_column("available_minor", "available")
    frozen = amount_column("frozen_minor", "frozen")

    @admin.display(description="statement")
    def statement(self, account: Account) -> str:
        # The ledger owns the lines; link to its screen by URL name, not by import.
        url = reverse("admin:ledger_posting_changelist")
        return format_html('<a href="{}?account__id__exact={}">statement</a>', url, account.pk)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    """The delivery log of webhooks to apps; "Resend" queues an event again (same event id)."""

    list_display = [
        "created_at",
        "event_id",
        "event_type",
        "app",
        "attempt",
        "outcome",
        "response_status",
        "duration_ms",
    ]
    list_filter = ["outcome", "event_type"]
    search_fields = ["event_id"]
    list_select_related = ["app"]
    actions = ["resend"]

    def has_view_permission(self, request: HttpRequest, obj: object = None) -> bool:
        # Whoever may see the apps may see what was sent to them.
        return super().has_view_permission(request, obj) or request.user.has_perm("accounts.view_merchantapp")

    def has_resend_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("accounts.change_merchantapp")

    @admin.action(description="Resend the selected events", permissions=["resend"])
    def resend(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        event_ids = sorted(set(queryset.values_list("event_id", flat=True)))
        sent = 0
        for event_id in event_ids:
            try:
                webhooks.webhook_resend(
                    event_id=event_id, actor=request.user.get_username(), now=timezone.now()
                )
            except PaycenterError as exc:
                self.message_user(request, f"{event_id}: {exc.message}", level=messages.ERROR)
            else:
                sent += 1
        if sent:
            self.message_user(request, f"{sent} event(s) queued again.", level=messages.SUCCESS)
