"""Goods returned for a refunded line go back to the stock row they were taken from, at most
the units refunded, exactly once however many people mark them at once."""

from collections import Counter

import pytest
from django.utils import timezone

from orders.errors import ReturnExceedsRefunded
from orders.models import OrderLine, Stock
from orders.services.returns import order_line_returned
from paycenter.errors import PaycenterError
from tests.orders.catalog_helpers import order_written
from tests.payments.test_concurrency import in_threads


def _line(mall, app, *, refund_units: int, status: str = "partially_refunded") -> OrderLine:
    """Two novels bought from the north warehouse (50 → 48), `refund_units` of them refunded."""
    stock = Stock.objects.get(sku__code="novel", warehouse=mall.north)
    order = order_written(
        app=app, stock=stock, quantity=2, unit_price=30_00, status=status, refunded_quantity=refund_units
    )
    return OrderLine.objects.get(sub_order__order=order)


@pytest.mark.django_db
def test_returned_units_go_back_to_their_warehouse_up_to_the_refunded_units(mall, onboarded):
    line = _line(mall, onboarded[1], refund_units=1)
    stock = Stock.objects.get(sku__code="novel", warehouse=mall.north)
    assert stock.on_hand == 48

    order_line_returned(line_id=line.pk, quantity=1, now=timezone.now())

    stock.refresh_from_db()
    line.refresh_from_db()
    assert (stock.on_hand, stock.reserved, line.returned_quantity) == (49, 0, 1)
    with pytest.raises(ReturnExceedsRefunded) as refused:
        order_line_returned(line_id=line.pk, quantity=1, now=timezone.now())
    assert (refused.value.code, refused.value.status) == ("return_exceeds_refunded", 409)
    stock.refresh_from_db()
    assert stock.on_hand == 49


@pytest.mark.django_db
def test_nothing_comes_back_before_a_refund_or_for_an_unpaid_order(mall, onboarded):
    line = _line(mall, onboarded[1], refund_units=0, status="paid")
    with pytest.raises(ReturnExceedsRefunded):
        order_line_returned(line_id=line.pk, quantity=1, now=timezone.now())
    for bad in (0, -1):
        with pytest.raises(PaycenterError) as refused:
            order_line_returned(line_id=line.pk, quantity=bad, now=timezone.now())
        assert refused.value.code == "invalid_request"
    unpaid_line = _line(mall, onboarded[1], refund_units=0, status="created")
    with pytest.raises(PaycenterError) as refused:
        order_line_returned(line_id=unpaid_line.pk, quantity=1, now=timezone.now())
    assert (refused.value.code, refused.value.status) == ("invalid_state", 409)


@pytest.mark.django_db(transaction=True)
def test_two_people_returning_the_last_refunded_unit_return_it_once(mall, onboarded):
    line = _line(mall, onboarded[1], refund_units=1)

    def mark(_):
        try:
            order_line_returned(line_id=line.pk, quantity=1, now=timezone.now())
            return "returned"
        except ReturnExceedsRefunded as refused:
            return refused.code

    outcomes = Counter(in_threads(8, mark))

    assert outcomes == {"returned": 1, "return_exceeds_refunded": 7}, outcomes
    line.refresh_from_db()
    stock = Stock.objects.get(sku__code="novel", warehouse=mall.north)
    assert (line.returned_quantity, stock.on_hand) == (1, 49)
