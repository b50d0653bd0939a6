from accounts.choices import AccountKind
from accounts.models import Account
from ledger.services.journal import account_apply_pending
from ledger.verify import ledger_verify


def assert_ledger_clean():
    report = ledger_verify()
    assert report.clean, "\n".join(report.lines())


def settled_balance(merchant=None, *, kind=AccountKind.MERCHANT_SETTLEMENT) -> int:
    """The total of a merchant's (or, without one, the platform's) account of that kind, its
    buffered postings applied first; 0 when it was never opened."""
    account = Account.objects.filter(kind=kind, merchant=merchant, customer__isnull=True).first()
    if account is None:
        return 0
    account_apply_pending(account_id=account.pk)
    account.refresh_from_db()
    return account.total_minor
