"""The API's edge: input no view may ever see is refused here, once for every endpoint, with
the API's error body — before it reaches PostgreSQL (which cannot store a NUL character or
a lone surrogate, and refuses integers past 64 bits) or DRF's recursive JSON parser.

gunicorn's own limits (Procfile) sit above the ones here, so an over-long request line or
header reaches Django and gets the JSON envelope instead of gunicorn's HTML page.
"""

import json
from collections.abc import Callable, Iterator

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse

from paycenter.api.errors import error_response

MAX_REQUEST_TARGET = 4096  # characters of path and query string as Django re-encodes them
MAX_HEADER_VALUE = 8192
MAX_HEADER_FIELDS = 100
MAX_JSON_DEPTH = 32  # the deepest body of this API is 3 levels; metadata gets the rest
BIGINT_MAX = 2**63 - 1

JSON_MEDIA_TYPE = "application/json"  # what DRF's JSONParser takes; other types are its 415


class _Refused(Exception):
    def __init__(self, response: HttpResponse) -> None:
        self.response = response


def _invalid(field: str, what: str) -> _Refused:
    return _Refused(error_response("invalid_request", f"{what} contains a NUL character.", 400, field=field))


def _printable_name(text: str) -> str:
    return text.replace("\x00", "\\u0000")


def _storable(text: str) -> bool:
    """PostgreSQL text holds neither NUL nor a lone surrogate (which JSON's \\ud800 can carry)."""
    if "\x00" in text:
        return False
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _header_name(meta_key: str) -> str:
    name = meta_key.removeprefix("HTTP_")
    return "-".join(part.capitalize() for part in name.split("_"))


def _check_request_line(request: HttpRequest) -> None:
    if len(request.get_full_path()) > MAX_REQUEST_TARGET:
        raise _Refused(
            error_response(
                "uri_too_long", f"The path and query string exceed {MAX_REQUEST_TARGET} characters.", 414
            )
        )


def _check_headers(request: HttpRequest) -> None:
    headers = [(k, v) for k, v in request.META.items() if k.startswith("HTTP_") or k.startswith("CONTENT_")]
    if len(headers) > MAX_HEADER_FIELDS:
        raise _Refused(
            error_response("header_too_large", f"A request has at most {MAX_HEADER_FIELDS} headers.", 431)
        )
    for key, value in headers:
        if not isinstance(value, str):
            continue
        if len(value) > MAX_HEADER_VALUE:
            message = f"A header value has at most {MAX_HEADER_VALUE} characters."
            raise _Refused(error_response("header_too_large", message, 431, field=_header_name(key)))
        if "\x00" in value:
            raise _invalid(_header_name(key), "The header")


def _check_query(request: HttpRequest) -> None:
    for key, values in request.GET.lists():
        if "\x00" in key or any("\x00" in value for value in values):
            raise _invalid(_printable_name(key), "The query parameter")


def _walk(document: object) -> Iterator[tuple[str, object, int]]:
    """(dotted path, value, depth) of every value and key, depth counting the objects and arrays
    around it; iterative, so a deep document costs no stack."""
    stack: list[tuple[str, object, int]] = [("", document, 1)]
    while stack:
        path, value, depth = stack.pop()
        if isinstance(value, dict):
            for key, item in value.items():
                yield path, key, depth
                stack.append((f"{path}.{key}" if path else str(key), item, depth + 1))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                stack.append((f"{path}.{index}" if path else str(index), item, depth + 1))
        yield path, value, depth


def _check_body(request: HttpRequest) -> None:
    if request.method in ("GET", "HEAD", "OPTIONS") or request.content_type != JSON_MEDIA_TYPE:
        return
    try:
        body = request.body
    except RequestDataTooBig:
        raise _Refused(error_response("request_too_large", "The request body is too large.", 413)) from None
    if not body:
        return
    try:
        document = json.loads(body)
    except RecursionError:
        raise _Refused(_too_deep()) from None
    except ValueError:
        return  # not JSON: DRF's parser answers malformed_request after the signature check
    for path, value, depth in _walk(document):
        if depth > MAX_JSON_DEPTH and isinstance(value, dict | list):
            raise _Refused(_too_deep())
        if isinstance(value, str) and not _storable(value):
            raise _Refused(
                error_response(
                    "invalid_request",
                    "Text may not contain NUL characters or unpaired surrogates.",
                    400,
                    field=_printable_name(path) or "body",
                )
            )


def _too_deep() -> HttpResponse:
    return error_response("malformed_request", f"JSON is nested at most {MAX_JSON_DEPTH} levels deep.", 400)


def _is_api(request: HttpRequest) -> bool:
    return request.path_info.startswith("/api/")


class ApiEdgeMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if _is_api(request):
            try:
                _check_request_line(request)
                _check_headers(request)
                _check_query(request)
                _check_body(request)
            except _Refused as refused:
                return refused.response
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view_func: Callable, view_args: tuple, view_kwargs: dict
    ) -> HttpResponse | None:
        """Path parameters, by their names: a NUL in an id is a 400, an id past 64 bits a 404."""
        if not _is_api(request):
            return None
        for name, value in view_kwargs.items():
            if isinstance(value, str) and not _storable(value):
                return error_response("invalid_request", f"{name} contains a NUL character.", 400, field=name)
            if isinstance(value, int) and not -BIGINT_MAX <= value <= BIGINT_MAX:
                return error_response("not_found", "No such object.", 404)
        return None
