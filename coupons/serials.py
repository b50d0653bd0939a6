"""A buyer coupon's public id: CPN + UTC time to the microsecond + 6 random digits, e.g.
CPN20261203173114017084512093 — time-ordered and readable like the ledger's serials; a
collision (same microsecond, same draw) is refused by the unique constraint and retried."""

import secrets
from datetime import UTC, datetime

PREFIX = "CPN"


def coupon_serial_new(*, now: datetime) -> str:
    return f"{PREFIX}{now.astimezone(UTC):%Y%m%d%H%M%S%f}{secrets.randbelow(10**6):06d}"
