"""Property: any sequence of ledger operations keeps every invariant of ledger_verify, and
every balance equals what a plain-Python model of the same operations predicts."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.services import customer_get_or_create
from ledger.choices import TransactionKind
from ledger.errors import HoldAlreadyResolved, InsufficientFunds, InvalidState, SameAccount
from ledger.selectors import account_balance
from ledger.services import withdrawals as wd
from ledger.services.holds import hold_cancel, hold_confirm, hold_freeze, holds_expire
from ledger.services.journal import account_apply_pending
from ledger.services.records import transaction_insert
from ledger.services.transfers import transfer_create
from ledger.verify import ledger_verify
from tests.funding import fund

ACCOUNTS = 4  # three wallets and the merchant's buffered settlement account
HOT = 3
amounts = st.integers(min_value=1, max_value=5_000)
index = st.integers(min_value=0, max_value=ACCOUNTS - 1)
pick = st.integers(min_value=0, max_value=50)

operations = st.lists(
    st.one_of(
        st.tuples(st.just("recharge"), index, amounts),
        st.tuples(st.just("transfer"), index, index, amounts),
        st.tuples(st.just("withdraw"), index, amounts),
        st.tuples(st.just("decide"), pick, st.sampled_from(["approve", "pay_out", "reject"])),
        st.tuples(st.just("freeze"), index, amounts, st.booleans()),
        st.tuples(st.just("confirm"), pick, index, st.integers(min_value=1, max_value=100)),
        st.tuples(st.just("cancel"), pick),
        st.tuples(
            st.just("apply"),
        ),
        st.tuples(
            st.just("expire"),
        ),
    ),
    max_size=25,
)


class Model:
    """What the balances must be: total and frozen per account, by plain arithmetic."""

    def __init__(self) -> None:
        self.total = [0] * ACCOUNTS
        self.frozen = [0] * ACCOUNTS

    def available(self, i: int) -> int:
        return self.total[i] - self.frozen[i]


@pytest.mark.django_db
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=operations)
def test_any_sequence_of_operations_keeps_the_ledger_sound(merchant, ops):
    savepoint = transaction.savepoint()
    try:
        _run(merchant, ops)
    finally:
        transaction.savepoint_rollback(savepoint)


def _run(merchant, ops):
    now = timezone.now()
    accounts = [
        customer_get_or_create(merchant_id=merchant.pk, external_id=f"p{i}", now=now)[0].accounts.get()
        for i in range(HOT)
    ] + [merchant.accounts.get(kind="merchant_settlement")]
    model = Model()
    for i, account in enumerate(accounts):  # start funded, so most operations can succeed
        fund(account_id=account.pk, amount_minor=10_000)
        model.total[i] += 10_000
    withdrawals, holds = [], []  # (txn, account index, amount), (hold, account index, amount)
    common = {"merchant_id": merchant.pk, "currency": "CNY", "now": now}

    for op, *args in ops:
        if op == "recharge":
            i, amount = args
            fund(account_id=accounts[i].pk, amount_minor=amount)
            model.total[i] += amount
        elif op == "transfer":
            i, j, amount = args
            expect_ok = i != j and model.available(i) >= amount
            try:
                transfer_create(
                    from_account_id=accounts[i].pk,
                    to_account_id=accounts[j].pk,
                    amount_minor=amount,
                    **common,
                )
            except (InsufficientFunds, SameAccount):
                assert not expect_ok
            else:
                assert expect_ok
                model.total[i] -= amount
                model.total[j] += amount
        elif op == "withdraw":
            i, amount = args
            try:
                txn = wd.withdrawal_request(
                    account_id=accounts[i].pk, amount_minor=amount, destination={"b": 1}, **common
                )
            except InsufficientFunds:
                assert model.available(i) < amount
            else:
                model.frozen[i] += amount
                withdrawals.append((txn, i, amount))
        elif op == "decide" and withdrawals:
            (txn, i, amount), step = withdrawals[args[0] % len(withdrawals)], args[1]
            before = type(txn).objects.get(pk=txn.pk).status
            try:
                getattr(wd, f"withdrawal_{step}")(transaction_id=txn.pk, actor="prop", now=now)
            except InvalidState:
                continue
            if step == "pay_out":
                assert before == "approved"
                model.frozen[i] -= amount
                model.total[i] -= amount
            elif step == "reject":
                model.frozen[i] -= amount
        elif op == "freeze":
            i, amount, expiring = args
            txn = transaction_insert(
                kind=TransactionKind.PAYMENT,
                amount_minor=amount,
                currency="CNY",
                merchant_id=merchant.pk,
                now=now,
            )
            try:
                hold = hold_freeze(
                    key=f"k{len(holds)}-{txn.serial}",
                    account=accounts[i],
                    amount_minor=amount,
                    txn=txn,
                    now=now,
                    expires_at=now + timedelta(seconds=1) if expiring else None,
                )
            except InsufficientFunds:
                assert model.available(i) < amount
            else:
                model.frozen[i] += amount
                holds.append((hold, i, amount))
        elif op == "confirm" and holds:
            (hold, i, amount), j, percent = holds[args[0] % len(holds)], args[1], args[2]
            part = max(1, amount * percent // 100)
            was_pending = type(hold).objects.get(pk=hold.pk).status == "pending"
            try:
                hold_confirm(
                    hold_id=hold.pk, credit_account=accounts[j], amount_minor=part, reason="prop", now=now
                )
            except HoldAlreadyResolved:
                assert not was_pending
                continue
            if was_pending:  # otherwise a retried confirm: the same hold, nothing moves again
                model.frozen[i] -= amount
                model.total[i] -= part
                model.total[j] += part
        elif op == "cancel" and holds:
            hold, i, amount = holds[args[0] % len(holds)]
            status = type(hold).objects.get(pk=hold.pk).status
            try:
                hold_cancel(hold_id=hold.pk, now=now)
            except HoldAlreadyResolved:
                continue
            if status == "pending":
                model.frozen[i] -= amount
        elif op == "apply":
            account_apply_pending(account_id=accounts[HOT].pk)
        elif op == "expire":
            for hold, i, amount in holds:
                if type(hold).objects.get(pk=hold.pk).status == "pending" and hold.expires_at:
                    model.frozen[i] -= amount
            holds_expire(now=now + timedelta(seconds=2))

    for i, account in enumerate(accounts):
        account.refresh_from_db()
        shown = account_balance(account=account)
        assert (shown.total_minor, shown.frozen_minor) == (model.total[i], model.frozen[i]), f"account {i}"
        assert shown.available_minor == model.available(i) >= 0
    report = ledger_verify()
    assert report.clean, "\n".join(report.lines())
