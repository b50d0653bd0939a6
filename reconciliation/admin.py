"""Reconciliation for finance: batches with their summaries, lines, discrepancies with
filters and search by any of the three identifiers, and the statement upload (a preview
with the per-row errors, then confirm). Rows are read-only: only the services write."""

import secrets
import tempfile
from datetime import date
from pathlib import Path

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from import_export.admin import ExportActionMixin

from channels.models import MerchantChannel
from paycenter.adminutils import ReadOnlyAdmin, amount_column
from paycenter.errors import PaycenterError
from paycenter.money import format_minor
from reconciliation.choices import StatementFormat
from reconciliation.errors import StatementInvalid
from reconciliation.models import Discrepancy, ReconBatch, StatementLine
from reconciliation.services import batch_fees_post, batch_match, statement_import
from reconciliation.services.imports import statement_check

IMPORT_PERMISSION = "reconciliation.import_statement"
# Uploads wait here between the preview and the confirm.
UPLOADS = Path(tempfile.gettempdir()) / "paycenter-statements"


class StatementUploadForm(forms.Form):
    merchant_channel = forms.ModelChoiceField(queryset=MerchantChannel.objects.select_related("merchant"))
    format = forms.ChoiceField(choices=StatementFormat.choices)
    statement_date = forms.DateField(help_text="YYYY-MM-DD")
    file = forms.FileField()


def _pretty_summary(batch: ReconBatch) -> str:
    summary = batch.summary or {}
    if not summary:
        return "not matched yet"
    rows = [("lines", summary["lines"]["count"]), ("matched", summary["matched"]["count"])]
    rows += [(kind, value["count"]) for kind, value in summary["classes"].items()]
    return format_html(
        "<table>{}</table><p>lines {} · ours {} · statement's own totals {}</p>",
        format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", rows),
        summary["lines"],
        summary["ours"],
        summary["statement"],
    )


@admin.register(ReconBatch)
class ReconBatchAdmin(ReadOnlyAdmin):
    list_display = [
        "statement_date",
        "merchant_channel",
        "format",
        "state",
        "lines",
        "matched",
        "discrepancies",
    ]
    list_filter = ["state", "format", "merchant_channel__channel", "statement_date"]
    date_hierarchy = "statement_date"
    readonly_fields = ["summary_table", "import_errors", "statement_totals"]
    exclude = ["summary"]
    actions = ["match_again", "post_fees"]
    change_list_template = "admin/reconciliation/reconbatch/change_list.html"

    @admin.display(description="lines")
    def lines(self, batch: ReconBatch) -> int:
        return (batch.summary or {}).get("lines", {}).get("count", 0)

    @admin.display(description="matched")
    def matched(self, batch: ReconBatch) -> int:
        return (batch.summary or {}).get("matched", {}).get("count", 0)

    @admin.display(description="discrepancies")
    def discrepancies(self, batch: ReconBatch) -> int:
        return (batch.summary or {}).get("discrepancies", 0)

    @admin.display(description="summary")
    def summary_table(self, batch: ReconBatch) -> str:
        return _pretty_summary(batch)

    @admin.action(description="Match the selected days again", permissions=["import"])
    def match_again(self, request: HttpRequest, queryset) -> None:
        for batch in queryset:
            try:
                batch_match(batch_id=batch.pk, now=timezone.now())
            except PaycenterError as error:
                self.message_user(request, f"{batch}: {error.message}", messages.ERROR)
        self.message_user(request, "Matched again.", messages.SUCCESS)

    @admin.action(description="Post the channel fees of matched lines", permissions=["import"])
    def post_fees(self, request: HttpRequest, queryset) -> None:
        posted = 0
        for batch in queryset:
            try:
                posted += batch_fees_post(batch_id=batch.pk, now=timezone.now())
            except PaycenterError as error:
                self.message_user(request, f"{batch}: {error.message}", messages.ERROR)
        self.message_user(request, f"Fees of {posted} line(s) posted.", messages.SUCCESS)

    def has_import_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(IMPORT_PERMISSION)

    def get_urls(self) -> list:
        upload = path("upload/", self.admin_site.admin_view(self.upload_view), name="reconciliation_upload")
        return [upload, *super().get_urls()]

    def upload_view(self, request: HttpRequest) -> HttpResponse:
        """Upload → preview (nothing written: the rows that read, the rows that do not and
        why) → confirm (the readable rows stored, the day matched). Outside any admin
        transaction: the import commits chunk by chunk."""
        if not self.has_import_permission(request):
            raise PermissionDenied
        context = {**self.admin_site.each_context(request), "title": "Import a channel statement"}
        if request.method == "POST" and request.POST.get("token"):
            return self._confirm(request)
        form = StatementUploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            UPLOADS.mkdir(mode=0o700, exist_ok=True)
            token = secrets.token_hex(16)
            stored = UPLOADS / token
            with stored.open("wb") as out:
                for chunk in form.cleaned_data["file"].chunks():
                    out.write(chunk)
            try:
                rows, errors, totals = statement_check(format=form.cleaned_data["format"], file=stored)
            except StatementInvalid as error:
                stored.unlink(missing_ok=True)
                form.add_error("file", error.message)
            else:
                context.update(
                    preview=True, token=token, rows=rows, errors=errors, totals=totals,
                    error_count=totals.get("error_count", len(errors)),
                    merchant_channel=form.cleaned_data["merchant_channel"],
                    format=form.cleaned_data["format"],
                    statement_date=form.cleaned_data["statement_date"].isoformat(),
                )  # fmt: skip
        context["form"] = form
        return render(request, "admin/reconciliation/upload.html", context)

    def _confirm(self, request: HttpRequest) -> HttpResponse:
        token = request.POST["token"]
        stored = UPLOADS / token
        if not (len(token) == 32 and token.isalnum() and stored.exists()):
            self.message_user(request, "That upload is gone: upload the file again.", messages.ERROR)
            return HttpResponseRedirect(reverse("admin:reconciliation_upload"))
        try:
            batch = statement_import(
                merchant_channel_id=int(request.POST["merchant_channel"]),
                format=request.POST["format"],
                day=date.fromisoformat(request.POST["statement_date"]),
                file=stored,
                now=timezone.now(),
                skip_invalid_rows=True,
            )
            batch = batch_match(batch_id=batch.pk, now=timezone.now())
        except PaycenterError as error:
            self.message_user(request, error.message, messages.ERROR)
            return HttpResponseRedirect(reverse("admin:reconciliation_upload"))
        finally:
            stored.unlink(missing_ok=True)
        self.message_user(request, f"Imported and matched: {batch.state}.", messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:reconciliation_reconbatch_change", args=[batch.pk]))


@admin.register(StatementLine)
class StatementLineAdmin(ReadOnlyAdmin):
    list_display = [
        "channel_serial",
        "serial",
        "out_trade_no",
        "line_type",
        "amount",
        "fee",
        "status",
        "batch",
    ]
    list_filter = ["line_type", "channel", "batch__statement_date"]
    search_fields = ["=channel_serial", "=serial", "=out_trade_no"]
    list_select_related = ["batch__merchant_channel"]
    raw_id_fields = ["batch", "transaction"]
    amount = amount_column("amount_minor", "amount")
    fee = amount_column("fee_minor", "fee")


@admin.register(Discrepancy)
class DiscrepancyAdmin(ExportActionMixin, ReadOnlyAdmin):
    list_display = [
        "kind",
        "state",
        "channel_serial",
        "serial",
        "out_trade_no",
        "channel_side",
        "our_side",
        "batch",
        "created_at",
    ]
    list_filter = ["kind", "state", "batch__merchant_channel__channel", "batch__statement_date"]
    search_fields = ["=channel_serial", "=serial", "=out_trade_no"]
    list_select_related = ["batch__merchant_channel"]
    raw_id_fields = ["batch", "line", "transaction"]

    @admin.display(description="channel says")
    def channel_side(self, d: Discrepancy) -> str:
        return _side(d.channel_amount_minor, d.channel_currency, d.channel_status, d.channel_fee_minor)

    @admin.display(description="we have")
    def our_side(self, d: Discrepancy) -> str:
        return _side(d.our_amount_minor, d.our_currency, d.our_status, d.expected_fee_minor)


def _side(amount_minor: int | None, currency: str, status: str, fee_minor: int | None) -> str:
    if amount_minor is None and not status:
        return "—"
    money = (
        f"{format_minor(amount_minor, currency)} {currency}" if amount_minor is not None and currency else ""
    )
    fee = f", fee {format_minor(fee_minor, currency)}" if fee_minor is not None and currency else ""
    return f"{money} {status}{fee}".strip()
