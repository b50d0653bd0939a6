"""The channel gateway's records: which merchant uses which channel with what keys, and
every request to a channel and notification from one (D1-D4). Secrets are encrypted at
rest and redacted from every log row."""

from django.db import models
from django.db.models import Q
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from accounts.models import Merchant
from channels.choices import MerchantChannelStatus, NotificationOutcome
from paycenter.crypto import EncryptedTextField

S = MerchantChannelStatus


class MerchantChannel(ConcurrentTransitionMixin, models.Model):
    """A merchant's activation of one channel, with the channel's own parameters."""

    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="channels")
    channel = models.CharField(max_length=32)
    status = FSMField(max_length=16, choices=S.choices, default=S.PENDING, protected=True)
    params = models.JSONField(default=dict, blank=True, help_text="public parameters: ids, URLs, public keys")
    secrets = EncryptedTextField(blank=True, editable=False, help_text="JSON of private keys; never shown")
    priority = models.IntegerField(default=100, help_text="routing: lower goes first")
    min_amount_minor = models.BigIntegerField(default=1)
    max_amount_minor = models.BigIntegerField(null=True, blank=True)
    fee_rate_bps = models.PositiveIntegerField(
        default=0, help_text="contracted channel fee, basis points (60 = 0.60 %)"
    )
    consecutive_failures = models.PositiveIntegerField(default=0)
    unhealthy_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["merchant", "priority", "id"]
        constraints = [
            models.UniqueConstraint(fields=["merchant", "channel"], name="merchant_channel_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.channel} for merchant {self.merchant_id} ({self.status})"

    @transition(field=status, source=[S.PENDING, S.DISABLED], target=S.ACTIVE)
    def activate(self) -> None:
        """Payments may use this channel."""

    @transition(field=status, source=[S.PENDING, S.ACTIVE], target=S.DISABLED)
    def disable(self) -> None:
        """No new payments; refunds and queries of old ones still work."""


class ChannelRequestLog(models.Model):
    """One call to a channel: what we sent, what came back, how long it took."""

    merchant_channel = models.ForeignKey(MerchantChannel, on_delete=models.PROTECT, related_name="+")
    operation = models.CharField(max_length=32)
    reference = models.CharField(max_length=64, blank=True, help_text="our serial the call was about")
    request = models.JSONField(default=dict)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response = models.JSONField(default=dict, blank=True)
    outcome = models.CharField(max_length=16, help_text="ok, rejected, timeout, error")
    error = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    trace_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["reference"], name="channel_log_reference_idx")]


class ChannelNotification(models.Model):
    """A notification as received, stored before anything is done with it (D3, D4)."""

    channel = models.CharField(max_length=32)
    merchant_channel = models.ForeignKey(
        MerchantChannel, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    headers = models.JSONField(default=dict)
    body = models.TextField()
    verified = models.BooleanField(default=False)
    notify_id = models.CharField(max_length=64, blank=True)
    event = models.CharField(max_length=32, blank=True)
    reference = models.CharField(max_length=64, blank=True, help_text="our serial it names")
    channel_trade_no = models.CharField(max_length=64, blank=True)
    outcome = models.CharField(
        max_length=24, choices=NotificationOutcome.choices, default=NotificationOutcome.RECEIVED
    )
    detail = models.TextField(blank=True)
    trace_id = models.CharField(max_length=64, blank=True)
    received_at = models.DateTimeField()
    handled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["reference"], name="notification_reference_idx"),
            models.Index(
                fields=["outcome"],
                condition=~Q(outcome__in=["applied", "duplicate"]),
                name="notification_exceptions_idx",
            ),
        ]
