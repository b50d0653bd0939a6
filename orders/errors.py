from paycenter.errors import Conflict, NotFound, Unprocessable


class InsufficientStock(Conflict):
    code = "insufficient_stock"

    def __init__(self, sku: str) -> None:
        super().__init__(f"Not enough stock of {sku}.", field="items")
        self.sku = sku


class UnknownSku(Unprocessable):
    code = "unknown_sku"

    def __init__(self, sku: str) -> None:
        super().__init__(f"{sku} is not a product this app may order.", field="items")


class OrderNotFound(NotFound):
    code = "order_not_found"
    default_message = "No such order."


class SubOrderNotFound(NotFound):
    code = "sub_order_not_found"
    default_message = "No such sub-order in this order."


class OrderNotPayable(Conflict):
    code = "order_not_payable"


class OrderNotRefundable(Conflict):
    code = "order_not_refundable"


class OrderRefundExceedsPaid(Unprocessable):
    code = "refund_exceeds_payment"


class OrderState(Conflict):
    code = "invalid_state"


# The catalog (orders.services.catalog, and the admin's imports through it).


class StockBelowReserved(Conflict):
    code = "stock_below_reserved"

    def __init__(self, sku: str, reserved: int) -> None:
        super().__init__(
            f"{sku}: on hand cannot go below the {reserved} units reserved for unpaid orders.",
            field="on_hand",
        )


class InvalidPriceTiers(Unprocessable):
    code = "invalid_price_tiers"


class CatalogCodeTaken(Conflict):
    code = "code_taken"


class CatalogNotFound(NotFound):
    code = "not_found"


class WarehouseNotOfSeller(Unprocessable):
    code = "warehouse_not_of_seller"
    default_message = "The warehouse belongs to another merchant than the SKU's seller."


class SellerInvalid(Unprocessable):
    code = "invalid_seller"


class ProductState(Conflict):
    code = "invalid_state"


class SellerAlreadyAdded(Conflict):
    code = "seller_already_added"
    default_message = "The seller already sells through this marketplace."


class ReturnExceedsRefunded(Conflict):
    code = "return_exceeds_refunded"
    default_message = "More units than were refunded and not yet returned."
