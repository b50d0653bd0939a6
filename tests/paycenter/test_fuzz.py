"""Schema-driven fuzzing of the whole API (RELIABILITY 19) with schemathesis: every operation
of /api/schema/, each generated request signed as an app signs it, must answer without a 5xx
and as the schema says (status documented, error code listed for that status, body shape).

The default suite runs a bounded number of examples per operation; `make test-slow` runs
many more."""

import json
import random
import secrets
import time
from collections.abc import Callable, Iterable, Iterator
from io import BytesIO

import pytest
import schemathesis
from django.core.cache import caches
from django.core.handlers.wsgi import WSGIRequest
from django.test.client import ClientHandler
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck
from hypothesis import settings as examples
from schemathesis.checks import CHECKS

from channels.services import merchant_channel_activate
from paycenter.api.signing import sign_request

pytestmark = pytest.mark.django_db

QUICK_EXAMPLES = 10
SLOW_EXAMPLES = 250


class SignedWsgiApp:
    """Django as a WSGI app behind a signing proxy: it signs each request as an app would,
    over exactly what reaches the view (method, re-encoded path and query, body bytes),
    after schemathesis has built it. Django's test handler keeps the test's database
    transaction open."""

    def __init__(self, *, app_id: str, secret: str, address: str) -> None:
        self.app_id, self.secret, self.address = app_id, secret, address
        self.handler = ClientHandler(enforce_csrf_checks=False)

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = BytesIO(body)
        # Its unsigned requests count as failed signatures: not against the suite's 127.0.0.1.
        environ["REMOTE_ADDR"] = self.address
        # The schema's security scheme makes schemathesis send an X-Signature; it leaves it
        # out on purpose to see that an unsigned request is refused, so that one stays unsigned.
        if "HTTP_X_SIGNATURE" in environ:
            timestamp, nonce = str(int(time.time())), secrets.token_hex(12)
            environ.update(
                HTTP_X_APP_ID=self.app_id,
                HTTP_X_TIMESTAMP=timestamp,
                HTTP_X_NONCE=nonce,
                HTTP_X_SIGNATURE=sign_request(
                    secret=self.secret,
                    method=environ["REQUEST_METHOD"],
                    path=WSGIRequest(dict(environ)).get_full_path(),
                    timestamp=timestamp,
                    nonce=nonce,
                    body=body,
                ),
            )
        response = self.handler(environ)
        start_response(f"{response.status_code} {response.reason_phrase}", list(response.items()))
        return [response.content]


def _openapi() -> dict:
    """The schema /api/schema/ serves, as JSON data."""
    generated = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(OpenApiJsonRenderer().render(generated, renderer_context={}))


# pytest 9 has no Node._nodeid, which schemathesis' lazy `from_fixture` loader sets; the
# schema needs no database, so it is loaded at collection instead.
schema = schemathesis.openapi.from_dict(_openapi())


@pytest.fixture
def signed_app(api, merchant, wallet_of, settings) -> Iterator[SignedWsgiApp]:
    # Thousands of deliberately unsigned requests would lock the address out (429), which
    # tests/paycenter/test_ratelimit.py covers; here they must reach the signature check.
    settings.PAYCENTER_RATE_LIMITS = {
        **settings.PAYCENTER_RATE_LIMITS,
        "failed_signature": {"ip": "1000000/60"},
    }
    # Something for generated ids to find: a funded wallet and a paid balance payment.
    merchant_channel_activate(merchant_id=merchant.pk, channel="balance", actor="t", now=timezone.now())
    alice = wallet_of("alice", balance=1_000_00)
    body = {"out_trade_no": "seed-1", "amount": "1.00", "subject": "Tea", "payer_account_id": alice.pk}
    assert api.post("/api/v1/payments", {**body, "channel": "balance"}).status_code == 201
    address = f"198.19.{random.randrange(256)}.{random.randrange(1, 255)}"
    yield SignedWsgiApp(app_id=api.app_id, secret=api.secret, address=address)
    caches["ratelimit"].delete_pattern(f"rl:*:{address}:*")


# The proxy replaces whatever X-Signature schemathesis sends with a good one, so whether a bad
# one is refused cannot be asked here (tests/paycenter/test_auth.py asks). A schema-valid
# request may be refused on business grounds (an account of another merchant, a reused
# Idempotency-Key, funds short): that it is refused with a documented status and code is
# what the other checks hold.
NOT_ASKED = {"ignored_auth", "positive_data_acceptance"}
EXCLUDED = [check for check in CHECKS.get_all() if check.__name__ in NOT_ASKED]


def _fuzz(case, app: SignedWsgiApp) -> None:
    response = case.call_and_validate(app=app, excluded_checks=EXCLUDED)
    assert response.status_code < 500, json.dumps(response.json() if response.content else {})


@schema.parametrize()
@examples(
    max_examples=QUICK_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_every_operation_answers_as_its_schema_says(case, signed_app):
    _fuzz(case, signed_app)


@pytest.mark.slow
@schema.parametrize()
@examples(max_examples=SLOW_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_operation_answers_as_its_schema_says_at_length(case, signed_app):
    _fuzz(case, signed_app)
