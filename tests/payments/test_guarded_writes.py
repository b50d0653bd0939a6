"""Writes that race with a channel's answers: each is conditional, so a late or partial
answer never erases what another one stored or overwrites a final state."""

import pytest
from django.utils import timezone

from channels import registry
from channels.base import ChannelPayment, ChannelPlugin, ChannelTimeout
from channels.choices import ChannelState
from channels.services import merchant_channel_activate
from ledger.models import Transaction
from ledger.services.collect import PaymentRequest
from ledger.services.payment_apply import payment_apply
from ledger.services.payment_create import payment_create
from ledger.services.preauth import payment_capture

pytestmark = pytest.mark.django_db(transaction=True)


class RacingChannel(ChannelPlugin):
    """A platform whose answers arrive in the order a test scripts."""

    name = "racing"
    methods = frozenset({"native"})
    on_capture = None

    def pay(self, *, mc, order) -> ChannelPayment:
        state = ChannelState.PENDING if order.capture else ChannelState.AUTHORIZED
        action = {"type": "qr_code", "code": f"racing://{order.serial}"}
        return ChannelPayment(state=state, channel_trade_no=f"R-{order.serial}", action=action)

    def capture(self, *, mc, channel_trade_no, amount_minor, currency) -> ChannelPayment:
        return self.on_capture(amount_minor)


@pytest.fixture
def racing(onboarded):
    merchant, app, _ = onboarded
    plugin = registry.register(RacingChannel())
    merchant_channel_activate(merchant_id=merchant.pk, channel="racing", actor="t", now=timezone.now())
    yield merchant, app, plugin
    registry.unregister("racing")


def create(merchant, app, *, capture=True) -> Transaction:
    request = PaymentRequest(
        out_trade_no=f"o-{capture}", amount_minor=5_00, currency="CNY", subject="Tea", capture=capture
    )
    return payment_create(app_id=app.pk, merchant_id=merchant.pk, request=request, now=timezone.now())


def test_a_pending_answer_without_an_action_keeps_the_qr_code_and_the_channel_number(racing):
    merchant, app, _ = racing
    txn = create(merchant, app)
    assert txn.action["type"] == "qr_code" and txn.channel_trade_no == f"R-{txn.serial}"

    outcome = payment_apply(
        txn_id=txn.pk, result=ChannelPayment(state=ChannelState.PENDING), now=timezone.now()
    )
    other = ChannelPayment(state=ChannelState.PENDING, channel_trade_no="R-someone-else")
    payment_apply(txn_id=txn.pk, result=other, now=timezone.now())

    txn.refresh_from_db()
    assert outcome == "noted"
    assert txn.action == {"type": "qr_code", "code": f"racing://{txn.serial}"}
    assert txn.channel_trade_no == f"R-{txn.serial}"


def test_a_pending_answer_after_the_payment_succeeded_changes_nothing(racing):
    merchant, app, _ = racing
    txn = create(merchant, app)
    paid = ChannelPayment(state=ChannelState.SUCCEEDED, paid_minor=5_00, currency="CNY")
    assert payment_apply(txn_id=txn.pk, result=paid, now=timezone.now()) == "applied"
    late = ChannelPayment(state=ChannelState.PENDING, action={"type": "redirect", "url": "http://x"})
    assert payment_apply(txn_id=txn.pk, result=late, now=timezone.now()) == "duplicate"
    txn.refresh_from_db()
    assert (txn.status, txn.channel_state, txn.action["type"]) == ("succeeded", "succeeded", "qr_code")


def test_a_capture_timeout_does_not_overwrite_a_success_that_landed_meanwhile(racing):
    """The capture call times out, but the channel's success notification was applied
    while it was in flight: the payment stays succeeded, not 'unknown'."""
    merchant, app, plugin = racing
    txn = create(merchant, app, capture=False)
    assert txn.status == "authorized"

    def notified_then_timed_out(amount_minor):
        result = ChannelPayment(state=ChannelState.SUCCEEDED, paid_minor=amount_minor, currency="CNY")
        assert payment_apply(txn_id=txn.pk, result=result, now=timezone.now()) == "applied"
        raise ChannelTimeout("read timed out")

    plugin.on_capture = notified_then_timed_out
    after = payment_capture(txn_id=txn.pk, amount_minor=3_00, now=timezone.now())
    assert (after.status, after.channel_state, after.paid_minor) == ("succeeded", "succeeded", 3_00)


def test_refunds_are_capped_by_what_was_captured_not_what_was_authorized(racing):
    """A pre-authorization of 5.00 captured at 3.00: the service refuses a refund of 4.00,
    and the database refuses it too, on its own, if the service's condition were gone."""
    from django.db import IntegrityError, transaction

    from ledger.errors import RefundExceedsPayment
    from ledger.services.refunds import refund_request

    merchant, app, plugin = racing
    txn = create(merchant, app, capture=False)
    plugin.on_capture = lambda amount: ChannelPayment(
        state=ChannelState.SUCCEEDED, paid_minor=amount, currency="CNY"
    )
    assert payment_capture(txn_id=txn.pk, amount_minor=3_00, now=timezone.now()).paid_minor == 3_00

    with pytest.raises(RefundExceedsPayment) as refused:
        refund_request(app_id=app.pk, payment_id=txn.pk, amount_minor=4_00, now=timezone.now())
    assert refused.value.code == "refund_exceeds_payment"
    with pytest.raises(IntegrityError, match="transaction_refunded_within_paid"), transaction.atomic():
        Transaction.objects.filter(pk=txn.pk).update(refunded_minor=4_00)
    Transaction.objects.filter(pk=txn.pk).update(refunded_minor=3_00)  # exactly what was paid: allowed
