"""The demo merchant pays by balance and through the sandbox platform (`make run` starts it)."""

import time

from django.conf import settings
from django.utils import timezone

from channels.base import ChannelError, ChannelUnreachable
from channels.services import merchant_channel_activate
from paycenter.demo import register

SANDBOX_WAIT_SECONDS = 30


@register(order=15, name="channels")
def seed(context: dict) -> None:
    merchant_id = context["merchant_id"]
    merchant_channel_activate(
        merchant_id=merchant_id, channel="balance", actor="seed_demo", now=timezone.now()
    )
    deadline = time.monotonic() + SANDBOX_WAIT_SECONDS
    while True:
        try:
            mc = merchant_channel_activate(
                merchant_id=merchant_id, channel="sandbox", actor="seed_demo", now=timezone.now()
            )
            break
        except (ChannelUnreachable, ChannelError) as exc:
            if time.monotonic() > deadline:
                context.setdefault("notes", []).append(
                    f"sandbox channel not activated ({exc}); is it running?"
                )
                return
            time.sleep(1)  # `make run` starts the sandbox beside us
    context["sandbox_channel"] = mc
    notes = context.setdefault("notes", [])
    notes.append(f"channels: balance, sandbox (merchant channel {mc.pk} at {mc.params['base_url']})")
    if mc.params.get("base_url") != settings.SANDBOX_CHANNEL_URL:
        notes.append(
            f"note: the sandbox channel was activated against {mc.params.get('base_url')}, not "
            f"{settings.SANDBOX_CHANNEL_URL}; delete db.sqlite3 and var/ to seed afresh"
        )
