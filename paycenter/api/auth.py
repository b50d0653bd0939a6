"""HMAC request signing for merchant apps (docs/api.md, "Signing").

Checks run in this order: known app → timestamp window → signature → source address →
nonce. The nonce is remembered only after the signature is good, so a forged request can
not burn a real caller's nonce.
"""

import ipaddress
import logging
import re
import time
from dataclasses import dataclass, field
from functools import cache

from django.conf import settings
from django.core.cache import cache as nonce_store
from django.http import HttpRequest
from django.utils.module_loading import import_string
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from paycenter.api.signing import sign_request, signatures_match
from paycenter.errors import (
    AuthenticationError,
    InvalidApp,
    InvalidSignature,
    IpNotAllowed,
    RateLimited,
    ReplayedRequest,
    ServiceUnavailable,
    TimestampOutOfRange,
)
from paycenter.memo import Recent
from paycenter.ratelimit import Admission, admit, failed_signature_note, failed_signature_wait, rate_limit_hit

logger = logging.getLogger(__name__)

_TIMESTAMP = re.compile(r"[0-9]{1,12}")  # ASCII digits only: str.isdigit() admits "²"
# The HttpRequest attribute holding the AppCaller of a request authenticated already.
AUTHENTICATED_CALLER = "paycenter_caller"


@dataclass(frozen=True)
class AppCredentials:
    """What the kernel needs to know of a merchant app; accounts supplies it."""

    pk: int
    app_id: str
    merchant_id: int
    secret: str = field(repr=False)
    active: bool = True
    ip_allowlist: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class AppCaller:
    """request.user for app calls: the app and the merchant it acts for."""

    app_pk: int
    app_id: str
    merchant_id: int

    is_authenticated = True
    is_anonymous = False


@cache
def _credentials_getter():
    return import_string(settings.PAYCENTER_APP_CREDENTIALS)


def address_allowed(address: str, allowlist: tuple[str, ...]) -> bool:
    if not allowlist:
        return True
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(entry, strict=False) for entry in allowlist)


def _remember_nonce(key: str) -> bool:
    """False when the nonce was seen. Without the store a replay cannot be told from a first
    request, so the request is refused (503) rather than let through."""
    try:
        return nonce_store.add(key, 1, timeout=settings.PAYCENTER_NONCE_TTL_SECONDS)
    except Exception as exc:
        logger.exception("nonce store unavailable; refusing signed requests")
        raise ServiceUnavailable("The replay check is unavailable; retry shortly.") from exc


def credentials_for(app_id: str) -> AppCredentials | None:
    """The app's credentials as this worker last read them (paycenter.memo: a change takes
    effect within PAYCENTER_HOT_CACHE_SECONDS)."""
    return _recent_credentials.get(app_id, lambda: _credentials_getter()(app_id=app_id))


_recent_credentials: Recent[AppCredentials | None] = Recent()


def signature_verify(request: HttpRequest) -> tuple[AppCredentials, str]:
    """Every check of a signed request that needs no shared store, in the documented
    order (app, timestamp, nonce's form, signature, source address): the app's credentials
    and the nonce, which the caller must still remember (`nonce_remember`, or `signed_request_admit`)."""
    headers = request.headers
    app_id = headers.get("X-App-Id", "")
    credentials = credentials_for(app_id) if app_id else None
    if credentials is None or not credentials.active:
        raise InvalidApp()

    timestamp = headers.get("X-Timestamp", "")
    if not _TIMESTAMP.fullmatch(timestamp):
        raise TimestampOutOfRange("X-Timestamp must be unix seconds.", field="X-Timestamp")
    window = settings.PAYCENTER_SIGNATURE_WINDOW_SECONDS
    if abs(time.time() - int(timestamp)) > window:
        raise TimestampOutOfRange()

    nonce = headers.get("X-Nonce", "")
    if not 8 <= len(nonce) <= 64 or not nonce.isascii() or not nonce.isprintable():
        raise InvalidSignature("X-Nonce must be 8 to 64 printable characters.", field="X-Nonce")
    expected = sign_request(
        secret=credentials.secret,
        method=request.method,
        path=request.get_full_path(),
        timestamp=timestamp,
        nonce=nonce,
        body=request.body,
    )
    if not signatures_match(expected, headers.get("X-Signature", "")):
        raise InvalidSignature()

    if not address_allowed(request.META.get("REMOTE_ADDR", ""), credentials.ip_allowlist):
        raise IpNotAllowed()
    return credentials, nonce


def _nonce_key(credentials: AppCredentials, nonce: str) -> str:
    return f"nonce:{credentials.app_id}:{nonce}"


def nonce_remember(credentials: AppCredentials, nonce: str) -> None:
    if not _remember_nonce(_nonce_key(credentials, nonce)):
        raise ReplayedRequest()


def too_many_failures(wait: float) -> RateLimited:
    return RateLimited("Too many failed signatures from this address.", retry_after=wait)


def signed_request_admit(*, credentials: AppCredentials, nonce: str, address: str, scope: str) -> None:
    """For a request whose signature `signature_verify` accepted, and which then skips
    AppSignatureAuthentication and AppApi's throttle: their remaining checks, in their order
    — the address's failed signatures, the nonce, the rate limits of `scope` — in one Redis
    round trip when the stores allow. Raises what they would."""
    now, key = time.time(), _nonce_key(credentials, nonce)
    admission = admit(
        scope=scope,
        app_id=credentials.app_id,
        address=address,
        nonce_key=key,
        nonce_ttl=settings.PAYCENTER_NONCE_TTL_SECONDS,
        now=now,
    ) or _admit_one_by_one(credentials=credentials, nonce_key=key, address=address, scope=scope, now=now)
    if admission.blocked_for is not None:
        raise too_many_failures(admission.blocked_for)
    if not admission.fresh_nonce:
        failed_signature_note(address=address, now=now)
        raise ReplayedRequest()
    if admission.limited_for is not None:
        raise RateLimited(retry_after=admission.limited_for)


def _admit_one_by_one(
    *, credentials: AppCredentials, nonce_key: str, address: str, scope: str, now: float
) -> Admission:
    """`admit`'s checks as separate calls, stopping where the script stops."""
    blocked_for = failed_signature_wait(address=address, now=now)
    if blocked_for is not None:
        return Admission(blocked_for=blocked_for, fresh_nonce=False, limited_for=None)
    if not _remember_nonce(nonce_key):
        return Admission(blocked_for=None, fresh_nonce=False, limited_for=None)
    limited_for = rate_limit_hit(scope=scope, app_id=credentials.app_id, address=address, now=now)
    return Admission(blocked_for=None, fresh_nonce=True, limited_for=limited_for)


def caller_of(credentials: AppCredentials) -> AppCaller:
    # The secret stays in this module: nothing downstream needs it.
    return AppCaller(app_pk=credentials.pk, app_id=credentials.app_id, merchant_id=credentials.merchant_id)


class AppSignatureAuthentication(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[AppCaller, None]:
        # A request the payment fast path authenticated (and whose nonce it remembered)
        # before handing it on: checking it again would call it a replay.
        caller = getattr(request._request, AUTHENTICATED_CALLER, None)
        if caller is not None:
            return caller, None
        address = request._request.META.get("REMOTE_ADDR", "")
        try:
            # Checked before the signature: past the limit, guesses are not even verified.
            wait = failed_signature_wait(address=address, now=time.time())
            if wait is not None:
                raise too_many_failures(wait)
            credentials, nonce = signature_verify(request._request)
            nonce_remember(credentials, nonce)
            return caller_of(credentials), None
        except AuthenticationError:
            failed_signature_note(address=address, now=time.time())
            request._not_authenticated()
            raise
        except Exception:
            # DRF marks the request anonymous only for its own exception types; without
            # this, a later look at request.user would run (and fail) the checks again.
            request._not_authenticated()
            raise

    def authenticate_header(self, request: Request) -> str:
        return 'HMAC-SHA256 realm="paycenter"'


class IsMerchantApp(BasePermission):
    def has_permission(self, request: Request, view: object) -> bool:
        return isinstance(request.user, AppCaller)
