"""The demo's sandbox channel follows `make run`'s ports (channels/demo.py)."""

import pytest
from django.utils import timezone

from channels.demo import seed
from channels.models import MerchantChannel
from channels.sandbox_server import serve_in_thread
from channels.services import merchant_channel_activate

pytestmark = pytest.mark.django_db


@pytest.fixture
def seeded_elsewhere(sandbox, merchant, settings):
    """The sandbox channel, activated by an earlier run whose sandbox listened elsewhere."""
    settings.SANDBOX_CHANNEL_URL = sandbox.url
    mc = merchant_channel_activate(merchant_id=merchant.pk, channel="sandbox", actor="t", now=timezone.now())
    MerchantChannel.objects.filter(pk=mc.pk).update(params={**mc.params, "base_url": "http://127.0.0.1:9"})
    return mc


def test_the_channel_follows_the_same_sandbox_on_a_new_port(seeded_elsewhere, sandbox, merchant):
    context = {"merchant_id": merchant.pk}
    seed(context)
    assert MerchantChannel.objects.get(pk=seeded_elsewhere.pk).params["base_url"] == sandbox.url
    assert context["notes"][-1].endswith(f"at {sandbox.url})")
    assert not any(note.startswith("note:") for note in context["notes"])


def test_another_sandbox_platform_is_not_followed(seeded_elsewhere, merchant, settings, tmp_path):
    other = serve_in_thread(port=0, db_path=str(tmp_path / "other.sqlite3"))
    try:
        settings.SANDBOX_CHANNEL_URL = other.url
        context = {"merchant_id": merchant.pk}
        seed(context)
    finally:
        other.stop()
    assert MerchantChannel.objects.get(pk=seeded_elsewhere.pk).params["base_url"] == "http://127.0.0.1:9"
    assert any("another platform than" in note for note in context["notes"])
