from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from paycenter.adminutils import ReadOnlyAdmin
from paycenter.models import AuditEntry, IdempotencyRecord, OutboxMessage
from paycenter.outbox import outbox_dispatch


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "actor", "action", "target_type", "target_id", "trace_id"]
    list_filter = ["action", "target_type"]
    search_fields = ["actor", "target_id", "trace_id"]
    date_hierarchy = "created_at"


@admin.register(OutboxMessage)
class OutboxMessageAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "topic",
        "subscriber",
        "status",
        "attempts",
        "next_attempt_at",
        "created_at",
        "delivered_at",
    ]
    list_filter = ["status", "topic", "subscriber"]
    search_fields = ["trace_id"]
    actions = ["dispatch_now"]

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return request.user.is_superuser  # needed for the action; fields stay read-only

    def get_readonly_fields(self, request: HttpRequest, obj: object = None) -> list[str]:
        return [f.name for f in OutboxMessage._meta.fields]

    @admin.action(description="Dispatch the selected pending messages now")
    def dispatch_now(self, request: HttpRequest, queryset: QuerySet) -> None:
        results = [
            outbox_dispatch(message_id=pk, now=timezone.now()) for pk in queryset.values_list("pk", flat=True)
        ]
        self.message_user(
            request, f"{results.count('delivered')} delivered of {len(results)}.", messages.INFO
        )


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(ReadOnlyAdmin):
    list_display = ["app_id", "key", "status", "response_status", "created_at"]
    list_filter = ["status"]
    search_fields = ["app_id", "key"]
