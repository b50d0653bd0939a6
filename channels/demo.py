"""The demo merchant pays by balance and through the sandbox platform (`make run` starts it)."""

import time
from collections.abc import Callable
from typing import TypeVar

import requests
from django.conf import settings
from django.utils import timezone

from channels.base import ChannelError, ChannelUnreachable
from channels.models import MerchantChannel
from channels.services import merchant_channel_activate
from paycenter.demo import register

SANDBOX_WAIT_SECONDS = 30
T = TypeVar("T")


@register(order=15, name="channels")
def seed(context: dict) -> None:
    mc = demo_channels_activate(merchant_id=context["merchant_id"], notes=context.setdefault("notes", []))
    if mc is not None:
        context["sandbox_channel"] = mc


def demo_channels_activate(*, merchant_id: int, notes: list, wait: bool = True) -> MerchantChannel | None:
    """Balance and sandbox for a demo merchant; the sandbox channel, or None when the sandbox
    platform is not there (`wait`: give it SANDBOX_WAIT_SECONDS to start)."""
    merchant_channel_activate(
        merchant_id=merchant_id, channel="balance", actor="seed_demo", now=timezone.now()
    )
    mc = _while_the_sandbox_starts(
        lambda: merchant_channel_activate(
            merchant_id=merchant_id, channel="sandbox", actor="seed_demo", now=timezone.now()
        ),
        failed="sandbox channel not activated",
        notes=notes,
        wait=wait,
    )
    if mc is None:
        return None
    url = settings.SANDBOX_CHANNEL_URL
    if mc.params.get("base_url") != url:
        # Seeded by an earlier `make run` on other ports: follow the sandbox if it is the same
        # platform (same database, so it knows the merchant's key), else say so.
        moved = _while_the_sandbox_starts(
            lambda: _follow(mc, url), failed="sandbox not found", notes=notes, wait=wait
        )
        if moved:
            mc.refresh_from_db()
        else:
            notes.append(
                f"note: the sandbox channel was activated against {mc.params.get('base_url')}, "
                f"another platform than {url}; delete db.sqlite3 and var/ to seed afresh"
            )
    notes.append(
        f"channels of merchant {merchant_id}: balance, sandbox"
        f" (merchant channel {mc.pk} at {mc.params['base_url']})"
    )
    return mc


def _while_the_sandbox_starts(
    action: Callable[[], T], *, failed: str, notes: list, wait: bool = True
) -> T | None:
    """`make run` starts the sandbox beside us: retry for a while before giving up."""
    deadline = time.monotonic() + (SANDBOX_WAIT_SECONDS if wait else 0)
    while True:
        try:
            return action()
        except (ChannelUnreachable, ChannelError, requests.RequestException) as exc:
            if time.monotonic() > deadline:
                notes.append(f"{failed} ({exc}); is it running at {settings.SANDBOX_CHANNEL_URL}?")
                return None
            time.sleep(1)


def _follow(mc: MerchantChannel, url: str) -> bool:
    reply = requests.get(f"{url}/v1/platform-key", timeout=5)
    reply.raise_for_status()
    if reply.json().get("public_key") != mc.params.get("platform_public_key"):
        return False
    # Demo data only: the platform is the one the channel was activated with, on a new port.
    MerchantChannel.objects.filter(pk=mc.pk).update(params={**mc.params, "base_url": url})
    return True


def post_when_up(url: str, body: dict, *, what: str, notes: list, wait_seconds: int = 30) -> dict | None:
    """POST to a fake platform that `make run` starts beside the web server, giving it
    `wait_seconds` to come up; its JSON answer, or None (and a note) when it never does."""
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            reply = requests.post(url, json=body, timeout=5)
            reply.raise_for_status()
            return reply.json()
        except requests.RequestException as exc:
            if time.monotonic() > deadline:
                notes.append(f"{what} not activated ({exc}); is the fake running at {url}?")
                return None
            time.sleep(1)
