"""Routing among several channels (D6) when a payment names none: by method, amount range,
health and priority, with failover past one that is unreachable. Three platforms over real
HTTP — the sandbox and two more plugins speaking its protocol with fewer methods, as a
QR-only and a web-only platform would — plus the balance channel, which is never routed
to unasked."""

import socket

import pytest
from django.utils import timezone

from channels import registry
from channels.choices import Method
from channels.errors import ChannelUnavailable
from channels.models import ChannelRequestLog, MerchantChannel
from channels.plugins.sandbox import SandboxChannel
from channels.services import merchant_channel_activate, route
from tests.payments.conftest import pay  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db(transaction=True)


class QrOnly(SandboxChannel):
    name = "qr"
    methods = frozenset({Method.NATIVE})


class WebOnly(SandboxChannel):
    name = "web"
    methods = frozenset({Method.PAGE, Method.WAP})


def dead_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"  # nothing listens there once the probe closes


@pytest.fixture
def channels(sandbox, merchant, live_server, settings, monkeypatch):
    """sandbox (all methods, priority 30), qr (native, 10), web (page/wap, 20), balance (1)."""
    monkeypatch.setitem(registry._plugins, "qr", QrOnly())
    monkeypatch.setitem(registry._plugins, "web", WebOnly())
    settings.SANDBOX_CHANNEL_URL = sandbox.url
    settings.PAYCENTER_PUBLIC_URL = live_server.url
    made = {}
    for name, priority in [("sandbox", 30), ("qr", 10), ("web", 20), ("balance", 1)]:
        mc = merchant_channel_activate(merchant_id=merchant.pk, channel=name, actor="t", now=timezone.now())
        MerchantChannel.objects.filter(pk=mc.pk).update(priority=priority)
        made[name] = mc
    return made


def routed(merchant, *, method: str | None, amount_minor: int = 5_00, now=None) -> list[str]:
    routes = route(
        merchant_id=merchant.pk,
        channel=None,
        method=method,
        amount_minor=amount_minor,
        now=now or timezone.now(),
    )
    return [r.mc.channel for r in routes]


def test_the_method_picks_the_channels_that_support_it_in_priority_order(merchant, channels):
    assert routed(merchant, method="native") == ["qr", "sandbox"]
    assert routed(merchant, method="wap") == ["web", "sandbox"]
    assert routed(merchant, method="app") == ["sandbox"]
    assert routed(merchant, method=None) == ["qr", "web", "sandbox"]  # never balance unasked
    with pytest.raises(ChannelUnavailable):
        routed(merchant, method="balance")


def test_the_amount_range_and_priority_decide_among_the_rest(merchant, channels):
    MerchantChannel.objects.filter(pk=channels["qr"].pk).update(max_amount_minor=100_00)
    MerchantChannel.objects.filter(pk=channels["sandbox"].pk).update(min_amount_minor=50_00)
    assert routed(merchant, method="native", amount_minor=100_00) == ["qr", "sandbox"]
    assert routed(merchant, method="native", amount_minor=100_01) == ["sandbox"]
    assert routed(merchant, method="native", amount_minor=49_99) == ["qr"]
    MerchantChannel.objects.filter(pk=channels["sandbox"].pk).update(priority=5)
    assert routed(merchant, method="native", amount_minor=60_00) == ["sandbox", "qr"]


def test_an_unhealthy_channel_is_left_out_until_its_time_is_up(merchant, channels):
    now = timezone.now()
    MerchantChannel.objects.filter(pk=channels["qr"].pk).update(
        unhealthy_until=now + timezone.timedelta(seconds=60)
    )
    assert routed(merchant, method="native", now=now) == ["sandbox"]
    assert routed(merchant, method="native", now=now + timezone.timedelta(seconds=61)) == ["qr", "sandbox"]


def test_a_disabled_channel_is_not_routed_to(merchant, channels):
    MerchantChannel.objects.filter(pk=channels["web"].pk).update(status="disabled")
    assert routed(merchant, method="page") == ["sandbox"]


def test_a_payment_fails_over_past_an_unreachable_channel(api, merchant, channels, pay):  # noqa: F811
    assert pay("5.00", method="native").json()["channel"] == "qr"
    assert pay("5.00", method="page").json()["channel"] == "web"

    qr = channels["qr"]
    MerchantChannel.objects.filter(pk=qr.pk).update(params={**qr.params, "base_url": dead_url()})
    body = pay("5.00", method="native").json()
    assert (body["status"], body["channel"]) == ("pending", "sandbox"), body
    assert ChannelRequestLog.objects.filter(merchant_channel=qr, outcome="unreachable").count() == 1

    web = channels["web"]
    MerchantChannel.objects.filter(pk=web.pk).update(params={**web.params, "base_url": dead_url()})
    body = pay("5.00", method="wap").json()
    assert (body["status"], body["channel"]) == ("pending", "sandbox"), body
    tried = (
        ChannelRequestLog.objects.filter(operation="pay")
        .order_by("id")
        .values_list("merchant_channel__channel", "outcome")
    )
    assert list(tried)[-2:] == [("web", "unreachable"), ("sandbox", "ok")]
