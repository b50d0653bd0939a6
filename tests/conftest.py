import json
import secrets
import time

import pytest
from django.test import Client
from django.utils import timezone

from paycenter.api.signing import sign_request
from paycenter.celery import app as celery_app

pytest_plugins = ["tests.sandbox_fixtures"]  # sandbox platform + notification receiver


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "ledger_tampered: the test breaks the ledger on purpose")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """After every test that touched the database, whatever it did, the whole ledger still
    proves sound: `ledger_verify`, the money-creation check included, over what the test
    left (before its database is rolled back or flushed)."""
    result = yield
    uses_db = item.get_closest_marker("django_db") or {"db", "transactional_db"} & set(item.fixturenames)
    if uses_db and item.get_closest_marker("ledger_tampered") is None:
        from ledger.verify import ledger_verify

        report = ledger_verify()
        assert report.clean, "ledger_verify after the test:\n" + "\n".join(report.lines())
    return result


@pytest.fixture(autouse=True)
def _no_hot_cache():
    """Tests change apps and read the effect at once; the worker-side cache (paycenter.memo)
    is tested with its default time to live on a running server (tests/paycenter)."""
    from django.conf import settings

    from ledger.services import journal

    previous = settings.PAYCENTER_HOT_CACHE_SECONDS
    settings.PAYCENTER_HOT_CACHE_SECONDS = 0
    journal._scheduled_here.clear()  # the per-process debounce of buffer applications
    yield
    settings.PAYCENTER_HOT_CACHE_SECONDS = previous


@pytest.fixture(autouse=True)
def _eager_celery():
    """Tasks run in-process unless a test starts a real worker on purpose."""
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


class SignedClient:
    """Signs each request exactly as docs/api.md tells an app to."""

    def __init__(self, *, app_id: str, secret: str, client: Client | None = None) -> None:
        self.app_id = app_id
        self.secret = secret
        self.client = client or Client()

    def headers(
        self, *, method: str, path: str, body: bytes, timestamp: int | None = None, nonce: str | None = None
    ) -> dict:
        timestamp_text = str(int(time.time()) if timestamp is None else timestamp)
        nonce = nonce or secrets.token_hex(12)
        signature = sign_request(
            secret=self.secret, method=method, path=path, timestamp=timestamp_text, nonce=nonce, body=body
        )
        return {
            "X-App-Id": self.app_id,
            "X-Timestamp": timestamp_text,
            "X-Nonce": nonce,
            "X-Signature": signature,
        }

    def post(
        self,
        path: str,
        data: object = None,
        *,
        idempotency_key: str | None = None,
        raw: bytes | None = None,
        **signing: object,
    ):
        body = raw if raw is not None else json.dumps(data).encode()
        headers = self.headers(method="POST", path=path, body=body, **signing)
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        return self.client.generic("POST", path, body, content_type="application/json", headers=headers)

    def get(self, path: str, **signing: object):
        headers = self.headers(method="GET", path=path, body=b"", **signing)
        return self.client.get(path, headers=headers)


@pytest.fixture
def onboarded(db):
    from accounts.services import merchant_onboard

    merchant, app, secret = merchant_onboard(name="Acme", actor="test", now=timezone.now())
    return merchant, app, secret


@pytest.fixture
def listening(onboarded):
    """The onboarded app with a notify URL: its events get webhook rows (an app without one
    gets none). A plain UPDATE: nothing is delivered unless a test dispatches."""
    from accounts.models import MerchantApp

    _, app, _ = onboarded
    MerchantApp.objects.filter(pk=app.pk).update(notify_url="https://acme.example/webhooks")
    return app


@pytest.fixture
def api(onboarded) -> SignedClient:
    _, app, secret = onboarded
    return SignedClient(app_id=app.app_id, secret=secret)


@pytest.fixture
def merchant(onboarded):
    return onboarded[0]


@pytest.fixture
def wallet_of(merchant):
    """wallet_of("alice", balance=50_00) → a funded customer wallet of the merchant."""
    from accounts.services import customer_get_or_create
    from tests.funding import fund

    def make(external_id: str, *, balance: int = 0, currency: str = "CNY"):
        customer, _ = customer_get_or_create(
            merchant_id=merchant.pk, external_id=external_id, currency=currency, now=timezone.now()
        )
        account = customer.accounts.get(currency=currency)
        if balance:
            fund(account_id=account.pk, amount_minor=balance, currency=currency)
        account.refresh_from_db()
        return account

    return make


@pytest.fixture
def sandbox_channel(sandbox, merchant, live_server, settings):
    """The merchant set up with a running sandbox platform, which notifies the live server."""
    settings.SANDBOX_CHANNEL_URL = sandbox.url
    settings.PAYCENTER_PUBLIC_URL = live_server.url
    settings.ALLOW_PRIVATE_NOTIFY_URLS = True
    from channels.services import merchant_channel_activate

    return merchant_channel_activate(
        merchant_id=merchant.pk, channel="sandbox", actor="test", now=timezone.now()
    )
