"""A channel's statement for one merchant channel and day (ReconBatch), its lines as the
channel wrote them (StatementLine) and what matching found wrong (Discrepancy).

Lines are keyed by (channel, line type, channel serial): a statement imported twice, or
a line that shows up in two files, is stored once. Nothing here touches the ledger.
"""

from django.db import models
from django.db.models import Q
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from channels.models import MerchantChannel
from ledger.models import Transaction
from reconciliation.choices import (
    BatchState,
    DiscrepancyClass,
    DiscrepancyState,
    LineType,
    StatementFormat,
)

B = BatchState


class ReconBatch(ConcurrentTransitionMixin, models.Model):
    """One statement: a merchant channel's day, as the channel reported it."""

    merchant_channel = models.ForeignKey(MerchantChannel, on_delete=models.PROTECT, related_name="+")
    statement_date = models.DateField()
    format = models.CharField(max_length=16, choices=StatementFormat.choices)
    state = FSMField(max_length=24, choices=B.choices, default=B.IMPORTED, protected=True)
    statement_totals = models.JSONField(
        default=dict, blank=True, help_text="the statement's own summary rows, as it states them"
    )
    import_errors = models.JSONField(default=list, blank=True, help_text="rows left out, with why")
    summary = models.JSONField(default=dict, blank=True, help_text="counts and sums per class")
    created_at = models.DateTimeField()
    imported_at = models.DateTimeField(null=True, blank=True)
    matched_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-statement_date", "-id"]
        verbose_name = "reconciliation batch"
        verbose_name_plural = "reconciliation batches"
        permissions = [("import_statement", "Can import channel statements and match them")]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant_channel", "statement_date"], name="recon_batch_unique_day"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.merchant_channel.channel} {self.statement_date} ({self.state})"

    # The services move the state with conditional UPDATEs; these say which moves exist.
    @transition(field=state, source=[B.IMPORTED, B.BALANCED, B.WITH_DISCREPANCIES], target=B.MATCHING)
    def start_matching(self) -> None:
        """Lines are being compared with our transactions."""

    @transition(field=state, source=B.MATCHING, target=B.BALANCED)
    def balance(self) -> None:
        """Every line matched, nothing of ours missing."""

    @transition(field=state, source=B.MATCHING, target=B.WITH_DISCREPANCIES)
    def find_discrepancies(self) -> None:
        """At least one open discrepancy."""

    @transition(field=state, source=[B.BALANCED, B.WITH_DISCREPANCIES], target=B.CLOSED)
    def close(self) -> None:
        """Finance is done with the day; no more imports into it."""


def _minor(**kwargs: object) -> models.BigIntegerField:
    return models.BigIntegerField(**kwargs)


class StatementLine(models.Model):
    """One money movement as the channel reported it. Refunds are positive amounts; the
    line type says which way the money went. `fee_minor` is signed (a refund may return
    part of the fee)."""

    batch = models.ForeignKey(ReconBatch, on_delete=models.PROTECT, related_name="lines")
    channel = models.CharField(max_length=32)
    line_type = models.CharField(max_length=8, choices=LineType.choices)
    channel_serial = models.CharField(max_length=64, help_text="the channel's number for it")
    serial = models.CharField(max_length=64, blank=True, help_text="our serial, as the channel echoes it")
    out_trade_no = models.CharField(max_length=64, blank=True)
    amount_minor = _minor()
    fee_minor = _minor(default=0)
    currency = models.CharField(max_length=3)
    completed_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=24, help_text="normalized: succeeded unless the channel says not")
    raw = models.JSONField(default=dict, blank=True)
    row_number = models.PositiveIntegerField(help_text="where it was in the file")
    # Set by matching: which of our transactions it is.
    transaction = models.ForeignKey(
        Transaction, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # Set once its fee is in the journal (reconciliation.services.fees): never posted twice.
    fee_posting = models.ForeignKey(
        Transaction, on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_index=False
    )

    class Meta:
        ordering = ["batch", "row_number"]
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "line_type", "channel_serial"], name="statement_line_unique_serial"
            ),
            models.CheckConstraint(
                condition=Q(amount_minor__gte=0), name="statement_line_amount_not_negative"
            ),
        ]
        indexes = [
            models.Index(fields=["serial"], name="statement_line_serial_idx"),
            models.Index(fields=["out_trade_no"], name="statement_line_order_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.line_type} {self.channel_serial}"


class Discrepancy(models.Model):
    """A difference matching found, with both sides' values. Matching only records it;
    what to do about it is finance's decision (resolution comes with its own service)."""

    batch = models.ForeignKey(ReconBatch, on_delete=models.PROTECT, related_name="discrepancies")
    kind = models.CharField("class", max_length=24, choices=DiscrepancyClass.choices)
    state = FSMField(max_length=16, choices=DiscrepancyState.choices, default=DiscrepancyState.OPEN)
    line = models.ForeignKey(StatementLine, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    transaction = models.ForeignKey(
        Transaction, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # The identifiers, copied so the list can be searched without joins.
    channel_serial = models.CharField(max_length=64, blank=True)
    serial = models.CharField(max_length=64, blank=True)
    out_trade_no = models.CharField(max_length=64, blank=True)
    channel_amount_minor = _minor(null=True, blank=True)
    our_amount_minor = _minor(null=True, blank=True)
    channel_currency = models.CharField(max_length=3, blank=True)
    our_currency = models.CharField(max_length=3, blank=True)
    channel_status = models.CharField(max_length=24, blank=True)
    our_status = models.CharField(max_length=24, blank=True)
    channel_fee_minor = _minor(null=True, blank=True)
    expected_fee_minor = _minor(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "discrepancies"
        constraints = [
            # Matching again finds the same differences: one row each.
            models.UniqueConstraint(
                fields=["batch", "kind", "line"],
                condition=Q(line__isnull=False),
                name="discrepancy_unique_line",
            ),
            models.UniqueConstraint(
                fields=["batch", "kind", "transaction"],
                condition=Q(line__isnull=True),
                name="discrepancy_unique_transaction",
            ),
            models.CheckConstraint(
                condition=Q(line__isnull=False) | Q(transaction__isnull=False), name="discrepancy_has_a_side"
            ),
            models.CheckConstraint(
                condition=(Q(channel_amount_minor__isnull=True) | Q(channel_amount_minor__gte=0))
                & (Q(our_amount_minor__isnull=True) | Q(our_amount_minor__gte=0)),
                name="discrepancy_amounts_not_negative",
            ),
        ]
        indexes = [
            models.Index(fields=["kind", "state"], name="discrepancy_kind_state_idx"),
            models.Index(fields=["channel_serial"], name="discrepancy_chan_serial_idx"),
            models.Index(fields=["serial"], name="discrepancy_serial_idx"),
            models.Index(fields=["out_trade_no"], name="discrepancy_order_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.channel_serial or self.serial}"
