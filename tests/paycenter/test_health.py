import pytest

pytestmark = pytest.mark.django_db


def test_health_checks_database_and_cache(client):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "cache": "ok"}}


def test_health_reports_a_broken_cache(client, monkeypatch):
    from django.core.cache import cache

    monkeypatch.setattr(cache, "get", lambda *a, **k: None)
    response = client.get("/health")
    assert response.status_code == 503
    assert response.json()["checks"]["cache"] == "error"


def test_openapi_schema_and_docs_are_served(client):
    schema = client.get("/api/schema/", headers={"Accept": "application/vnd.oai.openapi+json"})
    assert schema.status_code == 200
    assert "/api/v1/customers" in schema.content.decode()
    assert client.get("/api/docs/").status_code == 200
