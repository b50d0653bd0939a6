from paycenter.errors import Conflict, NotFound, PaycenterError, RateLimited, Unprocessable


class InsufficientFunds(Unprocessable):
    code = "insufficient_funds"
    default_message = "The account does not have enough available funds."


class AccountNotActive(Unprocessable):
    code = "account_not_active"
    default_message = "The account is frozen or closed."


class CurrencyMismatch(Unprocessable):
    code = "currency_mismatch"
    default_message = "The accounts and the amount must be in one currency."


class SameAccount(Unprocessable):
    code = "same_account"
    default_message = "A transfer needs two different accounts."


class AccountNotFound(NotFound):
    code = "account_not_found"
    default_message = "No such account."


class TransactionNotFound(NotFound):
    code = "not_found"
    default_message = "No such transaction."


class HoldAlreadyResolved(Conflict):
    code = "hold_already_resolved"
    default_message = "The hold was already confirmed, cancelled or expired."


class HoldKeyReused(Conflict):
    code = "hold_key_reused"
    default_message = "This hold key was used for another account or amount."


class InvalidState(Conflict):
    code = "invalid_state"


class UnbalancedEntry(PaycenterError):
    """A programming error: services must never build one. The database refuses it too."""

    code = "unbalanced_entry"
    status = 500


class RetryTooSoon(RateLimited):
    code = "retry_too_soon"
    default_message = "This out_trade_no failed less than 15 seconds ago; retry later."


class RefundExceedsPayment(Unprocessable):
    code = "refund_exceeds_payment"
    default_message = "Refunds would exceed what was paid."


class RefundNeedsSplit(Unprocessable):
    code = "refund_needs_split"
    default_message = "This payment is split between merchants: refund it by its order's sub-order."


class SplitNotFound(NotFound):
    code = "split_not_found"
    default_message = "The payment has no split by that reference."


class DuplicateOutTradeNo(Conflict):
    code = "duplicate_out_trade_no"
    default_message = "This app already used this out_trade_no."
