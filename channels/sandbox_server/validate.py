"""Field checks for JSON bodies; each failure is a 400 naming the field."""

from urllib.parse import urlsplit

from .errors import SandboxError


def integer(data: dict, key: str, *, default: int, low: int, high: int) -> int:
    value = data.get(key)
    if value is None:
        return default
    # bool is an int in Python; `true` is not a count.
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise SandboxError(400, "INVALID_PARAMETER", f"{key} must be an integer from {low} to {high}")
    return value


def text(data: dict, key: str, *, required: bool = False, max_length: int = 256) -> str | None:
    value = data.get(key)
    if value is None or value == "":
        if required:
            raise SandboxError(400, "INVALID_PARAMETER", f"{key} is required")
        return None
    if not isinstance(value, str) or len(value) > max_length:
        raise SandboxError(
            400, "INVALID_PARAMETER", f"{key} must be a string of at most {max_length} characters"
        )
    return value


def url(data: dict, key: str) -> str | None:
    value = text(data, key, max_length=2048)
    if value is not None:
        parts = urlsplit(value)
        if parts.scheme not in {"http", "https"} or not parts.netloc:
            raise SandboxError(400, "INVALID_PARAMETER", f"{key} must be an http(s) URL")
    return value
