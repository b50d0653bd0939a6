"""The daily run (F3): each active merchant channel's statement downloaded through its plugin
over real HTTP (the sandbox's, Alipay's fake), imported and matched; a run again adds
nothing; a channel that cannot answer is reported, the others still run."""

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from channels.models import MerchantChannel
from ledger.models import Transaction
from reconciliation.models import ReconBatch, StatementLine
from reconciliation.services.daily import reconcile_run
from tests.channels.alipay.conftest import alipay_app, alipay_channel, fake_alipay, register_app  # noqa: F401
from tests.channels.test_routing import dead_url
from tests.payments.conftest import pay  # noqa: F401
from tests.waiting import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def _paid_through_the_sandbox(pay, n: int) -> list[str]:  # noqa: F811
    serials = []
    for i in range(n):
        body = pay(f"{10 + i}.00", channel="sandbox", metadata={"sandbox": {"outcome": "succeed"}}).json()
        serials.append(body["id"])
    wait_for(
        lambda: Transaction.objects.filter(serial__in=serials, status="succeeded").count() == n, timeout=15
    )
    return serials


def test_the_days_sandbox_statement_is_downloaded_imported_and_matched_once(api, sandbox_channel, pay):  # noqa: F811
    MerchantChannel.objects.filter(pk=sandbox_channel.pk).update(fee_rate_bps=60)  # the sandbox's 0.6 %
    _paid_through_the_sandbox(pay, 3)
    today = timezone.now().date()

    [result] = reconcile_run(day=today, now=timezone.now())

    assert (result.channel, result.state, result.error) == ("sandbox", "balanced", ""), result
    batch = ReconBatch.objects.get(pk=result.batch_id)
    assert batch.summary["matched"]["count"] == 3
    again = reconcile_run(day=today, now=timezone.now())
    assert again[0].batch_id == batch.pk and StatementLine.objects.count() == 3


def test_a_channel_that_cannot_answer_is_reported_and_the_others_run(
    api,
    sandbox_channel,
    alipay_channel,  # noqa: F811
    pay,  # noqa: F811
):
    MerchantChannel.objects.filter(pk=sandbox_channel.pk).update(fee_rate_bps=60)
    _paid_through_the_sandbox(pay, 1)
    params = {**alipay_channel.params, "gateway_url": dead_url()}
    MerchantChannel.objects.filter(pk=alipay_channel.pk).update(params=params)
    out = StringIO()

    with pytest.raises(SystemExit) as failed:
        call_command("reconcile_run", "--date", f"{timezone.now().date():%Y-%m-%d}", "--json", stdout=out)

    assert failed.value.code == 1
    results = {r["channel"]: r for r in json.loads(out.getvalue().strip().splitlines()[-1])}
    assert results["sandbox"]["state"] == "balanced" and results["sandbox"]["error"] == ""
    assert results["alipay"]["batch_id"] is None and results["alipay"]["error"]
