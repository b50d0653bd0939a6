"""Activating a merchant's channels from a script and from the admin: the same service and
audit, and the platform is never called inside a transaction or under a row lock."""

import json
import threading
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, connections
from django.utils import timezone

from accounts.models import Merchant
from channels import registry
from channels.base import ChannelPlugin
from channels.models import MerchantChannel
from channels.services import merchant_channel_add
from paycenter.models import AuditEntry

pytestmark = pytest.mark.django_db(transaction=True)


def onboard(*args: str) -> dict:
    out = StringIO()
    call_command("onboard_merchant", *args, "--json", stdout=out)
    return json.loads(out.getvalue())


def test_onboard_merchant_activates_the_named_channels(sandbox, settings):
    settings.SANDBOX_CHANNEL_URL = sandbox.url
    credentials = onboard("--name", "Tea House", "--channel", "balance", "--channel", "sandbox")
    channels = credentials["channels"]
    assert set(channels) == {"balance", "sandbox"}
    for name, mc_id in channels.items():
        mc = MerchantChannel.objects.get(pk=mc_id)
        assert (mc.channel, mc.status, mc.merchant_id) == (name, "active", credentials["merchant_id"])
    audited = AuditEntry.objects.filter(action="channel.activate", actor="onboard_merchant")
    assert sorted(audited.values_list("target_id", flat=True)) == sorted(str(pk) for pk in channels.values())


def test_an_unknown_channel_creates_nothing():
    with pytest.raises(CommandError, match="channel_unavailable"):
        onboard("--name", "Typo", "--channel", "alipayy")
    assert not Merchant.objects.exists()


class ProbeChannel(ChannelPlugin):
    """A platform whose registration looks at the caller's database state from inside."""

    name = "probe"
    methods = frozenset({"page"})
    seen: dict = {}

    def activate(self, *, mc: MerchantChannel) -> tuple[dict, dict]:
        self.seen["in_transaction"] = connection.in_atomic_block
        self.seen["row_free"] = _row_lockable_elsewhere(mc.pk)
        return {"registered": True}, {}


def _row_lockable_elsewhere(mc_id: int) -> bool:
    """Can another connection lock the row right now (no one holds it)?"""
    result = {}

    def probe() -> None:
        try:
            with connections["default"].cursor() as cursor:
                cursor.execute("BEGIN")
                cursor.execute(
                    f"SELECT id FROM {MerchantChannel._meta.db_table} WHERE id = %s FOR UPDATE NOWAIT",
                    [mc_id],
                )
                cursor.execute("ROLLBACK")
            result["free"] = True
        except Exception:
            result["free"] = False
        finally:
            connections["default"].close()

    thread = threading.Thread(target=probe)
    thread.start()
    thread.join()
    return result["free"]


@pytest.fixture
def probe_channel():
    plugin = registry.register(ProbeChannel())
    ProbeChannel.seen.clear()
    yield plugin
    registry.unregister(plugin.name)


def test_the_admin_activates_outside_any_transaction(client, onboarded, probe_channel):
    merchant = onboarded[0]
    user = get_user_model().objects.create_superuser(username="ops", email="", password="pw-ops-123")
    client.force_login(user)
    mc = merchant_channel_add(
        merchant_id=merchant.pk,
        channel="probe",
        params={},
        priority=100,
        min_amount_minor=1,
        max_amount_minor=None,
        actor="ops",
        now=timezone.now(),
    )
    page = client.get(f"/admin/channels/merchantchannel/{mc.pk}/change/").content.decode()
    assert f"/admin/channels/merchantchannel/{mc.pk}/transition/activate/" in page

    response = client.post(f"/admin/channels/merchantchannel/{mc.pk}/transition/activate/")

    assert response.status_code == 302
    assert ProbeChannel.seen == {"in_transaction": False, "row_free": True}
    mc.refresh_from_db()
    assert mc.status == "active" and mc.params == {"registered": True}
    assert AuditEntry.objects.filter(action="channel.activate", actor="ops", target_id=str(mc.pk)).exists()


def test_editing_routing_settings_goes_through_the_service_and_is_audited(client, onboarded, probe_channel):
    merchant = onboarded[0]
    user = get_user_model().objects.create_superuser(username="ops", email="", password="pw-ops-123")
    client.force_login(user)
    response = client.post(
        "/admin/channels/merchantchannel/add/",
        {
            "merchant": merchant.pk,
            "channel": "probe",
            "priority": "5",
            "min_amount_minor": "100",
            "max_amount_minor": "",
            "params": "{}",
        },
    )
    assert response.status_code == 302, response.content[:3000]
    mc = MerchantChannel.objects.get(channel="probe")
    assert (mc.status, mc.priority, mc.min_amount_minor) == ("pending", 5, 100)
    response = client.post(
        f"/admin/channels/merchantchannel/{mc.pk}/change/",
        {"priority": "7", "min_amount_minor": "100", "max_amount_minor": "90000"},
    )
    assert response.status_code == 302, response.content[:3000]
    mc.refresh_from_db()
    assert (mc.priority, mc.max_amount_minor) == (7, 90000)
    [update] = AuditEntry.objects.filter(action="channel.update", actor="ops")
    assert update.data == {"priority": {"from": 5, "to": 7}, "max_amount_minor": {"from": None, "to": 90000}}
    assert AuditEntry.objects.filter(action="channel.add", actor="ops").exists()
