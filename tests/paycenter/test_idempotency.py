"""Idempotency-Key (docs/api.md, Idempotency-Key; R4 in its kernel form)."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

import accounts.api.views as customer_views
from accounts.models import Customer
from paycenter.models import IdempotencyRecord
from tests.conftest import SignedClient

PATH = "/api/v1/customers"


@pytest.mark.django_db
def test_same_key_and_body_replays_the_first_response(api):
    first = api.post(PATH, {"external_id": "b1", "name": "Ann"}, idempotency_key="k-1")
    again = api.post(PATH, {"external_id": "b1", "name": "Ann"}, idempotency_key="k-1")
    assert first.status_code == again.status_code == 201
    assert again.content == first.content
    assert again["Idempotent-Replayed"] == "true"
    assert Customer.objects.count() == 1


@pytest.mark.django_db
def test_same_key_with_another_body_is_refused(api):
    api.post(PATH, {"external_id": "b1"}, idempotency_key="k-2")
    response = api.post(PATH, {"external_id": "b2"}, idempotency_key="k-2")
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "idempotency_key_reused"
    assert not Customer.objects.filter(external_id="b2").exists()


@pytest.mark.django_db
def test_a_client_error_is_replayed_too(api):
    first = api.post(PATH, {"name": "no external id"}, idempotency_key="k-3")
    again = api.post(PATH, {"name": "no external id"}, idempotency_key="k-3")
    assert first.status_code == again.status_code == 400
    assert again.content == first.content


@pytest.mark.django_db
def test_keys_belong_to_one_app(api):
    from accounts.services import merchant_onboard

    _, other_app, other_secret = merchant_onboard(name="Other", actor="t", now=timezone.now())
    other = SignedClient(app_id=other_app.app_id, secret=other_secret)
    assert api.post(PATH, {"external_id": "b1"}, idempotency_key="shared").status_code == 201
    response = other.post(PATH, {"external_id": "b9"}, idempotency_key="shared")
    assert response.status_code == 201
    assert response.json()["external_id"] == "b9"


@pytest.mark.django_db
def test_a_key_older_than_24_hours_is_forgotten(api):
    api.post(PATH, {"external_id": "b1"}, idempotency_key="k-old")
    IdempotencyRecord.objects.update(created_at=timezone.now() - timedelta(hours=24, seconds=1))
    response = api.post(PATH, {"external_id": "b2"}, idempotency_key="k-old")
    assert response.status_code == 201
    assert response.json()["external_id"] == "b2"


@pytest.mark.django_db
@pytest.mark.parametrize("key", ["", "x" * 256, "bad\nkey"])
def test_malformed_keys_are_refused(api, key):
    response = api.post(PATH, {"external_id": "b1"}, idempotency_key=key)
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "Idempotency-Key"


@pytest.mark.django_db
def test_a_server_error_releases_the_key(api, monkeypatch):
    real = customer_views.services.customer_get_or_create

    def broken(**kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(customer_views.services, "customer_get_or_create", broken)
    api.client.raise_request_exception = False
    failed = api.post(PATH, {"external_id": "b1"}, idempotency_key="k-5xx")
    assert failed.status_code == 500
    assert failed.json()["error"]["code"] == "internal_error"
    monkeypatch.setattr(customer_views.services, "customer_get_or_create", real)
    assert api.post(PATH, {"external_id": "b1"}, idempotency_key="k-5xx").status_code == 201


@pytest.mark.django_db
def test_a_claim_left_by_a_dead_process_is_taken_over_after_five_minutes(api):
    IdempotencyRecord.objects.create(
        app_id=api.app_id, key="k-dead", fingerprint="will-be-compared", created_at=timezone.now()
    )
    import json

    from paycenter.idempotency import request_fingerprint

    fingerprint = request_fingerprint(
        method="POST", path=PATH, body=json.dumps({"external_id": "b1"}).encode()
    )
    IdempotencyRecord.objects.update(fingerprint=fingerprint)
    assert api.post(PATH, {"external_id": "b1"}, idempotency_key="k-dead").status_code == 409
    IdempotencyRecord.objects.update(created_at=timezone.now() - timedelta(minutes=6))
    assert api.post(PATH, {"external_id": "b1"}, idempotency_key="k-dead").status_code == 201


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_requests_with_one_key_execute_once(api, monkeypatch):
    """Given 20 threads on 20 PostgreSQL connections sending the same key and body at once,
    when the service is slow enough for them to overlap, then it runs exactly once and
    every reply is the first response or 409 request_in_progress."""
    executions = []
    lock = threading.Lock()
    real = customer_views.services.customer_get_or_create

    def counted(**kwargs):
        with lock:
            executions.append(1)
        time.sleep(0.3)
        return real(**kwargs)

    monkeypatch.setattr(customer_views.services, "customer_get_or_create", counted)
    start = threading.Barrier(20)

    def send(_):
        client = SignedClient(app_id=api.app_id, secret=api.secret)
        start.wait()
        try:
            response = client.post(PATH, {"external_id": "same-buyer"}, idempotency_key="concurrent-key")
            return response.status_code, response.content
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(send, range(20)))

    statuses = sorted(status for status, _ in results)
    print("concurrent idempotency statuses:", statuses)
    assert len(executions) == 1
    assert set(statuses) <= {201, 409}
    assert statuses.count(201) >= 1
    bodies = {content for status, content in results if status == 201}
    assert len(bodies) == 1
    assert Customer.objects.filter(external_id="same-buyer").count() == 1
    replay = api.post(PATH, {"external_id": "same-buyer"}, idempotency_key="concurrent-key")
    assert replay.status_code == 201 and replay.content in bodies
