"""Channel fees (F1, reconciliation item 3): what a channel kept of a merchant's money, as its
statement says, moved from the merchant's settlement account to the platform's channel-fees
account — or back, when refunds returned more fees than the day's payments took. One
record (`FEE…`) and one entry per posting; the caller (reconciliation) makes sure a line's
fee is posted once."""

from datetime import datetime

from django.db import transaction

from accounts.choices import AccountKind
from accounts.services import platform_account_get_or_open
from channels.models import MerchantChannel
from ledger.choices import Direction, TransactionKind, TransactionStatus
from ledger.models import Transaction
from ledger.services.journal import Leg, journal_post
from ledger.services.records import settlement_account_get_or_open, transaction_insert

FEE_ENTRY = "channel_fee"


@transaction.atomic
def channel_fees_post(
    *, merchant_channel_id: int, currency: str, fee_minor: int, memo: str, now: datetime
) -> Transaction:
    """`fee_minor`: the net fee, positive when the channel kept money, negative when it gave
    some back; never 0."""
    if fee_minor == 0:
        raise ValueError("a fee posting moves money")
    mc = MerchantChannel.objects.get(pk=merchant_channel_id)
    merchant = settlement_account_get_or_open(merchant_id=mc.merchant_id, currency=currency, now=now)
    fees = platform_account_get_or_open(kind=AccountKind.CHANNEL_FEES, currency=currency, now=now)
    amount = abs(fee_minor)
    txn = transaction_insert(
        kind=TransactionKind.FEE,
        status=TransactionStatus.SUCCEEDED,
        amount_minor=amount,
        currency=currency,
        merchant_id=mc.merchant_id,
        merchant_channel=mc,
        channel=mc.channel,
        payer_account=merchant if fee_minor > 0 else fees,
        payee_account=fees if fee_minor > 0 else merchant,
        memo=memo[:255],
        finished_at=now,
        now=now,
    )
    payer, payee = (merchant, fees) if fee_minor > 0 else (fees, merchant)
    journal_post(
        txn=txn,
        reason=FEE_ENTRY,
        legs=[
            Leg(account=payer, direction=Direction.DEBIT, amount_minor=amount),
            Leg(account=payee, direction=Direction.CREDIT, amount_minor=amount),
        ],
        now=now,
    )
    return txn
