"""Every API error as `{"error": {"code", "message", "field"}}` with a stable code."""

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

from paycenter.errors import PaycenterError

logger = logging.getLogger(__name__)

# DRF's own exceptions → our stable codes.
_DRF_CODES: dict[type[exceptions.APIException], str] = {
    exceptions.ParseError: "malformed_request",
    exceptions.NotAuthenticated: "invalid_app",
    exceptions.AuthenticationFailed: "invalid_signature",
    exceptions.PermissionDenied: "forbidden",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "rate_limited",
}
# Codes our serializers raise on purpose; any other validation code becomes invalid_request.
PASSTHROUGH_VALIDATION_CODES = {"invalid_amount", "invalid_currency"}


def _first_error(detail: object, path: tuple[str, ...] = ()) -> tuple[str | None, object]:
    """The first error in DRF's nested detail, and the dotted path of its field."""
    if isinstance(detail, dict) and detail:
        name, value = next(iter(detail.items()))
        if name != "non_field_errors":
            path = (*path, str(name))
        return _first_error(value, path)
    if isinstance(detail, list) and detail:
        return _first_error(detail[0], path)
    return ".".join(path) or None, detail


def _validation_body(exc: exceptions.ValidationError) -> dict:
    field, error = _first_error(exc.detail)
    code = getattr(error, "code", None)
    body = {
        "code": code if code in PASSTHROUGH_VALIDATION_CODES else "invalid_request",
        "message": str(error),
    }
    if field:
        body["field"] = field
    return {"error": body}


def exception_handler(exc: Exception, context: dict) -> Response:
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    if isinstance(exc, RequestDataTooBig):
        return Response(
            {"error": {"code": "request_too_large", "message": "The request body is too large."}}, status=413
        )
    if isinstance(exc, PaycenterError):
        set_rollback()
        retry_after = getattr(exc, "retry_after", None)
        headers = {"Retry-After": str(retry_after)} if retry_after else None
        return Response(exc.as_body(), status=exc.status, headers=headers)
    if isinstance(exc, exceptions.ValidationError):
        set_rollback()
        return Response(_validation_body(exc), status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, exceptions.APIException):
        set_rollback()
        code = next((c for t, c in _DRF_CODES.items() if isinstance(exc, t)), "error")
        headers = {}
        if getattr(exc, "wait", None):
            headers["Retry-After"] = str(int(exc.wait))
        message = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        return Response({"error": {"code": code, "message": message}}, exc.status_code, headers=headers)

    logger.exception("unhandled error in API view", exc_info=exc)
    set_rollback()
    return Response(
        {"error": {"code": "internal_error", "message": "Internal error; it has been logged."}},
        status=status.HTTP_500_INTERNAL_SERVER_ERROR,
    )


def error_response(code: str, message: str, status: int, *, field: str | None = None) -> JsonResponse:
    """The error body for answers made outside DRF (middleware, Django's handlers)."""
    error = {"code": code, "message": message}
    if field is not None:
        error["field"] = field
    return JsonResponse({"error": error}, status=status)


def paycenter_error_response(exc: PaycenterError) -> JsonResponse:
    """`exception_handler`'s answer to one of our errors, for views outside DRF."""
    response = error_response(exc.code, exc.message, exc.status, field=exc.field)
    retry_after = getattr(exc, "retry_after", None)
    if retry_after:
        response["Retry-After"] = str(retry_after)
    return response


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler404: API paths get the API's error body, the rest Django's page."""
    if _is_api(request):
        return JsonResponse({"error": {"code": "not_found", "message": "No such endpoint."}}, status=404)
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500, for errors outside DRF's handler (middleware, URL resolution)."""
    if _is_api(request):
        body = {"error": {"code": "internal_error", "message": "Internal error; it has been logged."}}
        return JsonResponse(body, status=500)
    return defaults.server_error(request)
