"""Split payments: the entry sums exactly, refunds by split reverse it exactly in any number of
parts, and a split payment cannot be refunded without naming its split."""

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from accounts.choices import AccountKind
from accounts.services import merchant_create, merchant_transition
from channels.services import merchant_channel_activate
from ledger.errors import RefundExceedsPayment, RefundNeedsSplit, SplitNotFound
from ledger.models import TransactionDetail
from ledger.services.collect import PaymentRequest, Split
from ledger.services.payment_create import payment_create
from ledger.services.refunds import refund_create
from ledger.services.splits import split_refund_parts
from paycenter.errors import InvalidRequest
from tests.ledger.conftest import assert_ledger_clean
from tests.ledger.conftest import settled_balance as _balance

NOW = datetime(2026, 12, 4, 12, tzinfo=UTC)


@st.composite
def details_and_refunds(draw):
    amount = draw(st.integers(min_value=1, max_value=10**7))
    subsidy = draw(st.integers(min_value=0, max_value=10**7))
    commission = draw(st.integers(min_value=0, max_value=amount + subsidy))
    cuts = sorted(draw(st.lists(st.integers(min_value=1, max_value=amount), max_size=6)))
    parts = [b - a for a, b in zip([0, *cuts], [*cuts, amount], strict=True) if b > a]
    return TransactionDetail(amount_minor=amount, subsidy_minor=subsidy, commission_minor=commission), parts


@given(details_and_refunds())
def test_refunds_in_any_parts_reverse_the_split_exactly(case):
    detail, refunds = case
    before, totals = 0, [0, 0, 0]
    for amount in refunds:
        parts = split_refund_parts(detail=detail, before_minor=before, amount_minor=amount)
        taken = (parts.merchant_minor, parts.commission_minor, parts.subsidy_minor)
        assert min(taken) >= 0
        # the merchant and the platform's commission pay the payer and the coupon subsidy back
        assert parts.merchant_minor + parts.commission_minor == amount + parts.subsidy_minor
        totals = [t + x for t, x in zip(totals, taken, strict=True)]
        before += amount
    a, u, c = detail.amount_minor, detail.subsidy_minor, detail.commission_minor
    assert totals == [a + u - c, c, u]


@pytest.fixture
def sellers(merchant):
    made = []
    for name in ("North", "South"):
        seller = merchant_create(name=name, actor="test", now=NOW)
        merchant_transition(merchant_id=seller.pk, transition="activate", actor="test", now=NOW)
        made.append(seller)
    merchant_channel_activate(merchant_id=merchant.pk, channel="balance", actor="test", now=NOW)
    return made


def _pay(merchant, wallet, splits, *, amount=100_00, out_trade_no="split-1"):
    return payment_create(
        app_id=merchant.apps.first().pk,
        merchant_id=merchant.pk,
        request=PaymentRequest(
            out_trade_no=out_trade_no,
            amount_minor=amount,
            currency="CNY",
            subject="two sellers",
            channel="balance",
            payer_account_id=wallet.pk,
            splits=tuple(splits),
        ),
        now=NOW,
    )


@pytest.mark.django_db
def test_a_split_balance_payment_credits_sellers_commission_and_spends_subsidy(merchant, sellers, wallet_of):
    north, south = sellers
    wallet = wallet_of("payer", balance=500_00)
    payment = _pay(
        merchant,
        wallet,
        [
            Split(
                merchant_id=north.pk,
                amount_minor=70_00,
                reference="A",
                subsidy_minor=5_00,
                commission_minor=3_75,
            ),
            Split(merchant_id=south.pk, amount_minor=30_00, reference="B", commission_minor=2_40),
        ],
    )

    assert payment.status == "succeeded"
    assert _balance(north) == 70_00 + 5_00 - 3_75 and _balance(south) == 30_00 - 2_40
    assert _balance(kind=AccountKind.PLATFORM_REVENUE) == 3_75 + 2_40
    assert _balance(kind=AccountKind.COUPON_SUBSIDY) == -5_00
    assert _balance(merchant) == 0
    assert payment.entries.get().reason == "split_payment"

    refund = refund_create(
        app_id=None, payment_id=payment.pk, amount_minor=35_00, detail_reference="A", now=NOW
    )
    assert refund.status == "succeeded"
    # half of A back: its subsidy 2.50, commission floor(3.75 * 37.50 / 75.00) = 1.87, the seller 35.63
    assert _balance(north) == 70_00 + 5_00 - 3_75 - 35_63
    assert _balance(kind=AccountKind.PLATFORM_REVENUE) == 3_75 + 2_40 - 1_87
    assert _balance(kind=AccountKind.COUPON_SUBSIDY) == -2_50
    wallet.refresh_from_db()
    assert wallet.total_minor == 500_00 - 100_00 + 35_00
    assert_ledger_clean()


@pytest.mark.django_db
def test_a_split_payment_is_refunded_only_by_a_split_it_has_and_within_it(merchant, sellers, wallet_of):
    wallet = wallet_of("payer", balance=500_00)
    payment = _pay(
        merchant,
        wallet,
        [
            Split(merchant_id=sellers[0].pk, amount_minor=60_00, reference="A"),
            Split(merchant_id=sellers[1].pk, amount_minor=40_00, reference="B"),
        ],
    )
    with pytest.raises(RefundNeedsSplit):
        refund_create(app_id=None, payment_id=payment.pk, amount_minor=1_00, now=NOW)
    with pytest.raises(SplitNotFound):
        refund_create(app_id=None, payment_id=payment.pk, amount_minor=1_00, detail_reference="C", now=NOW)
    with pytest.raises(RefundExceedsPayment):
        refund_create(app_id=None, payment_id=payment.pk, amount_minor=40_01, detail_reference="B", now=NOW)
    refund_create(app_id=None, payment_id=payment.pk, amount_minor=40_00, detail_reference="B", now=NOW)
    payment.refresh_from_db()
    assert payment.refunded_minor == 40_00 and payment.status == "partially_refunded"
    assert_ledger_clean()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "splits",
    [
        [Split(merchant_id=0, amount_minor=99_00, reference="A")],  # does not add up
        [Split(merchant_id=0, amount_minor=50_00, reference="A")] * 2,  # one reference twice
        [Split(merchant_id=0, amount_minor=100_00, reference="A", commission_minor=100_01)],
        [
            Split(merchant_id=0, amount_minor=-1, reference="A"),
            Split(merchant_id=0, amount_minor=100_01, reference="B"),
        ],
    ],
)
def test_splits_that_do_not_hold_together_are_refused_and_nothing_is_written(
    merchant, sellers, wallet_of, splits
):
    wallet = wallet_of("payer", balance=500_00)
    with pytest.raises(InvalidRequest) as refused:
        _pay(merchant, wallet, [Split(**{**s.__dict__, "merchant_id": sellers[0].pk}) for s in splits])
    assert refused.value.field == "splits"
    assert not TransactionDetail.objects.exists()
