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
