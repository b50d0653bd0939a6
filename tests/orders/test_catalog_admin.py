"""The catalog and order screens: every page renders, imports preview their row errors and
write nothing until confirmed, exports read back, and the buttons run the services."""

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from orders.models import (
    MarketplaceSeller,
    Order,
    OrderLine,
    PriceTier,
    Product,
    Sku,
    Stock,
    StockReservation,
    SubOrder,
    Warehouse,
)
from tests.orders.catalog_helpers import order_written

pytestmark = pytest.mark.django_db
PRODUCT_COLUMNS = [
    "sku",
    "seller_id",
    "product",
    "category",
    "status",
    "currency",
    "attributes",
    "price_tiers",
]


@pytest.fixture
def staff(client):
    user = get_user_model().objects.create_superuser(username="ops", password="pw", email="")
    client.force_login(user)
    return client


def _upload(staff, model: str, csv: str):
    url = reverse(f"admin:orders_{model}_import")
    upload = SimpleUploadedFile("rows.csv", csv.encode(), content_type="text/csv")
    return staff.post(url, {"import_file": upload, "format": "0", "resource": "0"})


def _confirm(staff, model: str, preview):
    form = preview.context["confirm_form"]
    data = {name: form.initial.get(name, field.initial) for name, field in form.fields.items()}
    return staff.post(
        reverse(f"admin:orders_{model}_process_import"), {k: v for k, v in data.items() if v is not None}
    )


def test_every_page_renders(staff, mall, onboarded):
    order = order_written(
        app=onboarded[1],
        stock=Stock.objects.get(sku__code="novel", warehouse=mall.north),
        quantity=2,
        unit_price=30_00,
        refunded_quantity=1,
        status="partially_refunded",
    )
    objects = [
        MarketplaceSeller.objects.first(),
        Warehouse.objects.first(),
        Product.objects.first(),
        Sku.objects.first(),
        Stock.objects.first(),
        order,
    ]
    for obj in objects:
        name = obj._meta.model_name
        listed = staff.get(reverse(f"admin:orders_{name}_changelist"))
        assert listed.status_code == 200, name
        shown = staff.get(reverse(f"admin:orders_{name}_change", args=[obj.pk]))
        assert shown.status_code == 200, name
    assert staff.get(reverse("admin:orders_warehouse_add")).status_code == 200
    assert staff.get(reverse("admin:orders_product_add")).status_code == 200
    page = staff.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()
    assert "60.00" in page and order.sub_orders.get().serial in page  # money readable, sub-order inline
    assert "novel" in page and "Mark returned" in page  # the line, and its refunded unit to take back
    assert "deducted" in page  # the reservation inline


def test_product_import_preview_shows_a_bad_row_and_writes_nothing(staff, mall):
    before = (Product.objects.count(), Sku.objects.count(), PriceTier.objects.count())
    csv = (
        "sku,seller_id,product,category,status,currency,attributes,price_tiers\n"
        f'pen-1,{mall.books.pk},Pen,stationery,active,CNY,"{{""colour"": ""red""}}",1:3.50;10:3.00\n'
        f"pen-2,{mall.books.pk},Pen,stationery,active,CNY,{{}},5:3.50\n"
    )

    preview = _upload(staff, "product", csv)

    assert preview.status_code == 200
    page = preview.content.decode()
    assert "invalid_price_tiers" in page and "confirm_form" not in preview.context
    assert (Product.objects.count(), Sku.objects.count(), PriceTier.objects.count()) == before


def test_product_import_applied_then_exported(staff, mall):
    csv = (
        "sku,seller_id,product,category,status,currency,attributes,price_tiers\n"
        f'pen-1,{mall.books.pk},Pen,stationery,active,CNY,"{{""colour"": ""red""}}",1:3.50;10:3.00\n'
        f"novel,{mall.books.pk},Novel,books,,CNY,{{}},1:31.00\n"
    )
    preview = _upload(staff, "product", csv)
    assert preview.status_code == 200 and "confirm_form" in preview.context, preview.content.decode()[:3000]
    assert not Sku.objects.filter(code="pen-1").exists()  # the preview was rolled back

    done = _confirm(staff, "product", preview)

    assert done.status_code == 302
    pen = Sku.objects.get(code="pen-1")
    assert pen.attributes == {"colour": "red"} and pen.product.status == "active"
    assert list(pen.price_tiers.values_list("min_quantity", "unit_price_minor")) == [(1, 3_50), (10, 3_00)]
    assert list(Sku.objects.get(code="novel").price_tiers.values_list("unit_price_minor", flat=True)) == [
        31_00
    ]

    exported = staff.post(
        reverse("admin:orders_product_export"),
        {"format": "0", "resource": "0", **{f"productresource_{c}": "on" for c in PRODUCT_COLUMNS}},
    )
    assert exported.status_code == 200
    text = exported.content.decode()
    assert "pen-1" in text and "1:3.50;10:3.00" in text and "novel" in text


def test_stock_import_refuses_below_reserved_and_unknown_rows(staff, mall):
    Stock.objects.filter(sku__code="novel", warehouse=mall.north).update(reserved=10)
    csv = "sku,warehouse,on_hand\nnovel,N,5\nghost,N,5\natlas,E,5\noolong,E,70\n"

    preview = _upload(staff, "stock", csv)

    page = preview.content.decode()
    assert "stock_below_reserved" in page and "Unknown SKU" in page and "no warehouse" in page
    assert "confirm_form" not in preview.context
    assert Stock.objects.get(sku__code="oolong").on_hand == 100  # nothing written

    good = _upload(staff, "stock", "sku,warehouse,on_hand\nnovel,N,12\noolong,E,70\n")
    assert "confirm_form" in good.context, good.content.decode()[:3000]
    assert _confirm(staff, "stock", good).status_code == 302
    assert Stock.objects.get(sku__code="oolong").on_hand == 70
    assert Stock.objects.get(sku__code="novel", warehouse=mall.north).on_hand == 12


def test_product_buttons_delist_and_activate(staff, mall):
    product = Product.objects.get(name="Novel")
    url = reverse("admin:orders_product_change", args=[product.pk])
    form = {"name": product.name, "category": product.category, "description": ""}
    inline = {"skus-TOTAL_FORMS": "1", "skus-INITIAL_FORMS": "1", "skus-MIN_NUM_FORMS": "0"}
    inline["skus-MAX_NUM_FORMS"] = "1000"
    inline["skus-0-id"] = str(product.skus.get().pk)
    inline["skus-0-product"] = str(product.pk)

    response = staff.post(url, {**form, **inline, "_fsm_transition_to": "delist"})

    assert response.status_code == 302, response.content.decode()[:2000]
    product.refresh_from_db()
    assert product.status == "delisted"
    staff.post(url, {**form, **inline, "_fsm_transition_to": "activate"})
    product.refresh_from_db()
    assert product.status == "active"


def test_order_buttons_fulfil_return_and_cancel(staff, mall, onboarded):
    app = onboarded[1]
    novel = Stock.objects.get(sku__code="novel", warehouse=mall.north)
    paid = order_written(app=app, stock=novel, quantity=2, unit_price=30_00, status="paid")
    sub = SubOrder.objects.get(order=paid)

    staff.post(reverse("admin:orders_order_fulfil", args=[paid.pk, sub.pk]))
    sub.refresh_from_db()
    paid.refresh_from_db()
    assert sub.status == "fulfilled" and paid.status == "fulfilled"

    refunded = order_written(
        app=app, stock=novel, quantity=2, unit_price=30_00, status="partially_refunded", refunded_quantity=1
    )
    line = OrderLine.objects.get(sub_order__order=refunded)
    url = reverse("admin:orders_order_returned", args=[refunded.pk, line.pk])
    assert staff.get(url).status_code == 405
    staff.post(url, {"quantity": "1"})
    staff.post(url, {"quantity": "1"})  # nothing more was refunded: refused, shown as a message
    line.refresh_from_db()
    novel.refresh_from_db()
    assert line.returned_quantity == 1 and novel.on_hand == 50 - 2 - 2 + 1

    unpaid = order_written(app=app, stock=novel, quantity=1, unit_price=30_00, status="created")
    response = staff.post(reverse("admin:orders_order_cancel", args=[unpaid.pk]))
    assert response.status_code == 302
    unpaid.refresh_from_db()
    assert unpaid.status == "cancelled"
    assert StockReservation.objects.get(order=unpaid).status == "released"
    assert Order.objects.filter(status="cancelled").count() == 1
