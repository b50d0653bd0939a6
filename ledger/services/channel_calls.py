"""What every use case that talks to a channel shares: which plugin and merchant channel a
transaction went through, where the channel notifies us, and when to ask it again."""

from datetime import datetime, timedelta

from django.conf import settings

from channels import registry
from channels.base import ChannelPlugin
from channels.models import MerchantChannel
from ledger.models import Transaction

QUERY_BACKOFF_SECONDS = (5, 10, 30, 60, 120, 300, 600, 1800, 3600)


def next_query_at(*, attempts: int, now: datetime) -> datetime:
    return now + timedelta(seconds=QUERY_BACKOFF_SECONDS[min(attempts, len(QUERY_BACKOFF_SECONDS) - 1)])


def channel_of(txn: Transaction) -> tuple[ChannelPlugin, MerchantChannel]:
    """The plugin and merchant channel a payment (or its refund, or a recharge) went through."""
    return registry.plugin_for(txn.merchant_channel.channel), txn.merchant_channel


def notify_url(mc_id: int, channel: str) -> str:
    return f"{settings.PAYCENTER_PUBLIC_URL}/notify/{channel}/{mc_id}"


def channel_options(metadata: dict | None, channel: str) -> dict:
    """What an app asks of a channel: `metadata.sandbox` (the behaviour every local fake reads
    the same way, docs/sandbox.md — so a routed payment's behaviour holds whichever channel
    takes it) under what it gives under the channel's own name (e.g. a WeChat payer's
    `openid`), the latter winning."""
    metadata = metadata or {}
    parts = [metadata.get("sandbox"), metadata.get(channel)]
    return {k: v for part in parts if isinstance(part, dict) for k, v in part.items()}
