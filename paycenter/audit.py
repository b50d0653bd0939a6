from datetime import datetime

from django.db import models

from paycenter.models import AuditEntry
from paycenter.trace import get_trace_id


def audit_record(
    *, actor: str, action: str, target: models.Model, now: datetime, data: dict | None = None
) -> AuditEntry:
    return AuditEntry.objects.create(
        actor=actor or "system",
        action=action,
        target_type=target._meta.label_lower,
        target_id=str(target.pk),
        data=data or {},
        trace_id=get_trace_id(),
        created_at=now,
    )
