"""What a handler returns; the app signs and sends it."""

from .core import dumps

STATUS_TEXT = {
    200: "OK",
    201: "Created",
    303: "See Other",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Payload Too Large",
    500: "Internal Server Error",
}


class Response:
    def __init__(
        self, status: int, body: bytes, content_type: str, *, hold: float = 0.0, headers: dict | None = None
    ) -> None:
        self.status = status
        self.body = body
        self.content_type = content_type
        # Seconds to sit on the finished answer: the `timeout` behaviour.
        self.hold = hold
        self.headers = headers or {}

    @property
    def status_line(self) -> str:
        return f"{self.status} {STATUS_TEXT.get(self.status, 'Unknown')}"


def json_response(status: int, payload: object, *, hold: float = 0.0) -> Response:
    return Response(status, dumps(payload), "application/json", hold=hold)


def html_response(status: int, page: str, *, headers: dict | None = None) -> Response:
    return Response(status, page.encode(), "text/html; charset=utf-8", headers=headers)
