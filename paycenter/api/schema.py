"""What the OpenAPI schema says beyond drf-spectacular's introspection: the request signing,
and for every signed operation the errors it answers (codes per status) and its headers."""

import inspect
from collections.abc import Callable
from typing import TypeVar

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent, force_instance

from paycenter.api.fields import AmountField, CurrencyField
from paycenter.api.views import AppApi
from paycenter.errors import PaycenterError

F = TypeVar("F", bound=Callable)


class AppSignatureScheme(OpenApiAuthenticationExtension):
    target_class = "paycenter.api.auth.AppSignatureAuthentication"
    name = "AppSignature"

    def get_security_definition(self, auto_schema: object) -> dict:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "X-Signature",
            "description": (
                "hex(HMAC-SHA256(secret, METHOD + '\\n' + PATH_WITH_QUERY + '\\n' + X-Timestamp + "
                "'\\n' + X-Nonce + '\\n' + hex(SHA256(body)))), sent with X-App-Id, X-Timestamp "
                "(unix seconds, ±300 s) and X-Nonce (8..64 chars, single use within 600 s). "
                "Errors: invalid_app, invalid_signature, timestamp_out_of_range, replayed_request."
            ),
        }


# Errors every signed operation can answer, whatever it does (docs/api.md, Errors).
_EVERY_OPERATION = [
    (400, "invalid_request"),
    (401, "invalid_app"),
    (401, "invalid_signature"),
    (401, "timestamp_out_of_range"),
    (401, "replayed_request"),
    (403, "ip_not_allowed"),
    (406, "not_acceptable"),
    (414, "uri_too_long"),
    (429, "rate_limited"),
    (431, "header_too_large"),
    (500, "internal_error"),
    (503, "service_unavailable"),
]
_WITH_PATH_ID = [(404, "not_found")]
_WITH_BODY = [
    (400, "malformed_request"),
    (409, "request_in_progress"),
    (413, "request_too_large"),
    (415, "unsupported_media_type"),
    (422, "idempotency_key_reused"),
]
_AMOUNT = [(400, "invalid_amount"), (400, "invalid_currency")]
_CURRENCY = [(400, "invalid_currency")]

_IDEMPOTENCY_KEY = {
    "in": "header",
    "name": "Idempotency-Key",
    "required": False,
    "description": "Makes the POST safe to retry for 24 h: the first response is replayed.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
}
_RETRY_AFTER = {
    "Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer", "minimum": 1}}
}


def raises(*errors: type[PaycenterError]) -> Callable[[F], F]:
    """Names the application errors a view method answers besides the kernel's own, for the
    schema: their status and code come from the classes the services raise."""

    def mark(method: F) -> F:
        method.paycenter_errors = (*getattr(method, "paycenter_errors", ()), *errors)  # type: ignore[attr-defined]
        return method

    return mark


ERROR_COMPONENT = "Error"


def error_schema(codes: list[str]) -> dict:
    """The body of an error response, its code one of `codes`."""
    return {
        "allOf": [
            {"$ref": f"#/components/schemas/{ERROR_COMPONENT}"},
            {"properties": {"error": {"properties": {"code": {"enum": codes}}}}},
        ]
    }


def _error_body() -> dict:
    return {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string", "description": "stable; see docs/api.md"},
                    "message": {"type": "string"},
                    "field": {"type": "string", "description": "the request field at fault, dotted"},
                },
            }
        },
    }


class AppAutoSchema(AutoSchema):
    """drf-spectacular's schema, plus what the kernel adds to every signed operation: its
    error responses with their codes, and the Idempotency-Key header of POSTs."""

    def _is_app_operation(self) -> bool:
        return isinstance(self.view, AppApi)

    def get_description(self) -> str:
        description = super().get_description()
        return "" if description == inspect.getdoc(AppApi) else description  # not the base class's

    def _get_parameters(self) -> list[dict]:
        parameters = super()._get_parameters()
        if self._is_app_operation() and self.method == "POST":
            parameters.append(_IDEMPOTENCY_KEY)
        return parameters

    def _get_response_bodies(self, direction: str = "response") -> dict:
        responses = super()._get_response_bodies(direction)
        if direction != "response" or not self._is_app_operation():
            return responses
        self.registry.register_on_missing(
            ResolvedComponent(
                name=ERROR_COMPONENT,
                type=ResolvedComponent.SCHEMA,
                object=ERROR_COMPONENT,
                schema=_error_body(),
            )
        )
        for status, codes in self.error_codes().items():
            response = {
                "description": "Error codes: " + ", ".join(codes),
                "content": {"application/json": {"schema": error_schema(codes)}},
            }
            if status == 429:
                response["headers"] = _RETRY_AFTER
            responses[str(status)] = response
        return responses

    def error_codes(self) -> dict[int, list[str]]:
        found = list(_EVERY_OPERATION)
        if "{" in self.path:
            found += _WITH_PATH_ID
        if self.method == "POST":
            found += _WITH_BODY
        found += self._field_errors()
        method = getattr(self.view, self.method.lower(), None)
        found += [(error.status, error.code) for error in getattr(method, "paycenter_errors", ())]
        codes: dict[int, list[str]] = {}
        for status, code in found:
            if code not in codes.setdefault(status, []):
                codes[status].append(code)
        return {status: sorted(codes[status]) for status in sorted(codes)}

    def _field_errors(self) -> list[tuple[int, str]]:
        serializer = self.get_request_serializer() if self.method == "POST" else None
        fields = getattr(force_instance(serializer), "fields", {}) if serializer is not None else {}
        if any(isinstance(field, AmountField) for field in fields.values()):
            return _AMOUNT
        if any(isinstance(field, CurrencyField) for field in fields.values()):
            return _CURRENCY
        return []
