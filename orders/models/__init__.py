"""Catalog (what can be ordered, at what price, from which warehouse) and checkout (orders,
sub-orders, lines, stock reservations and refunds by sub-order)."""

from orders.models.catalog import MarketplaceSeller, PriceTier, Product, Sku, Stock, Warehouse
from orders.models.checkout import Order, OrderLine, OrderRefund, StockReservation, SubOrder

__all__ = [
    "MarketplaceSeller",
    "Order",
    "OrderLine",
    "OrderRefund",
    "PriceTier",
    "Product",
    "Sku",
    "Stock",
    "StockReservation",
    "SubOrder",
    "Warehouse",
]
