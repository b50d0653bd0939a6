"""Checkout: an order of one buyer, split into sub-orders (one seller each, and one
warehouse or category when split so), each holding its lines; the stock reserved for it;
the refunds asked per sub-order. Amounts in minor units; for every sub-order and line
`payable = amount - discount`, and the order's figures are the sums of its sub-orders'."""

from django.db import models
from django.db.models import F, Q
from django_fsm import RETURN_VALUE, ConcurrentTransitionMixin, FSMField, transition

from accounts.models import Customer, Merchant, MerchantApp
from ledger.models import Transaction
from orders.choices import REFUNDABLE, UNPAID, OrderStatus, RefundStatus, ReservationStatus, SplitBy
from orders.models.catalog import Product, Sku, Stock, Warehouse

OS = OrderStatus
SETTLED = (OS.PAID, OS.PARTIALLY_REFUNDED, OS.REFUNDED)


def _money_checks(prefix: str) -> list[models.CheckConstraint]:
    return [
        models.CheckConstraint(condition=Q(amount_minor__gte=0), name=f"{prefix}_amount_not_negative"),
        models.CheckConstraint(
            condition=Q(discount_minor__gte=0, discount_minor__lte=F("amount_minor")),
            name=f"{prefix}_discount_within_amount",
        ),
        models.CheckConstraint(
            condition=Q(payable_minor=F("amount_minor") - F("discount_minor")), name=f"{prefix}_payable"
        ),
        models.CheckConstraint(
            condition=Q(refunded_minor__gte=0, refunded_minor__lte=F("payable_minor")),
            name=f"{prefix}_refunded_within_payable",
        ),
    ]


class _Lifecycle(ConcurrentTransitionMixin, models.Model):
    """The states orders and sub-orders share. Transitions only change the state;
    orders.services does the stock, coupons and money around them."""

    status = FSMField(max_length=24, choices=OS.choices, default=OS.CREATED, protected=True)

    class Meta:
        abstract = True

    @transition(field=status, source=OS.CREATED, target=OS.AWAITING_PAYMENT)
    def await_payment(self) -> None:
        """A payment was asked for."""

    @transition(field=status, source=UNPAID, target=OS.PAID)
    def pay(self) -> None:
        """The payment succeeded: stock deducted, coupons used."""

    @transition(field=status, source=UNPAID, target=OS.CANCELLED)
    def cancel(self) -> None:
        """The buyer gave up before paying: stock and coupons released."""

    @transition(field=status, source=UNPAID, target=OS.CLOSED)
    def close(self) -> None:
        """Left unpaid past its time: stock and coupons released."""

    @transition(field=status, source=OS.PAID, target=OS.FULFILLED)
    def fulfil(self) -> None:
        """The goods left the warehouse."""

    @transition(field=status, source=OS.FULFILLED, target=OS.COMPLETED)
    def complete(self) -> None:
        """The buyer has the goods."""

    @transition(field=status, source=REFUNDABLE, target=OS.REFUNDING)
    def start_refund(self) -> None:
        """Money is on its way back."""

    @transition(field=status, source=OS.REFUNDING, target=RETURN_VALUE(*SETTLED, OS.FULFILLED, OS.COMPLETED))
    def settle_refunds(self, *, outcome: str) -> str:
        """No refund is under way any more: what was refunded decides where it stands."""
        return outcome


class Order(_Lifecycle):
    serial = models.CharField(max_length=40, unique=True)
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="+")
    app = models.ForeignKey(MerchantApp, on_delete=models.PROTECT, related_name="+")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="orders")
    currency = models.CharField(max_length=3)
    split_by = models.CharField(max_length=16, choices=SplitBy.choices, default=SplitBy.MERCHANT)
    amount_minor = models.BigIntegerField(help_text="the lines' total before discounts")
    discount_minor = models.BigIntegerField(default=0)
    payable_minor = models.BigIntegerField()
    refunded_minor = models.BigIntegerField(default=0)
    coupon_ids = models.JSONField(default=list, blank=True, help_text="the buyer coupons it locked")
    address = models.JSONField(default=dict, blank=True)
    payment = models.ForeignKey(
        Transaction, on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_index=False
    )
    expires_at = models.DateTimeField(help_text="closed, and everything released, if unpaid by then")
    created_at = models.DateTimeField()
    paid_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True, help_text="cancelled or closed")

    class Meta:
        ordering = ["-id"]
        constraints = [
            *_money_checks("order"),
            models.UniqueConstraint(
                fields=["payment"], condition=Q(payment__isnull=False), name="order_one_payment"
            ),
        ]
        indexes = [
            models.Index(
                fields=["expires_at"], condition=Q(status__in=UNPAID), name="order_unpaid_expiry_idx"
            )
        ]

    def __str__(self) -> str:
        return self.serial


class SubOrder(_Lifecycle):
    """One seller's part of an order: what it is paid (through the payment's split named by
    `serial`), its share of the discounts, and the commission the platform keeps."""

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="sub_orders")
    serial = models.CharField(max_length=40, unique=True)
    seller = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="+")
    warehouse = models.ForeignKey(
        Warehouse, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    category = models.CharField(max_length=64, blank=True)
    amount_minor = models.BigIntegerField()
    discount_minor = models.BigIntegerField(default=0)
    platform_discount_minor = models.BigIntegerField(
        default=0, help_text="the part of the discount the platform pays the seller (coupon subsidy)"
    )
    payable_minor = models.BigIntegerField()
    commission_minor = models.BigIntegerField(default=0)
    refunded_minor = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["id"]
        constraints = [
            *_money_checks("suborder"),
            models.CheckConstraint(
                condition=Q(platform_discount_minor__gte=0, platform_discount_minor__lte=F("discount_minor")),
                name="suborder_subsidy_within_discount",
            ),
            models.CheckConstraint(
                condition=Q(
                    commission_minor__gte=0,
                    commission_minor__lte=F("amount_minor")
                    - F("discount_minor")
                    + F("platform_discount_minor"),
                ),
                name="suborder_commission_within_share",
            ),
        ]

    def __str__(self) -> str:
        return self.serial


class OrderLine(models.Model):
    sub_order = models.ForeignKey(SubOrder, on_delete=models.PROTECT, related_name="lines")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="+")
    sku = models.ForeignKey(Sku, on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField()
    unit_price_minor = models.BigIntegerField()
    amount_minor = models.BigIntegerField()
    discount_minor = models.BigIntegerField(default=0)
    platform_discount_minor = models.BigIntegerField(default=0)
    payable_minor = models.BigIntegerField()
    refunded_minor = models.BigIntegerField(default=0)
    refunded_quantity = models.PositiveIntegerField(default=0)
    returned_quantity = models.PositiveIntegerField(default=0, help_text="units back in stock")

    class Meta:
        ordering = ["id"]
        constraints = [
            *_money_checks("orderline"),
            models.CheckConstraint(condition=Q(quantity__gte=1), name="orderline_quantity_positive"),
            models.CheckConstraint(
                condition=Q(amount_minor=F("unit_price_minor") * F("quantity")), name="orderline_amount"
            ),
            models.CheckConstraint(
                condition=Q(refunded_quantity__lte=F("quantity")), name="orderline_refunded_quantity"
            ),
            models.CheckConstraint(
                condition=Q(returned_quantity__lte=F("refunded_quantity")), name="orderline_returned_quantity"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.sku_id}"


class StockReservation(models.Model):
    """Units of one stock row promised to one line: reserved until the order is paid
    (deducted) or given up (released) — exactly once, by a conditional update."""

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="reservations")
    line = models.OneToOneField(OrderLine, on_delete=models.PROTECT, related_name="reservation")
    stock = models.ForeignKey(Stock, on_delete=models.PROTECT, related_name="reservations")
    quantity = models.PositiveIntegerField()
    status = models.CharField(
        max_length=16, choices=ReservationStatus.choices, default=ReservationStatus.RESERVED
    )
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=1), name="reservation_quantity_positive"),
            models.CheckConstraint(
                condition=Q(status=ReservationStatus.RESERVED, resolved_at__isnull=True)
                | (~Q(status=ReservationStatus.RESERVED) & Q(resolved_at__isnull=False)),
                name="reservation_resolved_at_matches_status",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} of {self.stock} ({self.status})"


class OrderRefund(models.Model):
    """A refund asked for one sub-order (and some of its lines), carried out by a ledger
    refund of the order's payment against the sub-order's split."""

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="refunds")
    sub_order = models.ForeignKey(SubOrder, on_delete=models.PROTECT, related_name="refunds")
    serial = models.CharField(max_length=48, unique=True, help_text="the ledger refund's out_refund_no")
    refund = models.OneToOneField(
        Transaction, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    amount_minor = models.BigIntegerField()
    lines = models.JSONField(default=list, blank=True, help_text="[{line, quantity, amount_minor}]")
    reason = models.CharField(max_length=255, blank=True)
    status = models.CharField(max_length=16, choices=RefundStatus.choices, default=RefundStatus.PENDING)
    created_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount_minor__gt=0), name="orderrefund_amount_positive")
        ]

    def __str__(self) -> str:
        return self.serial
