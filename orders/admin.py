"""The catalog and orders in the admin. The catalog changes through orders.services (product
state buttons, spreadsheet imports of products and stock); orders are read-only, with
buttons — cancel, mark a sub-order fulfilled, mark a line's goods returned — that post to
their own views, so each durable service runs outside the change form's transaction (a
cancel may call the channel to close the payment)."""

from django.contrib import admin, messages
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django_fsm.admin import FSMAdminMixin
from import_export.admin import ImportExportModelAdmin

from orders.choices import REFUNDABLE, UNPAID, OrderStatus
from orders.models import (
    MarketplaceSeller,
    Order,
    OrderLine,
    OrderRefund,
    PriceTier,
    Product,
    Sku,
    Stock,
    StockReservation,
    SubOrder,
    Warehouse,
)
from orders.resources import ProductResource, StockResource
from orders.services import catalog, returns
from orders.services.catalog import price_tiers_format
from paycenter.adminutils import ReadOnlyAdmin, amount_column
from paycenter.errors import PaycenterError
from paycenter.money import format_minor

PRODUCT_TRANSITIONS = {"activate": catalog.product_activate, "delist": catalog.product_delist}


class _ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(MarketplaceSeller)
class MarketplaceSellerAdmin(ReadOnlyAdmin):
    list_display = ["marketplace", "seller", "commission", "active", "created_at"]
    list_filter = ["active"]
    list_select_related = ["marketplace", "seller"]
    search_fields = ["marketplace__name", "seller__name"]

    @admin.display(description="commission", ordering="commission_bps")
    def commission(self, link: MarketplaceSeller) -> str:
        return f"{link.commission_bps / 100:g}%"


@admin.register(Warehouse)
class WarehouseAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "merchant", "created_at"]
    list_select_related = ["merchant"]
    search_fields = ["code", "name", "merchant__name"]
    fields = ["merchant", "code", "name"]

    def get_readonly_fields(self, request: HttpRequest, obj: Warehouse | None = None) -> list[str]:
        return [] if obj is None else ["merchant", "code", "name"]

    def save_model(self, request: HttpRequest, obj: Warehouse, form: object, change: bool) -> None:
        created = catalog.warehouse_create(
            merchant_id=obj.merchant_id,
            code=obj.code,
            name=obj.name,
            actor=request.user.get_username(),
            now=timezone.now(),
        )
        obj.pk = created.pk

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class SkuInline(_ReadOnlyInline):
    model = Sku
    fields = ["code", "attributes", "currency", "active", "tiers", "available"]
    readonly_fields = fields
    show_change_link = True

    def get_queryset(self, request: HttpRequest) -> QuerySet[Sku]:
        return super().get_queryset(request).prefetch_related("price_tiers", "stocks")

    @admin.display(description="price tiers")
    def tiers(self, sku: Sku) -> str:
        return price_tiers_format(sku.price_tiers.all(), sku.currency)

    @admin.display(description="available")
    def available(self, sku: Sku) -> int:
        return sum(stock.available for stock in sku.stocks.all())


@admin.register(Product)
class ProductAdmin(FSMAdminMixin, ImportExportModelAdmin):
    """Products one row per SKU in the spreadsheet (ProductResource); Activate and Delist
    buttons run the services."""

    resource_classes = [ProductResource]
    list_display = ["id", "name", "seller", "category", "status", "sku_count", "created_at"]
    list_filter = ["status", "category"]
    list_select_related = ["seller"]
    search_fields = ["name", "skus__code", "seller__name"]
    fsm_fields = ["status"]
    inlines = [SkuInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Product]:
        return super().get_queryset(request).annotate(sku_total=Count("skus"))

    @admin.display(description="SKUs", ordering="sku_total")
    def sku_count(self, product: Product) -> int:
        return product.sku_total

    def get_fields(self, request: HttpRequest, obj: Product | None = None) -> list[str]:
        editable = ["name", "category", "description"]
        return ["seller", *editable] if obj is None else ["seller", *editable, "status", "created_at"]

    def get_readonly_fields(self, request: HttpRequest, obj: Product | None = None) -> list[str]:
        return [] if obj is None else ["seller", "status", "created_at"]

    def save_model(self, request: HttpRequest, obj: Product, form: object, change: bool) -> None:
        actor, now = request.user.get_username(), timezone.now()
        if change:
            catalog.product_update(
                product_id=obj.pk,
                name=obj.name,
                category=obj.category,
                description=obj.description,
                actor=actor,
                now=now,
            )
            return
        created = catalog.product_create(
            seller_id=obj.seller_id,
            name=obj.name,
            category=obj.category,
            description=obj.description,
            actor=actor,
            now=now,
        )
        obj.pk = created.pk

    def _apply_fsm_transition(
        self, *, obj: Product, transition_name: str, request: HttpRequest, kwargs: object = None
    ) -> bool:
        service = PRODUCT_TRANSITIONS.get(transition_name)
        if service is None:
            self.message_user(request, f"Unknown action {transition_name}.", level=messages.ERROR)
            return False
        try:
            service(product_id=obj.pk, actor=request.user.get_username(), now=timezone.now())
        except PaycenterError as exc:
            self.message_user(request, exc.message, level=messages.ERROR)
            return False
        self.message_user(request, f"Product {obj.name}: {transition_name} done.", level=messages.SUCCESS)
        return True

    def get_import_resource_kwargs(self, request: HttpRequest, **kwargs: object) -> dict:
        return {**super().get_import_resource_kwargs(request, **kwargs), "actor": request.user.get_username()}

    def get_export_queryset(self, request: HttpRequest) -> QuerySet[Sku]:
        # One row per SKU of the products the list shows.
        return Sku.objects.filter(product__in=super().get_export_queryset(request).values("pk"))

    def has_import_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("orders.change_product")

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class PriceTierInline(_ReadOnlyInline):
    model = PriceTier
    fields = ["min_quantity", "unit_price"]
    readonly_fields = fields

    @admin.display(description="unit price")
    def unit_price(self, tier: PriceTier) -> str:
        return format_minor(tier.unit_price_minor, tier.sku.currency)


class StockInline(_ReadOnlyInline):
    model = Stock
    fields = ["warehouse", "on_hand", "reserved", "available"]
    readonly_fields = fields


@admin.register(Sku)
class SkuAdmin(ReadOnlyAdmin):
    list_display = ["code", "product", "currency", "active", "tiers", "available"]
    list_filter = ["active", "currency"]
    search_fields = ["code", "product__name"]
    list_select_related = ["product"]
    inlines = [PriceTierInline, StockInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Sku]:
        return super().get_queryset(request).prefetch_related("price_tiers", "stocks")

    @admin.display(description="price tiers")
    def tiers(self, sku: Sku) -> str:
        return price_tiers_format(sku.price_tiers.all(), sku.currency)

    @admin.display(description="available")
    def available(self, sku: Sku) -> int:
        return sum(stock.available for stock in sku.stocks.all())


@admin.register(Stock)
class StockAdmin(ImportExportModelAdmin, ReadOnlyAdmin):
    """Counts come in by spreadsheet (sku, warehouse, on_hand): each row through stock_set,
    which refuses to go below what unpaid orders hold."""

    resource_classes = [StockResource]
    list_display = ["sku", "warehouse", "on_hand", "reserved", "available"]
    list_select_related = ["sku", "warehouse"]
    list_filter = ["warehouse"]
    search_fields = ["sku__code", "warehouse__code"]

    @admin.display(description="available")
    def available(self, stock: Stock) -> int:
        return stock.available

    def get_import_resource_kwargs(self, request: HttpRequest, **kwargs: object) -> dict:
        return {**super().get_import_resource_kwargs(request, **kwargs), "actor": request.user.get_username()}

    def has_import_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("orders.change_stock")


class SubOrderInline(_ReadOnlyInline):
    model = SubOrder
    fields = ["serial", "seller", "warehouse", "category", "status", "amount", "discount", "payable"]
    fields += ["commission", "refunded"]
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[SubOrder]:
        return super().get_queryset(request).select_related("order", "seller", "warehouse")

    def _money(self, sub: SubOrder, field: str) -> str:
        return format_minor(getattr(sub, field), sub.order.currency)

    @admin.display(description="amount")
    def amount(self, sub: SubOrder) -> str:
        return self._money(sub, "amount_minor")

    @admin.display(description="discount")
    def discount(self, sub: SubOrder) -> str:
        return self._money(sub, "discount_minor")

    @admin.display(description="payable")
    def payable(self, sub: SubOrder) -> str:
        return self._money(sub, "payable_minor")

    @admin.display(description="commission")
    def commission(self, sub: SubOrder) -> str:
        return self._money(sub, "commission_minor")

    @admin.display(description="refunded")
    def refunded(self, sub: SubOrder) -> str:
        return self._money(sub, "refunded_minor")


class ReservationInline(_ReadOnlyInline):
    model = StockReservation
    fields = ["line", "stock", "quantity", "status", "expires_at", "resolved_at"]
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[StockReservation]:
        return super().get_queryset(request).select_related("stock__sku", "stock__warehouse", "line")


class OrderRefundInline(_ReadOnlyInline):
    model = OrderRefund
    fk_name = "order"
    fields = ["serial", "sub_order", "amount", "status", "reason", "refund", "created_at", "finished_at"]
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[OrderRefund]:
        return super().get_queryset(request).select_related("order", "sub_order", "refund")

    @admin.display(description="amount")
    def amount(self, refund: OrderRefund) -> str:
        return format_minor(refund.amount_minor, refund.order.currency)


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    list_display = ["serial", "buyer", "status", "amount", "discount", "payable", "refunded", "currency"]
    list_display += ["created_at"]
    list_filter = ["status", "currency", "split_by"]
    search_fields = ["serial", "customer__external_id"]
    list_select_related = ["customer"]
    date_hierarchy = "created_at"
    change_form_template = "admin/orders/order/change_form.html"
    inlines = [SubOrderInline, ReservationInline, OrderRefundInline]
    readonly_fields = ["amount", "discount", "payable", "refunded", "payment_link", "lines"]
    fieldsets = [
        (None, {"fields": ["serial", "status", "merchant", "app", "customer", "currency", "split_by"]}),
        ("Money", {"fields": ["amount", "discount", "payable", "refunded", "payment_link", "coupon_ids"]}),
        ("Lines", {"fields": ["lines"]}),
        ("More", {"fields": ["address", "expires_at", "created_at", "paid_at", "finished_at"]}),
    ]
    amount = amount_column("amount_minor", "amount")
    discount = amount_column("discount_minor", "discount")
    payable = amount_column("payable_minor", "payable")
    refunded = amount_column("refunded_minor", "refunded")

    @admin.display(description="buyer", ordering="customer__external_id")
    def buyer(self, order: Order) -> str:
        return order.customer.external_id

    @admin.display(description="payment")
    def payment_link(self, order: Order) -> str:
        if order.payment_id is None:
            return "—"
        url = reverse("admin:ledger_transaction_change", args=[order.payment_id])
        return format_html('<a href="{}">{}</a>', url, order.payment.serial)

    @admin.display(description="lines")
    def lines(self, order: Order) -> str:
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    line.sub_order.serial,
                    line.sku.code,
                    line.quantity,
                    format_minor(line.unit_price_minor, order.currency),
                    format_minor(line.payable_minor, order.currency),
                    line.refunded_quantity,
                    format_minor(line.refunded_minor, order.currency),
                    line.returned_quantity,
                )
                for line in self._lines(order)
            ),
        )
        columns = ("sub-order", "SKU", "quantity", "unit price", "payable", "refunded units", "refunded")
        header = format_html_join("", "<th>{}</th>", ((c,) for c in (*columns, "returned units")))
        return format_html("<table><tr>{}</tr>{}</table>", header, rows)

    @staticmethod
    def _lines(order: Order) -> list:
        return list(OrderLine.objects.filter(sub_order__order=order).select_related("sub_order", "sku"))

    # Buttons: each posts to its own view, outside the change form and its transaction.

    def get_urls(self) -> list:
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/cancel/", view(self.cancel_view), name="orders_order_cancel"),
            path(
                "<int:pk>/sub-orders/<int:sub_id>/fulfil/",
                view(self.fulfil_view),
                name="orders_order_fulfil",
            ),
            path(
                "<int:pk>/lines/<int:line_id>/returned/",
                view(self.returned_view),
                name="orders_order_returned",
            ),
            *super().get_urls(),
        ]

    def _act(self, request: HttpRequest, pk: int, done: str, call: object) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        back = HttpResponseRedirect(reverse("admin:orders_order_change", args=[pk]))
        if not request.user.has_perm("orders.change_order"):
            self.message_user(request, "Only operations staff may change orders.", messages.ERROR)
            return back
        try:
            call()
        except PaycenterError as exc:
            self.message_user(request, exc.message, messages.ERROR)
        else:
            self.message_user(request, done, messages.SUCCESS)
        return back

    def cancel_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        # Imported here: lifecycle pulls in coupons and the ledger's payment close, which the
        # catalog screens do not need to load.
        from orders.services.lifecycle import order_cancel

        return self._act(
            request, pk, "Order cancelled.", lambda: order_cancel(order_id=pk, now=timezone.now())
        )

    def fulfil_view(self, request: HttpRequest, pk: int, sub_id: int) -> HttpResponse:
        from orders.services.lifecycle import sub_order_fulfil

        if not SubOrder.objects.filter(pk=sub_id, order_id=pk).exists():
            return HttpResponseRedirect(reverse("admin:orders_order_change", args=[pk]))
        return self._act(
            request,
            pk,
            "Sub-order marked fulfilled.",
            lambda: sub_order_fulfil(
                sub_order_id=sub_id, actor=request.user.get_username(), now=timezone.now()
            ),
        )

    def returned_view(self, request: HttpRequest, pk: int, line_id: int) -> HttpResponse:
        if not OrderLine.objects.filter(pk=line_id, sub_order__order_id=pk).exists():
            return HttpResponseRedirect(reverse("admin:orders_order_change", args=[pk]))
        quantity = request.POST.get("quantity", "")
        return self._act(
            request,
            pk,
            f"{quantity} unit(s) back in stock.",
            lambda: returns.order_line_returned(
                line_id=line_id,
                quantity=int(quantity) if quantity.isdigit() else 0,
                actor=request.user.get_username(),
                now=timezone.now(),
            ),
        )

    def render_change_form(
        self, request: HttpRequest, context: dict, *args: object, **kwargs: object
    ) -> HttpResponse:
        order = context.get("original")
        actions, returnable = [], []
        if order is not None and request.user.has_perm("orders.change_order"):
            if order.status in UNPAID:
                actions.append(("Cancel", reverse("admin:orders_order_cancel", args=[order.pk])))
            for sub in order.sub_orders.filter(status=OrderStatus.PAID).order_by("id"):
                url = reverse("admin:orders_order_fulfil", args=[order.pk, sub.pk])
                actions.append((f"Fulfil {sub.serial}", url))
            if order.status in (*REFUNDABLE, OrderStatus.REFUNDED):
                returnable = [
                    (
                        f"{line.sku.code} ({line.sub_order.serial})",
                        line.refunded_quantity - line.returned_quantity,
                        reverse("admin:orders_order_returned", args=[order.pk, line.pk]),
                    )
                    for line in self._lines(order)
                    if line.refunded_quantity > line.returned_quantity
                ]
        context["order_actions"] = actions
        context["order_returns"] = returnable
        return super().render_change_form(request, context, *args, **kwargs)
