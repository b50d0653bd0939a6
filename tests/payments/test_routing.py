"""Routing and failover (D6): rules pick the channel, an unreachable one is skipped for
another, and one that keeps failing is left out for a while."""

import socket

import pytest
from django.utils import timezone

from channels import registry
from channels.models import ChannelRequestLog, MerchantChannel
from channels.plugins.sandbox import SandboxChannel
from channels.services import merchant_channel_activate
from ledger.models import Transaction

pytestmark = pytest.mark.django_db(transaction=True)


class BackupSandbox(SandboxChannel):
    name = "backup"


def dead_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"  # nothing listens there once the probe closes


@pytest.fixture
def two_channels(sandbox, merchant, live_server, settings, monkeypatch):
    monkeypatch.setitem(registry._plugins, "backup", BackupSandbox())
    settings.SANDBOX_CHANNEL_URL = sandbox.url
    settings.PAYCENTER_PUBLIC_URL = live_server.url
    now = timezone.now()
    primary = merchant_channel_activate(merchant_id=merchant.pk, channel="sandbox", actor="t", now=now)
    backup = merchant_channel_activate(merchant_id=merchant.pk, channel="backup", actor="t", now=now)
    MerchantChannel.objects.filter(pk=primary.pk).update(priority=10)
    MerchantChannel.objects.filter(pk=backup.pk).update(priority=20)
    return primary, backup


def test_routing_follows_priority_and_amount_rules(api, two_channels, pay):
    primary, _ = two_channels
    assert pay("5.00", method="page").json()["channel"] == "sandbox"
    MerchantChannel.objects.filter(pk=primary.pk).update(max_amount_minor=10_00)
    assert pay("10.01", method="page").json()["channel"] == "backup"
    assert pay("10.00", method="page").json()["channel"] == "sandbox"


def test_an_unreachable_channel_fails_over_and_is_then_skipped(api, two_channels, pay):
    primary, _ = two_channels
    params = {**primary.params, "base_url": dead_url()}
    MerchantChannel.objects.filter(pk=primary.pk).update(params=params)

    for _ in range(3):
        body = pay("5.00", method="page").json()
        assert (body["status"], body["channel"]) == ("pending", "backup"), body
    assert ChannelRequestLog.objects.filter(merchant_channel=primary, outcome="unreachable").count() == 3
    primary.refresh_from_db()
    assert primary.unhealthy_until and primary.unhealthy_until > timezone.now()

    body = pay("5.00", method="page").json()
    assert body["channel"] == "backup"
    assert ChannelRequestLog.objects.filter(merchant_channel=primary).count() == 3  # skipped, not tried


def test_an_explicit_channel_does_not_fail_over(api, two_channels, pay):
    primary, _ = two_channels
    MerchantChannel.objects.filter(pk=primary.pk).update(params={**primary.params, "base_url": dead_url()})
    body = pay("5.00", channel="sandbox", method="page", out_trade_no="explicit").json()
    assert (body["status"], body["channel"]) == ("failed", "sandbox")
    assert body["failure_reason"] == "channel unreachable"
    assert Transaction.objects.filter(out_trade_no="explicit").count() == 1
