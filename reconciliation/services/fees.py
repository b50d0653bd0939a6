"""Channel fees into the journal (reconciliation item 3): the fees of a batch's lines that
matched a transaction of ours with no open discrepancy, posted once per currency in one
database transaction with the lines marked by a conditional UPDATE — so a re-run, a
re-import or a second match posts nothing twice. Lines with an open discrepancy wait for
its resolution. Matching itself never posts (it changes nothing in the ledger)."""

from collections import defaultdict
from datetime import datetime

from django.db import transaction
from django.db.models import Exists, OuterRef

from ledger.services.fees import channel_fees_post
from reconciliation.choices import DiscrepancyState
from reconciliation.models import Discrepancy, ReconBatch, StatementLine


@transaction.atomic(durable=True)
def batch_fees_post(*, batch_id: int, now: datetime) -> int:
    """Returns how many lines' fees were posted now (0 when all were already)."""
    batch = ReconBatch.objects.select_for_update().get(pk=batch_id)  # one poster per batch
    open_difference = Discrepancy.objects.filter(line=OuterRef("pk"), state=DiscrepancyState.OPEN)
    due = (
        StatementLine.objects.filter(batch=batch, transaction__isnull=False, fee_posting__isnull=True)
        .exclude(fee_minor=0)
        .exclude(Exists(open_difference))
        .values_list("pk", "currency", "fee_minor")
    )
    by_currency: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for pk, currency, fee in due:
        by_currency[currency].append((pk, fee))
    posted = 0
    for currency, lines in sorted(by_currency.items()):
        net = sum(fee for _, fee in lines)
        if net == 0:
            continue  # fees taken and given back cancel out: nothing moved
        txn = channel_fees_post(
            merchant_channel_id=batch.merchant_channel_id,
            currency=currency,
            fee_minor=net,
            memo=f"channel fees, statement of {batch.statement_date:%Y-%m-%d}",
            now=now,
        )
        posted += StatementLine.objects.filter(
            pk__in=[pk for pk, _ in lines], fee_posting__isnull=True
        ).update(fee_posting=txn)
    return posted
