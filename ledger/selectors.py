import base64
import binascii
from dataclasses import dataclass
from datetime import datetime

from accounts.models import Account
from ledger.balances import pending_net
from ledger.errors import TransactionNotFound
from ledger.models import Posting, Transaction
from paycenter.errors import InvalidRequest, NotFound

STATEMENT_PAGE = 50
STATEMENT_PAGE_MAX = 200


@dataclass(frozen=True)
class Balance:
    """What an account holds now, buffered postings included (docs/ledger.md)."""

    account: Account
    total_minor: int
    available_minor: int
    frozen_minor: int
    currency: str
    status: str


def account_for_merchant(*, merchant_id: int, account_id: int) -> Account:
    """An account named in the URL: another merchant's is simply not found."""
    account = (
        Account.objects.select_related("customer").filter(pk=account_id, merchant_id=merchant_id).first()
    )
    if account is None:
        raise NotFound("No such account.")
    return account


def account_balance(*, account: Account) -> Balance:
    pending = pending_net(account_id=account.pk) if account.buffered else 0
    return Balance(
        account=account,
        total_minor=account.total_minor + pending,
        available_minor=account.available_minor + pending,
        frozen_minor=account.frozen_minor,
        currency=account.currency,
        status=account.status,
    )


def accounts_with_pending() -> list[int]:
    return list(Posting.objects.filter(applied=False).values_list("account_id", flat=True).distinct())


def encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"s{seq}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if not text.startswith("s"):
            raise ValueError(cursor)
        return int(text[1:])
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidRequest("The cursor is not one this API gave out.", field="cursor") from None


def statement_lines(
    *,
    account: Account,
    start: datetime | None = None,
    end: datetime | None = None,
    cursor: str | None = None,
    limit: int = STATEMENT_PAGE,
) -> tuple[list[Posting], str | None]:
    """Applied lines, newest first, and the cursor of the next page (None at the end)."""
    lines = (
        Posting.objects.filter(account=account, applied=True)
        .select_related("entry__transaction")
        .order_by("-seq")
    )
    if start is not None:
        lines = lines.filter(created_at__gte=start)
    if end is not None:
        lines = lines.filter(created_at__lt=end)
    if cursor:
        lines = lines.filter(seq__lt=decode_cursor(cursor))
    page = list(lines[: limit + 1])
    if len(page) > limit:
        return page[:limit], encode_cursor(page[limit - 1].seq)
    return page, None


def transaction_for_merchant(*, merchant_id: int, serial: str, kind: str) -> Transaction:
    txn = Transaction.objects.filter(serial=serial, merchant_id=merchant_id, kind=kind).first()
    if txn is None:
        raise TransactionNotFound()
    return txn
