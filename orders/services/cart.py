"""A cart, from the app's items to priced, split sub-orders: the part of checkout shared by
the preview (nothing reserved) and the order itself (stock reserved, coupons locked).

Where a cart's money goes (docs/orders.md): each line's discount is split by coupon into
what the platform pays (platform-funded coupons: the seller is paid it from the coupon
subsidy) and what the seller gives up (seller-funded ones). A sub-order's commission is
the seller's rate on what the seller is owed, `amount - seller-funded discount`, rounded
down to the minor unit.
"""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.db.models import F, Prefetch

from coupons.pricing import Breakdown, Line, Offer, price
from orders.choices import SplitBy
from orders.errors import InsufficientStock, UnknownSku
from orders.models import PriceTier, Sku, Stock
from orders.selectors import orderable_skus, sellers_of
from paycenter.errors import InvalidRequest

MAX_LINES = 50
MAX_QUANTITY = 10_000


@dataclass(frozen=True)
class Item:
    sku: str
    quantity: int


@dataclass
class CartLine:
    key: str
    sku: Sku
    quantity: int
    unit_price_minor: int
    stock: Stock | None = None  # the warehouse it ships from
    discount_minor: int = 0
    platform_discount_minor: int = 0

    @property
    def amount_minor(self) -> int:
        return self.unit_price_minor * self.quantity

    @property
    def seller_id(self) -> int:
        return self.sku.product.seller_id


@dataclass
class CartGroup:
    """A sub-order to be: one seller, and one warehouse or category when split so."""

    seller_id: int
    warehouse_id: int | None
    category: str
    lines: list[CartLine] = field(default_factory=list)
    commission_minor: int = 0

    @property
    def amount_minor(self) -> int:
        return sum(line.amount_minor for line in self.lines)

    @property
    def discount_minor(self) -> int:
        return sum(line.discount_minor for line in self.lines)

    @property
    def platform_discount_minor(self) -> int:
        return sum(line.platform_discount_minor for line in self.lines)

    @property
    def payable_minor(self) -> int:
        return self.amount_minor - self.discount_minor


@dataclass
class PricedCart:
    currency: str
    lines: list[CartLine]
    groups: list[CartGroup]
    breakdown: Breakdown


def unit_price_for(tiers: Sequence[PriceTier], quantity: int) -> int:
    """The tier with the largest threshold the quantity reaches (every SKU has one from 1)."""
    reached = [t for t in tiers if t.min_quantity <= quantity]
    if not reached:
        raise InvalidRequest("The SKU has no price for this quantity.", field="items")
    return max(reached, key=lambda t: t.min_quantity).unit_price_minor


def cart_lines(*, merchant_id: int, items: Sequence[Item]) -> list[CartLine]:
    """The items as lines of SKUs this merchant's apps may order, priced by tier. The same
    SKU twice is one line."""
    quantities: dict[str, int] = defaultdict(int)
    for item in items:
        quantities[item.sku] += item.quantity
    if not quantities or len(quantities) > MAX_LINES:
        raise InvalidRequest(f"An order has 1 to {MAX_LINES} different SKUs.", field="items")
    if any(q > MAX_QUANTITY for q in quantities.values()):
        raise InvalidRequest(f"At most {MAX_QUANTITY} units of a SKU.", field="items")
    skus = {
        sku.code: sku
        for sku in orderable_skus(merchant_id=merchant_id)
        .filter(code__in=list(quantities))
        .select_related("product")
        .prefetch_related(
            Prefetch("price_tiers"), Prefetch("stocks", queryset=Stock.objects.order_by("warehouse_id"))
        )
    }
    lines = []
    for index, (code, quantity) in enumerate(quantities.items()):
        sku = skus.get(code)
        if sku is None:
            raise UnknownSku(code)
        lines.append(
            CartLine(
                key=str(index),
                sku=sku,
                quantity=quantity,
                unit_price_minor=unit_price_for(list(sku.price_tiers.all()), quantity),
            )
        )
    if len({line.sku.currency for line in lines}) > 1:
        raise InvalidRequest("All SKUs of an order are priced in one currency.", field="items")
    return lines


def stock_choose(lines: list[CartLine]) -> None:
    """For a preview: the first warehouse (by id) that has each line's units, read only."""
    for line in lines:
        line.stock = next((s for s in line.sku.stocks.all() if s.available >= line.quantity), None)
        if line.stock is None:
            raise InsufficientStock(line.sku.code)


def stock_reserve(lines: list[CartLine]) -> None:
    """Inside the order's transaction: each line's units taken from the first warehouse that
    has them, by a conditional UPDATE the database re-checks under its row lock — so the
    available stock never goes below zero however many orders run at once. Lines go in SKU
    order, the lock order every order shares, so orders never deadlock on stock."""
    for line in sorted(lines, key=lambda line: line.sku.pk):
        for stock in line.sku.stocks.all():
            taken = Stock.objects.filter(pk=stock.pk, on_hand__gte=F("reserved") + line.quantity).update(
                reserved=F("reserved") + line.quantity
            )
            if taken:
                line.stock = stock
                break
        else:
            raise InsufficientStock(line.sku.code)


def cart_price(lines: list[CartLine], offers: Sequence[Offer]) -> Breakdown:
    """Prices the lines with the coupons (coupons.pricing) and keeps each line's share."""
    breakdown = price(
        [
            Line(
                key=line.key,
                seller_id=line.seller_id,
                product_id=line.sku.product_id,
                category=line.sku.product.category,
                amount_minor=line.amount_minor,
            )
            for line in lines
        ],
        offers,
        currency=lines[0].sku.currency,
    )
    platform_shares: dict[str, int] = defaultdict(int)
    for applied in breakdown.applied:
        if applied.funded_by == "platform":
            for key, share in applied.shares.items():
                platform_shares[key] += share
    for line in lines:
        line.discount_minor = breakdown.line_discounts.get(line.key, 0)
        line.platform_discount_minor = platform_shares[line.key]
    return breakdown


def _group_key(line: CartLine, split_by: str) -> tuple[int, int | None, str]:
    # Money is split per seller, so every strategy keeps sellers apart.
    if split_by == SplitBy.WAREHOUSE:
        return (line.seller_id, line.stock.warehouse_id if line.stock else None, "")
    if split_by == SplitBy.CATEGORY:
        return (line.seller_id, None, line.sku.product.category)
    return (line.seller_id, None, "")


def cart_split(*, lines: list[CartLine], split_by: str, rates: dict[int, int]) -> list[CartGroup]:
    """Sub-orders by the strategy, in the order their first line came, each with its
    commission (`rates`: seller id → basis points)."""
    groups: dict[tuple, CartGroup] = {}
    for line in lines:
        key = _group_key(line, split_by)
        group = groups.setdefault(key, CartGroup(seller_id=key[0], warehouse_id=key[1], category=key[2]))
        group.lines.append(line)
    for group in groups.values():
        owed = group.amount_minor - group.discount_minor + group.platform_discount_minor
        group.commission_minor = owed * rates.get(group.seller_id, 0) // 10_000
    return list(groups.values())


def cart_priced(
    *, merchant_id: int, lines: list[CartLine], offers: Sequence[Offer], split_by: str
) -> PricedCart:
    """Lines whose warehouses are chosen, priced with the coupons and split into sub-orders."""
    breakdown = cart_price(lines, offers)
    return PricedCart(
        currency=lines[0].sku.currency,
        lines=lines,
        groups=cart_split(lines=lines, split_by=split_by, rates=sellers_of(merchant_id=merchant_id)),
        breakdown=breakdown,
    )
