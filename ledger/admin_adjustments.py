"""Finance's platform-funded credits in the admin: a form to propose one (with a reason),
and Approve / Reject buttons on a pending one. The views call the durable services from
their own requests, outside any admin transaction; the services enforce four eyes above
the configured amount and write the audit rows."""

from decimal import Decimal

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import render
from django.urls import path, reverse
from django.utils import timezone

from ledger.services import adjustments
from paycenter.errors import PaycenterError
from paycenter.money import format_minor, to_minor

ADJUST_PERMISSION = "ledger.post_adjustment"
ADJUSTMENT_ACTIONS = {"approve": adjustments.adjustment_approve, "reject": adjustments.adjustment_reject}


class AdjustmentForm(forms.Form):
    account = forms.IntegerField(min_value=1, label="Account id", help_text="the account to credit")
    amount = forms.DecimalField(min_value=Decimal("0"), max_digits=20, decimal_places=4)
    currency = forms.ChoiceField(choices=[(c, c) for c in settings.CURRENCIES])
    reason = forms.CharField(max_length=255, widget=forms.Textarea(attrs={"rows": 3}))


class AdjustmentAdminMixin:
    """For TransactionAdmin: the adjustment views and buttons."""

    def adjustment_urls(self) -> list:
        return [
            path(
                "adjustment/propose/",
                self.admin_site.admin_view(self.adjustment_propose_view),
                name="ledger_transaction_adjustment_propose",
            ),
            path(
                "<int:pk>/adjustment/<str:action>/",
                self.admin_site.admin_view(self.adjustment_action),
                name="ledger_transaction_adjustment",
            ),
        ]

    def adjustment_propose_view(self, request: HttpRequest) -> HttpResponse:
        if not request.user.has_perm(ADJUST_PERMISSION):
            self.message_user(request, "Only finance staff may propose adjustments.", messages.ERROR)
            return HttpResponseRedirect(reverse("admin:ledger_transaction_changelist"))
        form = AdjustmentForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                txn = adjustments.adjustment_propose(
                    account_id=data["account"],
                    amount_minor=to_minor(data["amount"], data["currency"], field="amount"),
                    currency=data["currency"],
                    reason=data["reason"],
                    actor=request.user.get_username(),
                    now=timezone.now(),
                )
            except PaycenterError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            else:
                amount = f"{format_minor(txn.amount_minor, txn.currency)} {txn.currency}"
                state = "posted" if txn.status == "succeeded" else "waiting for a second finance user"
                self.message_user(request, f"Adjustment {txn.serial} of {amount}: {state}.", messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:ledger_transaction_change", args=[txn.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": "Propose an adjustment (platform-funded credit)",
            "form": form,
            "opts": self.model._meta,
            "second_approval_above": settings.PAYCENTER_ADJUSTMENT_SECOND_APPROVAL_ABOVE,
        }
        return render(request, "admin/ledger/transaction/adjustment_form.html", context)

    def adjustment_action(self, request: HttpRequest, pk: int, action: str) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        back = HttpResponseRedirect(reverse("admin:ledger_transaction_change", args=[pk]))
        if action not in ADJUSTMENT_ACTIONS or not request.user.has_perm(ADJUST_PERMISSION):
            self.message_user(request, "Only finance staff may decide adjustments.", messages.ERROR)
            return back
        try:
            ADJUSTMENT_ACTIONS[action](
                transaction_id=pk, actor=request.user.get_username(), now=timezone.now()
            )
        except PaycenterError as exc:
            self.message_user(request, exc.message, messages.ERROR)
        else:
            self.message_user(request, f"Adjustment: {action} done.", messages.SUCCESS)
        return back

    def adjustment_buttons(self, request: HttpRequest, txn: object) -> list[tuple[str, str]]:
        if txn is None or txn.kind != "adjustment" or txn.status != "pending":
            return []
        if not request.user.has_perm(ADJUST_PERMISSION):
            return []
        return [
            (name, reverse("admin:ledger_transaction_adjustment", args=[txn.pk, name]))
            for name in ADJUSTMENT_ACTIONS
        ]
