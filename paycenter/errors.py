"""The one application error type. Each app subclasses it beside the services that raise it;
the API renders every one as `{"error": {"code", "message", "field"}}` (docs/api.md)."""

import math


class PaycenterError(Exception):
    code: str = "error"
    status: int = 400
    default_message: str = "The request could not be processed."

    def __init__(
        self,
        message: str | None = None,
        *,
        field: str | None = None,
        code: str | None = None,
        status: int | None = None,
    ) -> None:
        self.message = message or self.default_message
        self.field = field
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        super().__init__(self.message)

    def as_body(self) -> dict:
        error: dict = {"code": self.code, "message": self.message}
        if self.field is not None:
            error["field"] = self.field
        return {"error": error}


class InvalidRequest(PaycenterError):
    code = "invalid_request"
    status = 400


class NotFound(PaycenterError):
    code = "not_found"
    status = 404
    default_message = "No such object."


class Conflict(PaycenterError):
    code = "conflict"
    status = 409


class Unprocessable(PaycenterError):
    code = "unprocessable"
    status = 422


class AuthenticationError(PaycenterError):
    status = 401


class InvalidApp(AuthenticationError):
    code = "invalid_app"
    default_message = "Unknown or disabled app."


class InvalidSignature(AuthenticationError):
    code = "invalid_signature"
    default_message = "The signature does not match the request."


class TimestampOutOfRange(AuthenticationError):
    code = "timestamp_out_of_range"
    default_message = "X-Timestamp is more than 300 seconds away from server time."


class ReplayedRequest(AuthenticationError):
    code = "replayed_request"
    default_message = "This nonce was already used."


class IpNotAllowed(PaycenterError):
    code = "ip_not_allowed"
    status = 403
    default_message = "The caller's address is not on the app's allow-list."


class IdempotencyKeyReused(PaycenterError):
    code = "idempotency_key_reused"
    status = 422
    default_message = "This Idempotency-Key was used with a different request."


class RequestInProgress(PaycenterError):
    code = "request_in_progress"
    status = 409
    default_message = "A request with this Idempotency-Key is still being processed."


class RateLimited(PaycenterError):
    code = "rate_limited"
    status = 429
    default_message = "Too many requests; retry after the number of seconds in Retry-After."

    def __init__(self, message: str | None = None, *, retry_after: float, **kwargs: object) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = max(1, math.ceil(retry_after))  # Retry-After is whole seconds


class ServiceUnavailable(PaycenterError):
    code = "service_unavailable"
    status = 503
    default_message = "A service this request needs is unavailable; retry shortly."
