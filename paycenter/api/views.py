"""The base of every app-facing API view: signed, and idempotent on POST."""

import logging
import time

from django.http import HttpResponse
from django.utils import timezone
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from paycenter.errors import RateLimited
from paycenter.idempotency import (
    StoredResponse,
    idempotency_claim,
    idempotency_complete,
    idempotency_release,
    request_fingerprint,
)
from paycenter.ratelimit import rate_limit_hit

logger = logging.getLogger(__name__)
IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAY_HEADER = "Idempotent-Replayed"
# The HttpRequest attribute set when the request was counted against the rate limits already.
RATE_COUNTED = "paycenter_rate_counted"


class _Replay(Exception):
    def __init__(self, stored: StoredResponse) -> None:
        self.stored = stored


class AppApi(APIView):
    """Subclasses implement get/post; this adds the Idempotency-Key contract to POST."""

    _claim = None
    # The class of endpoint whose rate limits a request counts against (settings).
    rate_scopes = {"GET": "read", "POST": "write"}

    def check_throttles(self, request: Request) -> None:
        if getattr(request._request, RATE_COUNTED, False):
            return
        wait = rate_limit_hit(
            scope=self.rate_scopes.get(request.method, "read"),
            app_id=request.user.app_id,
            address=request._request.META.get("REMOTE_ADDR", ""),
            now=time.time(),
        )
        if wait is not None:
            raise RateLimited(retry_after=wait)

    def initial(self, request: Request, *args: object, **kwargs: object) -> None:
        super().initial(request, *args, **kwargs)  # authentication, permissions, throttles
        key = request.headers.get(IDEMPOTENCY_HEADER)
        # Services store the key on what they create too: if this request's outcome is lost
        # (a crash, a 5xx after the commit), a retry finds the record instead of doing it again.
        request.idempotency_key = key if request.method == "POST" else None
        if request.method != "POST" or key is None:
            return
        django_request = request._request
        outcome = idempotency_claim(
            app_id=request.user.app_id,
            key=key,
            fingerprint=request_fingerprint(
                method=request.method, path=django_request.get_full_path(), body=django_request.body
            ),
            now=timezone.now(),
        )
        if isinstance(outcome, StoredResponse):
            raise _Replay(outcome)
        self._claim = outcome

    def handle_exception(self, exc: Exception) -> HttpResponse:
        if isinstance(exc, _Replay):
            response = HttpResponse(
                exc.stored.body, status=exc.stored.status, content_type="application/json"
            )
            response[REPLAY_HEADER] = "true"
            return response
        try:
            return super().handle_exception(exc)
        except Exception:
            self._release()
            raise

    def finalize_response(self, request: Request, response: Response, *args: object, **kwargs: object):
        response = super().finalize_response(request, response, *args, **kwargs)
        claim, self._claim = self._claim, None
        if claim is not None:
            if response.status_code >= 500:
                idempotency_release(record=claim)
            elif hasattr(response, "render"):
                self._complete(claim, response)
        return response

    def _complete(self, claim: object, response: Response) -> None:
        try:
            # Render now so the stored body is byte for byte what this client receives.
            response.render()
            idempotency_complete(
                record=claim, status=response.status_code, body=response.content.decode(), now=timezone.now()
            )
        except Exception:
            # The client still gets its response; a retry re-runs, and the key stored on
            # the business record turns that into a replay.
            logger.exception("idempotency: could not store the response; releasing the key")
            idempotency_release(record=claim)

    def _release(self) -> None:
        claim, self._claim = self._claim, None
        if claim is not None:
            idempotency_release(record=claim)
