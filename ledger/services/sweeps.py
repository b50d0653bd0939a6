"""Periodic work that keeps no payment waiting forever (D5, B5): query what is due,
expire what is past its time."""

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from channels.choices import ChannelState
from ledger.choices import TransactionKind, TransactionStatus
from ledger.errors import InvalidState
from ledger.models import Transaction
from ledger.services.payment_query import payment_close, payment_query
from ledger.services.preauth import payment_void
from ledger.services.refunds import refund_query

logger = logging.getLogger(__name__)
S = TransactionStatus


def due_queries(*, now: datetime, limit: int = 200) -> list[tuple[int, str]]:
    return list(
        Transaction.objects.filter(
            next_query_at__lte=now,
            status__in=[S.PENDING, S.AUTHORIZED],
            kind__in=[TransactionKind.PAYMENT, TransactionKind.RECHARGE, TransactionKind.REFUND],
        )
        .order_by("next_query_at")
        .values_list("pk", "kind")[:limit]
    )


def query_due(*, now: datetime) -> int:
    done = 0
    for txn_id, kind in due_queries(now=now):
        with _one_item(txn_id):
            if kind == TransactionKind.REFUND:
                refund_query(refund_id=txn_id, now=now)
            else:
                payment_query(txn_id=txn_id, now=now)
            done += 1
    return done


@contextmanager
def _one_item(txn_id: int) -> Iterator[None]:
    """One bad payment (a channel that is down, a broken answer) must not stop the sweep
    for every other one; it is logged and tried again next time."""
    try:
        yield
    except Exception:
        logger.exception("sweep: transaction %s failed; it will be tried again", txn_id)


def expire_due(*, now: datetime, limit: int = 200) -> int:
    """Pending payments and recharges past their expiry: ask the channel first — a paid one
    is applied, an unpaid one closed there and here. Authorizations never captured are
    voided."""
    closed = _void_lapsed_authorizations(now=now, limit=limit)
    expired = list(
        Transaction.objects.filter(
            kind__in=[TransactionKind.PAYMENT, TransactionKind.RECHARGE],
            status=S.PENDING,
            expires_at__lte=now,
        )
        .order_by("expires_at")
        .values_list("pk", flat=True)[:limit]
    )
    for txn_id in expired:
        with _one_item(txn_id):
            txn = payment_query(txn_id=txn_id, now=now)
            if txn.status != S.PENDING or txn.channel_state == ChannelState.UNKNOWN:
                continue
            try:
                payment_close(txn_id=txn_id, now=now, reason="expired")
                closed += 1
            except InvalidState:
                continue  # paid at the last moment, or the channel cannot say yet
    return closed


def _void_lapsed_authorizations(*, now: datetime, limit: int) -> int:
    lapsed = list(
        Transaction.objects.filter(
            kind=TransactionKind.PAYMENT,
            status=S.AUTHORIZED,
            captured_minor__isnull=True,
            expires_at__lte=now,
        ).values_list("pk", flat=True)[:limit]
    )
    voided = 0
    for txn_id in lapsed:
        with _one_item(txn_id):
            try:
                payment_void(txn_id=txn_id, now=now)
                voided += 1
            except InvalidState:
                continue  # captured meanwhile, or the channel did not answer
    return voided
