"""`POST /api/v1/payments` for the one request that dominates the load: a balance payment
captured at once (docs/payments.md, "The hot path"; the figures in docs/benchmarks.md).

It takes only requests it fully understands — signed correctly by an active app, a body
PaymentInput accepts, paid from a wallet and captured — and answers them with one Redis
round trip (failed-signature block, nonce, rate limits) and one SQL statement that writes
the payment, its journal entry, its event and the stored idempotent response together
(ledger.services.payment_at_once). Every other request, and every one of these whose
statement writes nothing (a guard failed, the Idempotency-Key or the order number is taken),
goes to the general view (`PaymentCollectionApi`), which explains or replays it under the
same contract; a request handed on after its nonce was remembered is marked authenticated
and counted, so the general view does not call it a replay or count it twice.
"""

import copy
import functools
import json

from django.db import DataError, IntegrityError, connection
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from rest_framework.renderers import JSONRenderer

from ledger.api.payment_serializers import PaymentInput
from ledger.api.payment_views import PaymentCollectionApi
from ledger.representations import payment_data
from ledger.services.collect import PaymentRequest
from ledger.services.payment_at_once import at_once_build, at_once_commit
from paycenter.api.auth import (
    AUTHENTICATED_CALLER,
    AppCredentials,
    caller_of,
    signature_verify,
    signed_request_admit,
)
from paycenter.api.errors import paycenter_error_response
from paycenter.api.views import IDEMPOTENCY_HEADER, RATE_COUNTED
from paycenter.errors import PaycenterError
from paycenter.idempotency import key_acceptable, request_fingerprint
from paycenter.models import IdempotencyRecord
from paycenter.money import to_minor

_general = PaymentCollectionApi.as_view()
SCOPE = PaymentCollectionApi.rate_scopes["POST"]


class _PaymentInput(PaymentInput):
    """PaymentInput, its fields copied shallowly: DRF rebuilds every declared field for each
    instance (a deep copy), a fifth of this path's CPU. The copies only get their own name
    and parent; nothing else of a field changes while it validates."""

    def get_fields(self) -> dict:
        return {name: copy.copy(field) for name, field in self._declared_fields.items()}


_ACCEPTED = {"*/*", "application/*", "application/json"}
_render = JSONRenderer().render


@functools.wraps(_general)  # keeps DRF's attributes: the schema still sees PaymentCollectionApi
def payment_collection(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
    if request.method == "POST" and connection.vendor == "postgresql":
        response = _pay_at_once(request)
        if response is not None:
            return response
    return _general(request, *args, **kwargs)


def _pay_at_once(request: HttpRequest) -> HttpResponse | None:
    """The response, or None (nothing done, the nonce unspent) for the general view."""
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if not _plain(request, key):
        return None
    try:
        credentials, nonce = signature_verify(request)
        payment = _payment_request(request)
    except PaycenterError:
        return None  # the general view answers, and counts a failed signature
    if payment is None:
        return None
    # From here the request is ours: its nonce is spent.
    try:
        signed_request_admit(
            credentials=credentials, nonce=nonce, address=request.META.get("REMOTE_ADDR", ""), scope=SCOPE
        )
    except PaycenterError as refused:
        return paycenter_error_response(refused)
    setattr(request, AUTHENTICATED_CALLER, caller_of(credentials))
    setattr(request, RATE_COUNTED, True)
    now = timezone.now()
    txn = at_once_build(
        app_id=credentials.pk,
        merchant_id=credentials.merchant_id,
        request=payment,
        idempotency_key=key,
        now=now,
    )
    data = payment_data(txn)
    content = _render(data)
    also = ()
    if key is not None:
        fingerprint = request_fingerprint(method="POST", path=request.get_full_path(), body=request.body)
        also = (_stored_response(credentials, key=key, fingerprint=fingerprint, content=content, now=now),)
    try:
        written = at_once_commit(
            txn=txn, payer_account_id=payment.payer_account_id, also=also, event_data=data
        )
    except (IntegrityError, DataError):
        # The key or the order number taken meanwhile, or a value past a column's type (an
        # account id past 64 bits): nothing was written, and the general view explains.
        written = False
    if not written:
        return _general(request)
    response = HttpResponse(content, status=201, content_type="application/json")
    response["Vary"] = "Accept"
    response["Allow"] = "GET, POST, OPTIONS"
    return response


def _plain(request: HttpRequest, key: str | None) -> bool:
    """Headers the general view would take without a word."""
    if key is not None and not key_acceptable(key):
        return False
    charset = request.content_params.get("charset", "utf-8").lower()
    if request.content_type != "application/json" or charset not in ("utf-8", "utf8"):
        return False
    accept = request.headers.get("Accept", "*/*")
    ranges = [part.split(";", 1) for part in accept.split(",")]
    return any(media.strip() in _ACCEPTED and "q=0" not in "".join(rest) for media, *rest in ranges)


def _refuse_constant(name: str) -> None:
    raise ValueError(name)  # NaN and Infinity are not JSON (DRF's parser refuses them too)


def _payment_request(request: HttpRequest) -> PaymentRequest | None:
    """The payment when the body is one PaymentInput accepts, from a wallet, captured."""
    try:
        document = json.loads(request.body.decode("utf-8"), parse_constant=_refuse_constant)
    except ValueError:
        return None
    body = _PaymentInput(data=document)
    if not body.is_valid():
        return None
    data = body.validated_data
    if data["channel"] != "balance" or not data["capture"]:
        return None
    return PaymentRequest(
        out_trade_no=data["out_trade_no"],
        amount_minor=to_minor(data["amount"], data["currency"], field="amount"),
        currency=data["currency"],
        subject=data["subject"],
        channel="balance",
        method=data["method"],
        payer_account_id=data["payer_account_id"],
        capture=True,
        expire_seconds=data["expire_seconds"],
        metadata=data["metadata"],
    )


def _stored_response(
    credentials: AppCredentials, *, key: str, fingerprint: str, content: bytes, now: object
) -> IdempotencyRecord:
    """The key's record, completed with this response: a retry replays it byte for byte."""
    return IdempotencyRecord(
        app_id=credentials.app_id,
        key=key,
        fingerprint=fingerprint,
        status=IdempotencyRecord.Status.COMPLETED,
        response_status=201,
        response_body=content.decode(),
        created_at=now,
        completed_at=now,
    )
