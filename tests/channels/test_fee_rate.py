"""The contracted fee rate reconciliation checks a channel's fees against: set through the
routing-settings service (audited), refused outside 0 to 10000 basis points."""

import pytest
from django.utils import timezone

from channels.services import merchant_channel_add, merchant_channel_update
from paycenter.errors import InvalidRequest
from paycenter.models import AuditEntry

pytestmark = pytest.mark.django_db


def test_the_fee_rate_is_set_audited_and_kept_when_not_given(merchant):
    now = timezone.now()
    mc = merchant_channel_add(
        merchant_id=merchant.pk,
        channel="sandbox",
        params={},
        priority=10,
        min_amount_minor=1,
        max_amount_minor=None,
        fee_rate_bps=60,
        actor="ops",
        now=now,
    )
    assert mc.fee_rate_bps == 60
    limits = {"priority": 10, "min_amount_minor": 1, "max_amount_minor": None}
    assert (
        merchant_channel_update(mc_id=mc.pk, **limits, fee_rate_bps=38, actor="ops", now=now).fee_rate_bps
        == 38
    )
    assert merchant_channel_update(mc_id=mc.pk, **limits, actor="ops", now=now).fee_rate_bps == 38
    change = AuditEntry.objects.filter(action="channel.update").get()
    assert change.data == {"fee_rate_bps": {"from": 60, "to": 38}}
    with pytest.raises(InvalidRequest) as refused:
        merchant_channel_update(mc_id=mc.pk, **limits, fee_rate_bps=10_001, actor="ops", now=now)
    assert refused.value.field == "fee_rate_bps"
