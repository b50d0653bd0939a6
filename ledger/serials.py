"""The payment center's own serial: kind prefix + UTC time to the microsecond + 6 random
digits, e.g. PAY20261123160512041234773105. Time-ordered, readable, unique by constraint
(a collision, which needs the same microsecond and the same random draw, is retried)."""

import secrets
from datetime import UTC, datetime

from ledger.choices import SERIAL_PREFIX


def serial_new(*, kind: str, now: datetime) -> str:
    stamp = now.astimezone(UTC).strftime("%Y%m%d%H%M%S%f")
    return f"{SERIAL_PREFIX[kind]}{stamp}{secrets.randbelow(10**6):06d}"
