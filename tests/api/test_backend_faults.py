"""A throttled or unreachable DynamoDB answers 503 with Retry-After, never 500.

The app runs on the AWS adapters with DynamoDB reached through the fault
proxy (`tests.fault_proxy`) in front of the moto server; S3 and Cognito are
reached directly. Each fault is aimed at one DynamoDB operation so the
request gets past the session lookup and fails exactly where the test says.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from core.settings import Settings
from tests.api.conftest import ADMIN, TEST_LIMITS, Api, make_api
from tests.fault_proxy import FaultProxy, fault_proxy


@pytest.fixture
def proxy(moto_endpoint: str) -> Iterator[FaultProxy]:
    with fault_proxy(moto_endpoint) as p:
        yield p


@pytest.fixture
def api(aws_settings: Settings, proxy: FaultProxy, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Api]:
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", proxy.url)
    built = make_api(aws_settings.model_copy(update=TEST_LIMITS), monkeypatch, tmp_path)
    yield built
    for c in built.clients:
        c.close()


def assert_503(response: object, operation: str) -> None:
    r = response  # an httpx.Response
    assert r.status_code == 503, r.text  # type: ignore[attr-defined]
    assert r.headers.get("Retry-After") == "1", dict(r.headers)  # type: ignore[attr-defined]
    detail = r.json()["detail"]  # type: ignore[attr-defined]
    assert f"DynamoDB {operation}" in detail, detail
    assert "botocore" not in detail and "http://" not in detail, detail


def test_a_throttled_read_answers_503_then_the_list(api: Api, proxy: FaultProxy) -> None:
    client = api.login()
    item = api.add_item(title="lullaby")
    proxy.throttle(operation="Query", code="ProvisionedThroughputExceededException")
    assert_503(client.get("/api/audio"), "Query")
    proxy.clear()
    r = client.get("/api/audio")
    assert r.status_code == 200, r.text
    assert [i["id"] for i in r.json()["items"]] == [item.id]


def test_a_throttled_session_lookup_is_503_not_logged_out(api: Api, proxy: FaultProxy) -> None:
    client = api.login()
    proxy.throttle(operation="GetItem", code="ThrottlingException")
    assert_503(client.get("/api/auth/me"), "GetItem")
    proxy.clear()
    r = client.get("/api/auth/me")
    assert r.status_code == 200 and r.json()["username"] == ADMIN[0], r.text


def test_a_throttled_write_answers_503_and_changes_nothing(api: Api, proxy: FaultProxy) -> None:
    client = api.login()
    item = api.add_item(title="old title")
    proxy.throttle(operation="UpdateItem", code="RequestLimitExceeded")
    assert_503(client.patch(f"/api/audio/{item.id}", json={"title": "new title"}), "UpdateItem")
    proxy.clear()
    assert client.get(f"/api/audio/{item.id}").json()["title"] == "old title"
    r = client.patch(f"/api/audio/{item.id}", json={"title": "new title"})
    assert r.status_code == 200 and r.json()["title"] == "new title", r.text


def test_a_throttled_transaction_on_login_answers_503(api: Api, proxy: FaultProxy) -> None:
    """Login writes the session with TransactWriteItems."""
    client: TestClient = api.client()
    proxy.throttle(operation="TransactWriteItems")
    r = client.post("/api/auth/login", json={"username": ADMIN[0], "password": ADMIN[1]})
    assert_503(r, "TransactWriteItems")
    assert "set-cookie" not in r.headers
    proxy.clear()
    api.login()


def test_a_conditional_delete_throttled_answers_503_and_keeps_the_item(api: Api, proxy: FaultProxy) -> None:
    client = api.login()
    item = api.add_item()
    proxy.throttle(operation="DeleteItem")
    assert_503(client.delete(f"/api/audio/{item.id}"), "DeleteItem")
    proxy.clear()
    assert client.get(f"/api/audio/{item.id}").status_code == 200
    assert client.delete(f"/api/audio/{item.id}").status_code == 204


def test_dropped_connections_answer_503(api: Api, proxy: FaultProxy) -> None:
    client = api.login()
    item = api.add_item()
    proxy.drop(operation="GetItem")
    assert_503(client.get(f"/api/audio/{item.id}"), "GetItem")
    proxy.clear()
    assert client.get(f"/api/audio/{item.id}").status_code == 200
