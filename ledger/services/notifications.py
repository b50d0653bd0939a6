"""What a verified channel notification means for money (D4): applied once, and anything
that does not agree — unknown payment, other amount or currency, success after close —
recorded as an exception with an alert, nothing posted."""

import logging
from datetime import datetime

from channels.base import ChannelEvent, ChannelPayment, ChannelRefund
from channels.choices import ChannelState, NotificationOutcome
from channels.models import MerchantChannel
from ledger.choices import TransactionKind
from ledger.models import Transaction
from ledger.services.payment_apply import payment_apply
from ledger.services.refunds import refund_apply

logger = logging.getLogger(__name__)
Outcome = NotificationOutcome
OUTCOMES = {
    "applied": Outcome.APPLIED,
    "noted": Outcome.NOTED,
    "duplicate": Outcome.DUPLICATE,
    "ignored": Outcome.IGNORED,
    "late_success": Outcome.LATE_SUCCESS,
    "amount_mismatch": Outcome.AMOUNT_MISMATCH,
    "currency_mismatch": Outcome.CURRENCY_MISMATCH,
    "unknown_payment": Outcome.UNKNOWN_PAYMENT,
}


def notification_apply(*, mc: MerchantChannel, event: ChannelEvent, now: datetime) -> str:
    payment = Transaction.objects.filter(
        kind__in=[TransactionKind.PAYMENT, TransactionKind.RECHARGE],
        serial=event.reference,
        merchant_id=mc.merchant_id,
        merchant_channel=mc,
    ).first()
    if payment is None:
        logger.error("ALERT notification for unknown payment %s on %s", event.reference, mc)
        return Outcome.UNKNOWN_PAYMENT
    if event.event.startswith("refund."):
        if payment.kind != TransactionKind.PAYMENT:  # recharges are not refunded
            logger.error("ALERT refund notification for %s %s", payment.kind, payment.serial)
            return Outcome.UNKNOWN_PAYMENT
        return _refund_event(payment, event, now=now)
    result = ChannelPayment(
        state=event.state,
        channel_trade_no=event.channel_trade_no,
        paid_minor=event.paid_minor,
        currency=event.currency,
    )
    return OUTCOMES[payment_apply(txn_id=payment.pk, result=result, now=now)]


def _refund_event(payment: Transaction, event: ChannelEvent, *, now: datetime) -> str:
    refund = payment.refunds.filter(serial=event.refund_reference or "").first()
    if refund is None:
        logger.error(
            "ALERT refund notification for unknown refund %s of %s", event.refund_reference, payment.serial
        )
        return Outcome.UNKNOWN_PAYMENT
    if event.refund_amount_minor is not None and event.refund_amount_minor != refund.amount_minor:
        logger.error(
            "ALERT refund %s: channel reports %s, expected %s",
            refund.serial,
            event.refund_amount_minor,
            refund.amount_minor,
        )
        Transaction.objects.filter(pk=refund.pk).update(review_reason="amount_mismatch: refund notification")
        return Outcome.AMOUNT_MISMATCH
    state = ChannelState.SUCCEEDED if event.event == "refund.succeeded" else ChannelState.FAILED
    return OUTCOMES[refund_apply(refund_id=refund.pk, result=ChannelRefund(state=state), now=now)]
