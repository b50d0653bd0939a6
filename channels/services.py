"""The gateway's use cases: activating a merchant's channel, choosing a channel for a
payment (the request parser and routing, D2/D6), and taking in notifications (D3/D4)."""

import json
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import Q

from channels import registry
from channels.base import ChannelEvent, ChannelPlugin, VerificationFailed
from channels.choices import MerchantChannelStatus, NotificationOutcome
from channels.errors import ChannelUnavailable
from channels.gateway import redact
from channels.models import ChannelNotification, MerchantChannel
from paycenter.audit import audit_record
from paycenter.errors import InvalidRequest, NotFound
from paycenter.trace import get_trace_id

MAX_NOTIFICATION_BYTES = 64 * 1024


@dataclass(frozen=True)
class Route:
    plugin: ChannelPlugin
    mc: MerchantChannel


def merchant_channel_activate(
    *,
    merchant_id: int,
    channel: str,
    actor: str,
    now: datetime,
    params: dict | None = None,
    secrets: dict | None = None,
) -> MerchantChannel:
    """Set the merchant up with the platform (keys, ids) and open the channel for payments.
    `params` and `secrets`: what the operator gave, as the plugin's `parameters` declare
    them (channels.parameters checks them); the secrets are kept encrypted, and a stored
    secret not given again is kept. The platform is called outside any transaction and
    with no row locked: callers (admin buttons included) must not wrap this in one."""
    plugin = registry.plugin_for(channel)
    mc, _ = MerchantChannel.objects.get_or_create(
        merchant_id=merchant_id, channel=channel, defaults={"params": params or {}, "created_at": now}
    )
    if mc.status == MerchantChannelStatus.ACTIVE:
        return mc
    if params is not None:
        mc.params = params
    # A secret not given again is kept (the form's "leave empty to keep").
    given = {**json.loads(mc.secrets or "{}"), **(secrets or {})}
    if given:
        mc.secrets = json.dumps(given)
    new_params, new_secrets = plugin.activate(mc=mc)  # outside any transaction: it may call the platform
    with transaction.atomic():
        mc = MerchantChannel.objects.select_for_update().get(pk=mc.pk)
        mc.params = new_params
        if new_secrets or secrets:
            stored = json.loads(mc.secrets or "{}")
            mc.secrets = json.dumps({**stored, **(secrets or {}), **(new_secrets or {})})
        mc.activate()
        mc.save()
        audit_record(actor=actor, action="channel.activate", target=mc, now=now, data={"channel": channel})
    return mc


@transaction.atomic
def merchant_channel_add(
    *,
    merchant_id: int,
    channel: str,
    params: dict,
    priority: int,
    min_amount_minor: int,
    max_amount_minor: int | None,
    actor: str,
    now: datetime,
    fee_rate_bps: int = 0,
) -> MerchantChannel:
    """A pending channel for the merchant; `merchant_channel_activate` opens it."""
    registry.plugin_for(channel)
    _limits_check(min_amount_minor=min_amount_minor, max_amount_minor=max_amount_minor)
    _fee_check(fee_rate_bps)
    if MerchantChannel.objects.filter(merchant_id=merchant_id, channel=channel).exists():
        raise InvalidRequest(f"The merchant already has channel {channel!r}.", field="channel")
    mc = MerchantChannel.objects.create(
        merchant_id=merchant_id,
        channel=channel,
        params=params,
        priority=priority,
        min_amount_minor=min_amount_minor,
        max_amount_minor=max_amount_minor,
        fee_rate_bps=fee_rate_bps,
        created_at=now,
    )
    audit_record(
        actor=actor,
        action="channel.add",
        target=mc,
        now=now,
        data={"channel": channel, "priority": priority, "min": min_amount_minor, "max": max_amount_minor},
    )
    return mc


@transaction.atomic
def merchant_channel_update(
    *,
    mc_id: int,
    priority: int,
    min_amount_minor: int,
    max_amount_minor: int | None,
    actor: str,
    now: datetime,
    fee_rate_bps: int | None = None,
) -> MerchantChannel:
    """Routing settings (priority, the amount range) and the contracted fee rate that
    reconciliation checks the channel's fees against; audited when anything changes."""
    _limits_check(min_amount_minor=min_amount_minor, max_amount_minor=max_amount_minor)
    mc = MerchantChannel.objects.select_for_update().get(pk=mc_id)
    if fee_rate_bps is None:
        fee_rate_bps = mc.fee_rate_bps
    _fee_check(fee_rate_bps)
    changes = {}
    for field, value in (
        ("priority", priority),
        ("min_amount_minor", min_amount_minor),
        ("max_amount_minor", max_amount_minor),
        ("fee_rate_bps", fee_rate_bps),
    ):
        if getattr(mc, field) != value:
            changes[field] = {"from": getattr(mc, field), "to": value}
            setattr(mc, field, value)
    if changes:
        mc.save(update_fields=list(changes))
        audit_record(actor=actor, action="channel.update", target=mc, now=now, data=changes)
    return mc


def _fee_check(fee_rate_bps: int) -> None:
    if not 0 <= fee_rate_bps <= 10_000:
        raise InvalidRequest("A fee rate is 0 to 10000 basis points.", field="fee_rate_bps")


def _limits_check(*, min_amount_minor: int, max_amount_minor: int | None) -> None:
    if min_amount_minor < 1:
        raise InvalidRequest("The smallest amount is at least one minor unit.", field="min_amount_minor")
    if max_amount_minor is not None and max_amount_minor < min_amount_minor:
        raise InvalidRequest("The largest amount is below the smallest.", field="max_amount_minor")


@transaction.atomic
def merchant_channel_disable(*, mc_id: int, actor: str, now: datetime) -> MerchantChannel:
    mc = MerchantChannel.objects.select_for_update().get(pk=mc_id)
    mc.disable()
    mc.save()
    audit_record(actor=actor, action="channel.disable", target=mc, now=now)
    return mc


def route(
    *, merchant_id: int, channel: str | None, method: str | None, amount_minor: int, now: datetime
) -> list[Route]:
    """The channels to try, best first: the one asked for, or by the merchant's rules —
    active, supports the method, amount within range, healthy — in priority order."""
    candidates = MerchantChannel.objects.filter(
        merchant_id=merchant_id, status=MerchantChannelStatus.ACTIVE, min_amount_minor__lte=amount_minor
    ).filter(Q(max_amount_minor__isnull=True) | Q(max_amount_minor__gte=amount_minor))
    if channel:
        candidates = candidates.filter(channel=channel)
    else:
        candidates = candidates.exclude(channel="balance").filter(
            Q(unhealthy_until__isnull=True) | Q(unhealthy_until__lte=now)
        )
    routes = []
    for mc in candidates.order_by("priority", "id"):
        plugin = registry.plugin_for(mc.channel)
        if method is None or method in plugin.methods:
            routes.append(Route(plugin=plugin, mc=mc))
    if not routes:
        what = f"channel {channel!r}" if channel else "channel for this payment"
        raise ChannelUnavailable(f"No active {what} for this merchant.", field="channel" if channel else None)
    return routes


def merchant_channel_get(*, mc_id: int) -> tuple[ChannelPlugin, MerchantChannel]:
    mc = MerchantChannel.objects.filter(pk=mc_id).first()
    if mc is None:
        raise NotFound("No such merchant channel.")
    return registry.plugin_for(mc.channel), mc


def notification_receive(
    *, channel: str, mc_id: int, headers: dict, body: bytes, now: datetime
) -> tuple[ChannelNotification, ChannelEvent | None]:
    """Store the notification as received (its own commit), then verify it. Returns the
    row and the verified event, or None when it did not verify."""
    mc = MerchantChannel.objects.filter(pk=mc_id, channel=channel).first()
    row = ChannelNotification.objects.create(
        channel=channel[:32],
        merchant_channel=mc,
        headers=redact(
            {
                k: v
                for k, v in headers.items()
                if k.lower().startswith(("x-", "content-", "user-", "wechatpay-"))
            }
        ),
        body=body[:MAX_NOTIFICATION_BYTES].decode("utf-8", errors="replace"),
        trace_id=get_trace_id(),
        received_at=now,
    )
    if mc is None:
        notification_mark(
            notification=row,
            outcome=NotificationOutcome.FAILED_VERIFICATION,
            detail="no such merchant channel",
            now=now,
        )
        return row, None
    if len(body) > MAX_NOTIFICATION_BYTES:
        notification_mark(
            notification=row, outcome=NotificationOutcome.MALFORMED, detail="body too large", now=now
        )
        return row, None
    try:
        event = registry.plugin_for(channel).parse_notification(mc=mc, headers=headers, body=body)
    except VerificationFailed as exc:
        notification_mark(
            notification=row, outcome=NotificationOutcome.FAILED_VERIFICATION, detail=str(exc), now=now
        )
        return row, None
    ChannelNotification.objects.filter(pk=row.pk).update(
        verified=True,
        notify_id=event.notify_id[:64],
        event=event.event[:32],
        reference=event.reference[:64],
        channel_trade_no=event.channel_trade_no[:64],
    )
    return row, event


def notification_mark(
    *, notification: ChannelNotification, outcome: str, now: datetime, detail: str = ""
) -> None:
    ChannelNotification.objects.filter(pk=notification.pk).update(
        outcome=outcome, detail=detail[:2000], handled_at=now
    )
