"""The price of a cart with coupons (E1, E3): pure arithmetic on integer minor units — no
database, no Django — so it can be proved by property tests (tests/coupons/test_pricing.py).

Kinds (what a coupon takes off its *base*, the eligible lines' amount still to pay):
- `full_reduction`: spend `threshold`, save `value`;
- `rate`: `rate_bps` basis points of the base, rounded down to the minor unit, at most
  `cap` (when set), from `threshold` up;
- `tiered`: the value of the highest tier whose threshold the base reaches;
- `fixed`: `value` off (from `threshold` up, when one is set).
A coupon never takes off more than its base.

Eligible lines: a coupon with a seller applies to that seller's lines only; scope
`products` narrows to its product ids, `categories` to its categories.

Stacking rule: at most one platform-funded coupon, plus at most one coupon per seller (a
seller-funded coupon always names its seller). The seller coupons apply first, each on its
seller's eligible lines; the platform coupon then applies to what remains, so its
threshold is met (or not) by the amounts after the seller coupons.

Allocation: a coupon's discount is split over its eligible lines in proportion to what
each still has to pay, by the largest remainder (`paycenter.money.allocate_minor`), so the
shares sum exactly to the discount and no line goes below zero.

A coupon that does not apply (no eligible line, threshold not met, nothing to take off, a
currency other than the cart's) is `coupon_not_applicable`; a set of coupons that breaks
the stacking rule is `coupons_not_stackable` — never silently dropped, because the buyer
chose them.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field

from coupons.errors import CouponNotApplicable, CouponsNotStackable
from paycenter.money import allocate_minor

PLATFORM = "platform"
SELLER = "seller"
FULL_REDUCTION, RATE, TIERED, FIXED = "full_reduction", "rate", "tiered", "fixed"
BPS = 10_000


@dataclass(frozen=True)
class Line:
    key: str
    seller_id: int
    product_id: int
    category: str
    amount_minor: int


@dataclass(frozen=True)
class Offer:
    """A coupon as pricing sees it. `seller_id`: the seller whose lines it is limited to
    (always set for a seller-funded coupon); `tiers`: (threshold, value) pairs."""

    coupon_id: str
    funded_by: str
    kind: str
    seller_id: int | None = None
    threshold_minor: int = 0
    value_minor: int = 0
    rate_bps: int = 0
    cap_minor: int | None = None
    tiers: tuple[tuple[int, int], ...] = ()
    product_ids: frozenset[int] | None = None  # None: any product
    categories: frozenset[str] | None = None  # None: any category
    currency: str = ""

    def covers(self, line: Line) -> bool:
        return (
            (self.seller_id is None or line.seller_id == self.seller_id)
            and (self.product_ids is None or line.product_id in self.product_ids)
            and (self.categories is None or line.category in self.categories)
        )

    def discount_on(self, base: int) -> int:
        """What it takes off `base` (0 when its threshold is not met), before the cap at base."""
        if self.kind == TIERED:
            tier = self.tier_for(base)
            return tier[1] if tier else 0
        if base < self.threshold_minor:
            return 0
        if self.kind == RATE:
            off = base * self.rate_bps // BPS
            return off if self.cap_minor is None else min(off, self.cap_minor)
        if self.kind in (FULL_REDUCTION, FIXED):
            return self.value_minor
        raise ValueError(f"unknown coupon kind {self.kind!r}")

    def tier_for(self, base: int) -> tuple[int, int] | None:
        """The tier with the highest threshold `base` reaches."""
        reached = [tier for tier in self.tiers if base >= tier[0]]
        return max(reached) if reached else None


@dataclass(frozen=True)
class Applied:
    coupon_id: str
    funded_by: str
    discount_minor: int
    shares: dict[str, int] = field(default_factory=dict)  # line key → its share of the discount


@dataclass(frozen=True)
class Breakdown:
    total_minor: int
    discount_minor: int
    payable_minor: int
    applied: list[Applied]
    line_discounts: dict[str, int]  # every line key → its discount from all coupons


def stacking_check(offers: Sequence[Offer]) -> None:
    """At most one platform-funded coupon and one per seller; each coupon once."""
    ids = [offer.coupon_id for offer in offers]
    if len(set(ids)) != len(ids):
        raise CouponsNotStackable("A coupon is named twice.")
    platform = [offer for offer in offers if offer.funded_by == PLATFORM]
    if len(platform) > 1:
        raise CouponsNotStackable("At most one platform coupon per order.")
    sellers: set[int] = set()
    for offer in offers:
        if offer.funded_by == PLATFORM:
            continue
        if offer.funded_by != SELLER or offer.seller_id is None:
            raise ValueError(f"coupon {offer.coupon_id}: a seller-funded coupon names its seller")
        if offer.seller_id in sellers:
            raise CouponsNotStackable("At most one coupon per seller.")
        sellers.add(offer.seller_id)


def price(lines: Sequence[Line], offers: Sequence[Offer], *, currency: str | None = None) -> Breakdown:
    """The cart's total, discount and payable, and each coupon's share of each line (see the
    module docstring for the rules). `currency`, when given, must be every coupon's."""
    if len({line.key for line in lines}) != len(lines):
        raise ValueError("line keys must be unique")
    if any(line.amount_minor < 0 for line in lines):
        raise ValueError("line amounts must not be negative")
    stacking_check(offers)
    remaining = {line.key: line.amount_minor for line in lines}
    ordered = [o for o in offers if o.funded_by == SELLER] + [o for o in offers if o.funded_by == PLATFORM]
    applied = []
    for offer in ordered:
        if currency is not None and offer.currency and offer.currency != currency:
            raise CouponNotApplicable(f"Coupon {offer.coupon_id} is in {offer.currency}, not {currency}.")
        eligible = [line for line in lines if offer.covers(line) and remaining[line.key] > 0]
        base = sum(remaining[line.key] for line in eligible)
        if not eligible:
            raise CouponNotApplicable(f"Coupon {offer.coupon_id} applies to none of these items.")
        discount = min(offer.discount_on(base), base)
        if discount <= 0:
            raise CouponNotApplicable(
                f"The items coupon {offer.coupon_id} applies to do not reach its threshold."
            )
        parts = allocate_minor(discount, [remaining[line.key] for line in eligible])
        shares = {line.key: part for line, part in zip(eligible, parts, strict=True) if part}
        for key, part in shares.items():
            remaining[key] -= part
        applied.append(
            Applied(
                coupon_id=offer.coupon_id, funded_by=offer.funded_by, discount_minor=discount, shares=shares
            )
        )
    total = sum(line.amount_minor for line in lines)
    line_discounts = {line.key: line.amount_minor - remaining[line.key] for line in lines}
    discount_total = sum(a.discount_minor for a in applied)
    return Breakdown(
        total_minor=total,
        discount_minor=discount_total,
        payable_minor=total - discount_total,
        applied=applied,
        line_discounts=line_discounts,
    )
