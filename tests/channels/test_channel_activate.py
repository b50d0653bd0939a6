"""`manage.py channel_activate`: the admin's Activate form from a script — the same checks
of the declared parameters, the same service and audit row."""

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from channels.models import MerchantChannel
from channels.services import merchant_channel_disable
from paycenter.models import AuditEntry
from tests.channels.declared import declared_channel, good_values, public_pem

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures(declared_channel.__name__)]


def activate(*args: str) -> list[str]:
    out = StringIO()
    call_command("channel_activate", *args, stdout=out, stderr=StringIO())
    return out.getvalue().splitlines()


def params_file(tmp_path, values: dict) -> str:
    path = tmp_path / "params.json"
    path.write_text(json.dumps(values))
    return str(path)


def test_activation_with_a_params_file_and_a_json_line(merchant, tmp_path):
    values = good_values()
    lines = activate(
        "--merchant",
        str(merchant.pk),
        "--channel",
        "declared",
        "--params",
        params_file(tmp_path, values),
        "--json",
    )
    mc = MerchantChannel.objects.get(merchant=merchant, channel="declared")
    assert json.loads(lines[-1]) == {"merchant_channel_id": mc.pk, "channel": "declared", "state": "active"}
    assert mc.params["app_id"] == values["app_id"]
    assert json.loads(mc.secrets) == {
        "app_private_key": values["app_private_key"],
        "api_key": values["api_key"],
    }
    assert AuditEntry.objects.filter(
        action="channel.activate", actor="channel_activate", target_id=str(mc.pk)
    ).exists()
    assert values["api_key"] not in "\n".join(lines)


def test_the_sandbox_with_its_url_and_the_balance_with_nothing(merchant, sandbox, settings, tmp_path):
    settings.SANDBOX_CHANNEL_URL = "http://127.0.0.1:9"  # not this one: the file's URL is used
    path = params_file(tmp_path, {"base_url": sandbox.url})
    [line] = activate("--merchant", str(merchant.pk), "--channel", "sandbox", "--params", path)
    mc = MerchantChannel.objects.get(merchant=merchant, channel="sandbox")
    assert line == f"Channel sandbox of merchant {merchant.pk}: active (id {mc.pk})."
    assert mc.params["base_url"] == sandbox.url and "private_key" in json.loads(mc.secrets)
    lines = activate("--merchant", str(merchant.pk), "--channel", "balance", "--json")
    assert json.loads(lines[-1])["state"] == "active"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (good_values(app_private_key=public_pem()), "app_private_key: App private key: this is a public key"),
        (good_values(gateway_url="gateway"), "gateway_url: Gateway URL: not a valid http(s) URL."),
        (good_values(app_id=None), "app_id: App ID is required."),
        ({**good_values(), "appid": "x"}, "appid: Unknown parameter 'appid'"),
    ],
)
def test_bad_params_exit_non_zero_and_activate_nothing(merchant, tmp_path, values, message):
    path = params_file(tmp_path, values)
    with pytest.raises(CommandError, match="Invalid parameters for channel 'declared'") as caught:
        activate("--merchant", str(merchant.pk), "--channel", "declared", "--params", path)
    assert message in str(caught.value)
    assert not MerchantChannel.objects.filter(status="active").exists()


def test_other_mistakes_are_clear(merchant, tmp_path):
    bad_json = tmp_path / "bad.json"
    bad_json.write_text("{app_id: 1}")
    for args, message in [
        (["--merchant", "999999", "--channel", "declared"], "No merchant with id 999999."),
        (
            ["--merchant", str(merchant.pk), "--channel", "alipayy"],
            "No channel named 'alipayy'. Known channels:",
        ),
        (["--merchant", str(merchant.pk), "--channel", "declared"], "App ID is required."),
        (["--merchant", str(merchant.pk), "--channel", "declared", "--params", str(bad_json)], "is not JSON"),
        (
            ["--merchant", str(merchant.pk), "--channel", "declared", "--params", params_file(tmp_path, [1])],
            "JSON object",
        ),
        (
            ["--merchant", str(merchant.pk), "--channel", "declared", "--params", "/nonexistent.json"],
            "Cannot read",
        ),
    ]:
        with pytest.raises(CommandError) as caught:
            activate(*args)
        assert message in str(caught.value), (args, str(caught.value))


def test_an_active_channel_is_left_alone(merchant, tmp_path):
    path = params_file(tmp_path, good_values())
    first = activate("--merchant", str(merchant.pk), "--channel", "declared", "--params", path, "--json")
    again = activate("--merchant", str(merchant.pk), "--channel", "declared", "--json")
    assert json.loads(again[-1]) == json.loads(first[-1])
    with pytest.raises(CommandError, match="already active; disable it"):
        activate("--merchant", str(merchant.pk), "--channel", "declared", "--params", path)


def test_opened_again_it_keeps_the_stored_secrets_and_params(merchant, tmp_path):
    values = good_values()
    path = params_file(tmp_path, values)
    [line] = activate("--merchant", str(merchant.pk), "--channel", "declared", "--params", path, "--json")
    mc_id = json.loads(line)["merchant_channel_id"]
    merchant_channel_disable(mc_id=mc_id, actor="t", now=timezone.now())
    activate("--merchant", str(merchant.pk), "--channel", "declared")  # no file: what is stored
    mc = MerchantChannel.objects.get(pk=mc_id)
    assert mc.status == "active" and mc.params["app_id"] == values["app_id"]
    assert json.loads(mc.secrets)["api_key"] == values["api_key"]
