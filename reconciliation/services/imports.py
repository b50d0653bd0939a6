"""Statement imports (F1): the file is read twice, as a stream — once to check every row,
once to store them — so a file with unreadable rows is refused before anything is
written, and a statement of a million lines never sits in memory.

Lines go in chunks, each chunk its own transaction, with INSERT … ON CONFLICT DO NOTHING
on (channel, line type, channel serial): an import killed halfway is simply run again,
and a file imported twice adds nothing. That is why this service does not hold one
transaction around the whole import, as other use cases do."""

import contextlib
from collections.abc import Iterator
from datetime import date, datetime
from itertools import islice
from pathlib import Path
from typing import BinaryIO

from django.conf import settings
from django.db import transaction

from channels.models import MerchantChannel
from paycenter.errors import NotFound
from reconciliation.choices import BatchState
from reconciliation.errors import BatchClosed, BatchFormatMismatch, StatementInvalid
from reconciliation.models import ReconBatch, StatementLine
from reconciliation.parsers import PARSERS, Row, RowError

MAX_ERRORS_KEPT = 100


@contextlib.contextmanager
def _opened(file: str | Path | BinaryIO) -> Iterator[BinaryIO]:
    if isinstance(file, str | Path):
        with open(file, "rb") as stream:
            yield stream
    else:
        file.seek(0)
        yield file


def statement_check(*, format: str, file: str | Path | BinaryIO) -> tuple[int, list[RowError], dict]:
    """(readable rows, row errors (the first MAX_ERRORS_KEPT), the statement's totals); a
    file that cannot be read at all raises StatementInvalid. Writes nothing: the preview."""
    if format not in PARSERS:
        raise StatementInvalid(f"Unknown statement format {format!r}.")
    rows, errors, error_count = 0, [], 0
    with _opened(file) as stream:
        parsed = PARSERS[format](stream)
        for item in parsed:
            if isinstance(item, RowError):
                error_count += 1
                if len(errors) < MAX_ERRORS_KEPT:
                    errors.append(item)
            else:
                rows += 1
        return rows, errors, dict(parsed.totals, error_count=error_count) if error_count else parsed.totals


def _batch_open(*, mc: MerchantChannel, format: str, day: date, now: datetime) -> ReconBatch:
    with transaction.atomic():
        batch, _ = ReconBatch.objects.get_or_create(
            merchant_channel=mc, statement_date=day, defaults={"format": format, "created_at": now}
        )
    if batch.state == BatchState.CLOSED:
        raise BatchClosed()
    if batch.format != format:
        raise BatchFormatMismatch(f"{day} of this merchant channel was imported as {batch.format}.")
    return batch


def _line(batch: ReconBatch, channel: str, row: Row) -> StatementLine:
    return StatementLine(
        batch=batch,
        channel=channel,
        line_type=row.line_type,
        channel_serial=row.channel_serial,
        serial=row.serial,
        out_trade_no=row.out_trade_no,
        amount_minor=row.amount_minor,
        fee_minor=row.fee_minor,
        currency=row.currency,
        completed_at=row.completed_at,
        status=row.status[:24],
        raw=row.raw,
        row_number=row.row_number,
    )


def statement_import(
    *,
    merchant_channel_id: int,
    format: str,
    day: date,
    file: str | Path | BinaryIO,
    now: datetime,
    skip_invalid_rows: bool = False,
) -> ReconBatch:
    """Store the statement's lines in the merchant channel's batch for `day` (made on first
    import). Rows that cannot be read refuse the whole file (StatementInvalid with the rows
    and why) unless `skip_invalid_rows` — the admin's confirm after a preview — in which
    case the readable rows are stored and the others listed on the batch."""
    mc = MerchantChannel.objects.filter(pk=merchant_channel_id).first()
    if mc is None:
        raise NotFound("No such merchant channel.")
    _, errors, totals = statement_check(format=format, file=file)
    if errors and not skip_invalid_rows:
        count = totals.get("error_count", len(errors))
        raise StatementInvalid(f"{count} row(s) cannot be read; nothing was imported.", errors=errors)
    batch = _batch_open(mc=mc, format=format, day=day, now=now)
    chunk_size = settings.RECON_IMPORT_CHUNK_ROWS
    with _opened(file) as stream:
        rows = (item for item in PARSERS[format](stream) if isinstance(item, Row))
        while chunk := list(islice(rows, chunk_size)):
            with transaction.atomic():
                StatementLine.objects.bulk_create(
                    [_line(batch, mc.channel, row) for row in chunk], ignore_conflicts=True
                )
    with transaction.atomic():
        # New lines reopen a matched day: it has to be matched again.
        ReconBatch.objects.filter(pk=batch.pk).exclude(state=BatchState.CLOSED).update(
            state=BatchState.IMPORTED,
            statement_totals=totals,
            import_errors=[{"row": e.row_number, "column": e.column, "message": e.message} for e in errors],
            imported_at=now,
        )
    batch.refresh_from_db()
    return batch
