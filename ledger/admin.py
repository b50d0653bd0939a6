"""The ledger in the admin: read-only records, statements with CSV export, and the
finance buttons for withdrawals. Nothing here writes a ledger row except through
ledger.services."""

from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from import_export import fields, resources
from import_export.admin import ExportActionMixin

from accounts.webhooks import WEBHOOK_SUBSCRIBER, webhook_resend
from channels.models import ChannelNotification, ChannelRequestLog
from ledger.admin_adjustments import ADJUST_PERMISSION, AdjustmentAdminMixin
from ledger.choices import TransactionKind, TransactionStatus
from ledger.models import Hold, JournalEntry, Posting, Transaction
from ledger.services import payment_query, refunds, withdrawals
from paycenter.adminutils import ReadOnlyAdmin, amount_column
from paycenter.errors import PaycenterError
from paycenter.models import OutboxMessage
from paycenter.money import format_minor

WITHDRAWAL_ACTIONS = {
    "approve": (withdrawals.withdrawal_approve, {TransactionStatus.PENDING}),
    "pay_out": (withdrawals.withdrawal_pay_out, {TransactionStatus.APPROVED}),
    "reject": (withdrawals.withdrawal_reject, {TransactionStatus.PENDING, TransactionStatus.APPROVED}),
}
APPROVE_PERMISSION = "ledger.approve_withdrawal"


def _postings_table(postings: list[Posting]) -> str:
    rows = format_html_join(
        "",
        "<tr><td>{}</td><td>#{} {}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        (
            (
                p.entry.reason,
                p.account_id,
                p.account.kind,
                p.direction,
                format_minor(p.amount_minor, p.currency),
                "" if p.balance_after_minor is None else format_minor(p.balance_after_minor, p.currency),
                "applied" if p.applied else "buffered",
            )
            for p in postings
        ),
    )
    columns = ("entry", "account", "direction", "amount", "balance after", "")
    header = format_html_join("", "<th>{}</th>", ((c,) for c in columns))
    return format_html("<table><tr>{}</tr>{}</table>", header, rows) if postings else "—"


@admin.register(Transaction)
class TransactionAdmin(AdjustmentAdminMixin, ReadOnlyAdmin):
    list_display = [
        "serial",
        "kind",
        "status",
        "merchant",
        "amount",
        "currency",
        "out_trade_no",
        "channel",
        "channel_trade_no",
        "review_reason",
        "created_at",
    ]
    list_filter = ["kind", "status", "channel", "channel_state", "currency"]
    search_fields = ["serial", "out_trade_no", "channel_trade_no"]
    list_select_related = ["merchant"]
    date_hierarchy = "created_at"
    change_form_template = "admin/ledger/transaction/change_form.html"
    change_list_template = "admin/ledger/transaction/change_list.html"
    actions = ["requery_channel", "close_payment", "resend_webhooks"]
    readonly_fields = ["amount", "refunded", "postings", "channel_log", "notifications"]
    fieldsets = [
        (None, {"fields": ["serial", "kind", "status", "amount", "refunded", "currency", "merchant", "app"]}),
        ("Identifiers", {"fields": ["out_trade_no", "channel_trade_no", "idempotency_key"]}),
        ("Money movements", {"fields": ["postings"]}),
        ("Accounts", {"fields": ["payer_account", "payee_account", "refund_of", "memo", "destination"]}),
        (
            "Channel",
            {
                "fields": [
                    "channel",
                    "merchant_channel",
                    "method",
                    "channel_state",
                    "action",
                    "expires_at",
                    "next_query_at",
                    "query_attempts",
                    "review_reason",
                    "channel_log",
                    "notifications",
                ]
            },
        ),
        ("More", {"fields": ["metadata", "paid_minor", "captured_minor", "created_at", "finished_at"]}),
    ]
    exclude = ["amount_minor", "refunded_minor"]
    amount = amount_column("amount_minor", "amount")
    refunded = amount_column("refunded_minor", "refunded")

    @admin.display(description="postings")
    def postings(self, txn: Transaction) -> str:
        lines = (
            Posting.objects.filter(entry__transaction=txn).select_related("entry", "account").order_by("id")
        )
        return _postings_table(list(lines))

    @admin.display(description="channel calls")
    def channel_log(self, txn: Transaction) -> str:
        calls = ChannelRequestLog.objects.filter(reference=txn.serial).order_by("id")
        rows = (
            (c.created_at.isoformat(timespec="seconds"), c.operation, c.outcome, c.duration_ms, c.error[:80])
            for c in calls
        )
        return format_html_join("", "<div>{} {} → {} ({} ms) {}</div>", rows) or "—"

    @admin.display(description="notifications")
    def notifications(self, txn: Transaction) -> str:
        found = ChannelNotification.objects.filter(reference=txn.serial).order_by("id")
        rows = (
            (n.received_at.isoformat(timespec="seconds"), n.event, n.outcome, n.detail[:80]) for n in found
        )
        return format_html_join("", "<div>{} {} → {} {}</div>", rows) or "—"

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_maintain_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("ledger.maintain_payment")

    @admin.action(description="Re-query the channel", permissions=["maintain"])
    def requery_channel(self, request: HttpRequest, queryset: object) -> None:
        now = timezone.now()
        kinds = [TransactionKind.PAYMENT, TransactionKind.RECHARGE, TransactionKind.REFUND]
        for txn in queryset.filter(kind__in=kinds):
            if txn.kind == TransactionKind.REFUND:
                refunds.refund_query(refund_id=txn.pk, now=now)
            else:
                payment_query.payment_query(txn_id=txn.pk, now=now)
        self.message_user(request, "Queried; see each transaction's state and channel log.", messages.INFO)

    @admin.action(description="Close (pending payments and recharges only)", permissions=["maintain"])
    def close_payment(self, request: HttpRequest, queryset: object) -> None:
        for txn in queryset.filter(kind__in=[TransactionKind.PAYMENT, TransactionKind.RECHARGE]):
            try:
                payment_query.payment_close(
                    txn_id=txn.pk, now=timezone.now(), reason=f"closed by {request.user}"
                )
            except PaycenterError as exc:
                self.message_user(request, f"{txn.serial}: {exc.message}", messages.ERROR)

    @admin.action(description="Resend the latest webhook of each", permissions=["maintain"])
    def resend_webhooks(self, request: HttpRequest, queryset: object) -> None:
        sent = 0
        for txn in queryset:
            message = (
                OutboxMessage.objects.filter(subscriber=WEBHOOK_SUBSCRIBER, payload__data__id=txn.serial)
                .order_by("-id")
                .first()
            )
            if message is not None:
                webhook_resend(
                    event_id=message.payload["id"], actor=request.user.get_username(), now=timezone.now()
                )
                sent += 1
        self.message_user(request, f"{sent} webhook(s) queued again.", messages.INFO)

    def get_urls(self) -> list:
        return [
            path(
                "<int:pk>/withdrawal/<str:action>/",
                self.admin_site.admin_view(self.withdrawal_action),
                name="ledger_transaction_withdrawal",
            ),
            *self.adjustment_urls(),
            *super().get_urls(),
        ]

    def withdrawal_action(self, request: HttpRequest, pk: int, action: str) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        back = HttpResponseRedirect(reverse("admin:ledger_transaction_change", args=[pk]))
        if action not in WITHDRAWAL_ACTIONS or not request.user.has_perm(APPROVE_PERMISSION):
            self.message_user(request, "Only finance staff may decide withdrawals.", messages.ERROR)
            return back
        service, _ = WITHDRAWAL_ACTIONS[action]
        try:
            service(transaction_id=pk, actor=request.user.get_username(), now=timezone.now())
        except PaycenterError as exc:
            self.message_user(request, exc.message, messages.ERROR)
        else:
            self.message_user(request, f"Withdrawal: {action.replace('_', ' ')} done.", messages.SUCCESS)
        return back

    def render_change_form(
        self, request: HttpRequest, context: dict, *args: object, **kwargs: object
    ) -> HttpResponse:
        txn = context.get("original")
        allowed = request.user.has_perm(APPROVE_PERMISSION)
        context["money_actions"] = self.adjustment_buttons(request, txn) + [
            (name, reverse("admin:ledger_transaction_withdrawal", args=[txn.pk, name]))
            for name, (_, sources) in WITHDRAWAL_ACTIONS.items()
            if allowed
            and txn is not None
            and txn.kind == TransactionKind.WITHDRAWAL
            and txn.status in sources
        ]
        return super().render_change_form(request, context, *args, **kwargs)

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        extra = {**(extra_context or {}), "can_adjust": request.user.has_perm(ADJUST_PERMISSION)}
        return super().changelist_view(request, extra_context=extra)


class PostingResource(resources.ModelResource):
    """The statement as finance exports it: amounts as decimal strings, never floats."""

    amount = fields.Field(column_name="amount")
    balance_after = fields.Field(column_name="balance_after")
    reason = fields.Field(attribute="entry__reason", column_name="reason")
    transaction_id = fields.Field(attribute="entry__transaction__serial", column_name="transaction_id")

    class Meta:
        model = Posting
        fields = [
            "id",
            "created_at",
            "account",
            "currency",
            "direction",
            "amount",
            "balance_after",
            "seq",
            "reason",
            "transaction_id",
        ]

    def dehydrate_amount(self, posting: Posting) -> str:
        return format_minor(posting.amount_minor, posting.currency)

    def dehydrate_balance_after(self, posting: Posting) -> str:
        if posting.balance_after_minor is None:
            return ""
        return format_minor(posting.balance_after_minor, posting.currency)


@admin.register(Posting)
class PostingAdmin(ExportActionMixin, ReadOnlyAdmin):
    """Statements: filter by account (the account page links here) and export as CSV."""

    resource_classes = [PostingResource]
    list_display = [
        "id",
        "created_at",
        "account",
        "direction",
        "amount",
        "balance_after",
        "seq",
        "reason",
        "txn",
    ]
    list_filter = ["direction", "applied", "currency", "account__kind"]
    search_fields = ["entry__transaction__serial", "=account__id"]
    list_select_related = ["entry__transaction", "account"]
    date_hierarchy = "created_at"
    ordering = ["account", "-seq", "-id"]
    amount = amount_column("amount_minor", "amount")
    balance_after = amount_column("balance_after_minor", "balance after")

    @admin.display(description="reason")
    def reason(self, posting: Posting) -> str:
        return posting.entry.reason

    @admin.display(description="transaction")
    def txn(self, posting: Posting) -> str:
        url = reverse("admin:ledger_transaction_change", args=[posting.entry.transaction_id])
        return format_html('<a href="{}">{}</a>', url, posting.entry.transaction.serial)

    def has_export_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("ledger.view_posting")


class PostingInline(admin.TabularInline):
    model = Posting
    fields = ["account", "direction", "amount_minor", "currency", "applied", "seq", "balance_after_minor"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(JournalEntry)
class JournalEntryAdmin(ReadOnlyAdmin):
    list_display = ["id", "reason", "transaction", "reverses", "created_at"]
    search_fields = ["transaction__serial", "reason"]
    list_select_related = ["transaction"]
    inlines = [PostingInline]


@admin.register(Hold)
class HoldAdmin(ReadOnlyAdmin):
    list_display = ["id", "account", "amount", "confirmed", "currency", "status", "expires_at", "resolved_at"]
    list_filter = ["status", "currency"]
    search_fields = ["key", "transaction__serial"]
    list_select_related = ["account"]
    amount = amount_column("amount_minor", "amount")
    confirmed = amount_column("confirmed_minor", "confirmed")
