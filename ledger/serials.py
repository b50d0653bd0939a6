"""The payment center's own serial: kind prefix + UTC time to the microsecond + 4 random
digits, e.g. PAY202611231605120412347731. Time-ordered, readable, unique by constraint."""

import secrets
from datetime import UTC, datetime

from ledger.choices import SERIAL_PREFIX


def serial_new(*, kind: str, now: datetime) -> str:
    stamp = now.astimezone(UTC).strftime("%Y%m%d%H%M%S%f")
    return f"{SERIAL_PREFIX[kind]}{stamp}{secrets.randbelow(10**4):04d}"
