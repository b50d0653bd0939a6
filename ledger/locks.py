"""Row locks of the ledger, in the one order used everywhere:
transaction → hold → accounts (ascending id; see ledger.balances)."""

from ledger.errors import TransactionNotFound
from ledger.models import Hold, Transaction


def transaction_for_update(*, transaction_id: int) -> Transaction:
    found = Transaction.objects.select_for_update().filter(pk=transaction_id).first()
    if found is None:
        raise TransactionNotFound()
    return found


def hold_for_update(*, hold_id: int) -> Hold:
    found = Hold.objects.select_for_update().select_related("account").filter(pk=hold_id).first()
    if found is None:
        raise TransactionNotFound("No such hold.")
    return found
