from django.db import models
from django.db.models import Q


class IdempotencyRecord(models.Model):
    """One POST per (app, Idempotency-Key), kept 24 h: the unique row is the lock."""

    class Status(models.TextChoices):
        IN_PROGRESS = "in_progress"
        COMPLETED = "completed"

    app_id = models.CharField(max_length=64)
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64, help_text="sha256 of method, path and body")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.IN_PROGRESS)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.TextField(blank=True, help_text="the rendered JSON, replayed byte for byte")
    created_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["app_id", "key"], name="idempotency_unique_app_key"),
            models.CheckConstraint(
                condition=Q(status="in_progress") | Q(response_status__isnull=False),
                name="idempotency_completed_has_response",
            ),
        ]
        indexes = [models.Index(fields=["created_at"], name="idempotency_created_idx")]

    def __str__(self) -> str:
        return f"{self.app_id}:{self.key}"


class OutboxMessage(models.Model):
    """Work that must follow a commit, written in the same transaction (at-least-once)."""

    class Status(models.TextChoices):
        PENDING = "pending"
        DELIVERED = "delivered"
        FAILED = "failed"

    topic = models.CharField(max_length=100)
    subscriber = models.CharField(max_length=100, help_text="the handler this row is for")
    payload = models.JSONField()
    trace_id = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    locked_until = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField()
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status="pending"),
                name="outbox_pending_due_idx",
            )
        ]

    def __str__(self) -> str:
        return f"{self.topic}→{self.subscriber}#{self.pk} ({self.status})"


class AuditEntry(models.Model):
    """Who changed what, written by the service in the same transaction as the change."""

    actor = models.CharField(max_length=150, help_text="user name, app id or 'system'")
    action = models.CharField(max_length=100)
    target_type = models.CharField(max_length=100)
    target_id = models.CharField(max_length=64)
    data = models.JSONField(default=dict, blank=True)
    trace_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "audit entries"
        indexes = [models.Index(fields=["target_type", "target_id"], name="audit_target_idx")]

    def __str__(self) -> str:
        return f"{self.actor} {self.action} {self.target_type}#{self.target_id}"
