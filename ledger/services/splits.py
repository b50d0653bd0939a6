"""Split payments (C1): one payment whose money goes to several merchants — a marketplace
order's sub-orders — with the platform's commission and coupon subsidy beside it.

A payment of `amount` split into details (merchant, amount, subsidy, commission) posts one
entry, `split_payment`:

    debit  the payer (wallet, or channel clearing)            amount
    debit  the platform's coupon subsidy account              sum of subsidies
    credit each merchant's settlement account                  amount + subsidy - commission
    credit the platform's revenue account                      sum of commissions

so every cent the payer pays and the platform adds lands with a merchant or as commission.

A refund names one detail and returns at most what the payer paid towards it. What it takes
back is a function of the detail's *cumulative* refunded amount R (of A paid):

    subsidy(R)    = floor(U * R / A)
    gross(R)      = R + subsidy(R)                   what the merchant and commission return
    commission(R) = floor(C * gross(R) / (A + U))
    merchant(R)   = gross(R) - commission(R)

each non-decreasing in R and exactly U, C and A + U - C at R = A, so refunds in any number
of parts reverse the split exactly, and each refund takes the difference between two of
these. The refund's entry, `split_refund`, debits the merchant (its frozen funds) and the
platform's revenue, credits the coupon subsidy back and the payer.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db.models import F, Q

from accounts.choices import AccountKind
from accounts.models import Account
from accounts.services import platform_account_get_or_open
from ledger.choices import Direction
from ledger.errors import SplitNotFound
from ledger.models import Transaction, TransactionDetail
from ledger.services.journal import Leg
from ledger.services.records import settlement_account_get_or_open
from paycenter.errors import InvalidRequest

SPLIT_PAYMENT = "split_payment"
SPLIT_REFUND = "split_refund"


@dataclass(frozen=True)
class Split:
    merchant_id: int
    amount_minor: int
    reference: str
    subsidy_minor: int = 0
    commission_minor: int = 0


def splits_check(splits: tuple[Split, ...], *, amount_minor: int, capture: bool) -> None:
    if not splits:
        return
    if not capture:
        raise InvalidRequest("A split payment is captured at once.", field="splits")
    if sum(s.amount_minor for s in splits) != amount_minor:
        raise InvalidRequest("The splits' amounts add up to the payment's amount.", field="splits")
    if len({s.reference for s in splits}) != len(splits):
        raise InvalidRequest("Each split has its own reference.", field="splits")
    for s in splits:
        if (
            min(s.amount_minor, s.subsidy_minor, s.commission_minor) < 0
            or s.amount_minor + s.subsidy_minor == 0
        ):
            raise InvalidRequest("A split moves money and no part of it is negative.", field="splits")
        if s.commission_minor > s.amount_minor + s.subsidy_minor:
            raise InvalidRequest("A commission is at most the merchant's share.", field="splits")


def details_write(*, txn: Transaction, splits: tuple[Split, ...]) -> list[TransactionDetail]:
    return TransactionDetail.objects.bulk_create(
        TransactionDetail(
            transaction=txn,
            merchant_id=s.merchant_id,
            reference=s.reference,
            amount_minor=s.amount_minor,
            subsidy_minor=s.subsidy_minor,
            commission_minor=s.commission_minor,
            currency=txn.currency,
        )
        for s in splits
    )


def _platform(kind: str, *, currency: str, now: datetime) -> Account:
    return platform_account_get_or_open(kind=kind, currency=currency, now=now)


def _accounts(*, merchant_ids: set[int], currency: str, now: datetime) -> dict:
    """The merchants' settlement accounts and the platform's revenue and coupon subsidy
    accounts, by (kind, merchant id), in one query; any missing is opened."""
    settlement = Q(kind=AccountKind.MERCHANT_SETTLEMENT, merchant_id__in=merchant_ids)
    platform = Q(kind__in=[AccountKind.PLATFORM_REVENUE, AccountKind.COUPON_SUBSIDY], merchant__isnull=True)
    found = {
        (a.kind, a.merchant_id): a
        for a in Account.objects.filter(settlement | platform, currency=currency, customer__isnull=True)
    }
    for merchant_id in merchant_ids - {m for kind, m in found if kind == AccountKind.MERCHANT_SETTLEMENT}:
        opened = settlement_account_get_or_open(merchant_id=merchant_id, currency=currency, now=now)
        found[(AccountKind.MERCHANT_SETTLEMENT, merchant_id)] = opened
    for kind in (AccountKind.PLATFORM_REVENUE, AccountKind.COUPON_SUBSIDY):
        if (kind, None) not in found:
            found[(kind, None)] = _platform(kind, currency=currency, now=now)
    return found


def split_legs(
    *, txn: Transaction, now: datetime, details: Sequence[TransactionDetail] | None = None
) -> list[Leg]:
    """Everything but the payer's debit of a split payment's entry: [] when it has no split.
    `details`: the payment's, when the caller has them at hand."""
    details = list(txn.details.all()) if details is None else details
    if not details:
        return []
    accounts = _accounts(merchant_ids={d.merchant_id for d in details}, currency=txn.currency, now=now)
    legs = []
    subsidy = sum(d.subsidy_minor for d in details)
    if subsidy:
        coupons = accounts[(AccountKind.COUPON_SUBSIDY, None)]
        legs.append(Leg(account=coupons, direction=Direction.DEBIT, amount_minor=subsidy))
    for d in details:
        share = d.amount_minor + d.subsidy_minor - d.commission_minor
        if share:
            seller = accounts[(AccountKind.MERCHANT_SETTLEMENT, d.merchant_id)]
            legs.append(Leg(account=seller, direction=Direction.CREDIT, amount_minor=share))
    commission = sum(d.commission_minor for d in details)
    if commission:
        revenue = accounts[(AccountKind.PLATFORM_REVENUE, None)]
        legs.append(Leg(account=revenue, direction=Direction.CREDIT, amount_minor=commission))
    return legs


@dataclass(frozen=True)
class RefundParts:
    """What one refund of a detail takes back from each side."""

    reference: str
    merchant_id: int
    merchant_minor: int
    commission_minor: int
    subsidy_minor: int

    def as_metadata(self) -> dict:
        return {
            "reference": self.reference,
            "merchant_id": self.merchant_id,
            "merchant_minor": self.merchant_minor,
            "commission_minor": self.commission_minor,
            "subsidy_minor": self.subsidy_minor,
        }


def _reversed(detail: TransactionDetail, refunded: int) -> tuple[int, int, int]:
    """(merchant, commission, subsidy) taken back once `refunded` of the detail is refunded."""
    a, u, c = detail.amount_minor, detail.subsidy_minor, detail.commission_minor
    subsidy = u * refunded // a
    gross = refunded + subsidy
    commission = c * gross // (a + u)
    return gross - commission, commission, subsidy


def split_refund_parts(*, detail: TransactionDetail, before_minor: int, amount_minor: int) -> RefundParts:
    before = _reversed(detail, before_minor)
    after = _reversed(detail, before_minor + amount_minor)
    merchant, commission, subsidy = (x - y for x, y in zip(after, before, strict=True))
    return RefundParts(
        reference=detail.reference,
        merchant_id=detail.merchant_id,
        merchant_minor=merchant,
        commission_minor=commission,
        subsidy_minor=subsidy,
    )


def split_reserve(*, payment: Transaction, reference: str, amount_minor: int) -> RefundParts | None:
    """Inside the refund's transaction, the payment locked: the detail's refunded amount
    raised by a conditional UPDATE, so its refunds never exceed what was paid towards it.
    None when the refund exceeds it."""
    detail = (
        TransactionDetail.objects.select_for_update().filter(transaction=payment, reference=reference).first()
    )
    if detail is None:
        raise SplitNotFound(field="detail_reference")
    taken = TransactionDetail.objects.filter(
        pk=detail.pk, refunded_minor__lte=F("amount_minor") - amount_minor
    ).update(refunded_minor=F("refunded_minor") + amount_minor)
    if not taken:
        return None
    return split_refund_parts(detail=detail, before_minor=detail.refunded_minor, amount_minor=amount_minor)


def split_release(*, payment_id: int, reference: str, amount_minor: int) -> None:
    """A failed refund gives its part of the detail back."""
    TransactionDetail.objects.filter(transaction_id=payment_id, reference=reference).update(
        refunded_minor=F("refunded_minor") - amount_minor
    )


def split_refund_legs(*, parts: RefundParts, currency: str, now: datetime) -> list[Leg]:
    """The refund's entry beside the merchant's frozen debit and the payer's credit."""
    legs = []
    if parts.commission_minor:
        revenue = _platform(AccountKind.PLATFORM_REVENUE, currency=currency, now=now)
        legs.append(Leg(account=revenue, direction=Direction.DEBIT, amount_minor=parts.commission_minor))
    if parts.subsidy_minor:
        coupons = _platform(AccountKind.COUPON_SUBSIDY, currency=currency, now=now)
        legs.append(Leg(account=coupons, direction=Direction.CREDIT, amount_minor=parts.subsidy_minor))
    return legs
