"""When Yoto fails: 401 → refresh and retry once, then 409 relink; 429 and 5xx →
retried, then 429/502 with the reason; no answer in time → 504. Whatever
failed, nothing is half-kept: no record without its Yoto card, no record
changed when its Yoto card was not."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from core.records import utcnow
from tests.yoto_api.conftest import ADMIN, YOTO_TIMEOUT_S, YApi, link
from tests.yoto_api.test_playlists import let_the_window_pass


@pytest.fixture
def mum(yapi: YApi) -> TestClient:
    client = yapi.login(ADMIN)
    link(client)
    client.get("/api/icons")  # the icon list is cached from here on: faults hit the card calls
    yapi.cloud.clear_requests()
    return client


def card_body(yapi: YApi) -> dict[str, Any]:
    return {"title": "Faulty", "tracks": [{"audio_id": yapi.item(title="Moon song").id}]}


def assert_nothing_kept(yapi: YApi) -> None:
    assert yapi.api.adapters.records.cards.list(limit=10).items == []


def test_a_401_is_retried_once_with_a_fresh_token(yapi: YApi, mum: TestClient) -> None:
    yapi.cloud.unauthorized_next(count=1, path_prefix="/content")
    r = mum.post("/api/cards", json=card_body(yapi))
    assert r.status_code == 201, r.text
    assert len(yapi.cloud.requests(method="POST", path_prefix="/oauth/token")) == 1  # one refresh
    assert list(yapi.cloud.cards()) == [r.json()["yoto_card_id"]]


def test_a_second_401_asks_to_relink_and_keeps_nothing(yapi: YApi, mum: TestClient) -> None:
    yapi.cloud.unauthorized_next(count=2, path_prefix="/content")
    r = mum.post("/api/cards", json=card_body(yapi))
    assert r.status_code == 409 and r.json()["detail"] == "relink your Yoto account"
    assert_nothing_kept(yapi)
    assert yapi.cloud.cards() == {}


def test_a_refused_refresh_asks_to_relink(yapi: YApi, mum: TestClient) -> None:
    tokens = yapi.api.adapters.records.tokens
    stored = tokens.get("mum")
    tokens.compare_and_swap(
        replace(stored, expires_at=utcnow() - timedelta(seconds=1)), expected_version=stored.version
    )
    yapi.cloud.unauthorized_next(count=1, path_prefix="/oauth/token")
    r = mum.post("/api/cards", json=card_body(yapi))
    assert r.status_code == 409 and "relink" in r.json()["detail"]
    assert yapi.cloud.requests(method="POST", path_prefix="/content") == []
    assert_nothing_kept(yapi)


@pytest.mark.parametrize("fault", ["rate_limit", "server_error"])
def test_a_passing_429_or_500_is_retried(yapi: YApi, mum: TestClient, fault: str) -> None:
    yapi.cloud.fail_next(fault, count=1, path_prefix="/content", retry_after=0)
    r = mum.post("/api/cards", json=card_body(yapi))
    assert r.status_code == 201, r.text
    assert len(yapi.cloud.requests(method="POST", path_prefix="/content")) == 2
    assert len(yapi.cloud.cards()) == 1


def test_a_persistent_429_is_a_429_with_retry_after(yapi: YApi, mum: TestClient) -> None:
    yapi.cloud.rate_limit_next(count=10, retry_after=0, path_prefix="/content")
    r = mum.post("/api/cards", json=card_body(yapi))
    assert r.status_code == 429 and "Yoto is limiting requests" in r.json()["detail"]
    assert int(r.headers["retry-after"]) >= 1
    assert len(yapi.cloud.requests(method="POST", path_prefix="/content")) == yapi.settings.yoto_max_tries
    assert_nothing_kept(yapi)


def test_a_persistent_500_is_a_502_with_the_reason(yapi: YApi, mum: TestClient) -> None:
    yapi.cloud.server_error_next(count=10, status=503, path_prefix="/content", method="POST")
    r = mum.post("/api/cards", json=card_body(yapi))
    assert r.status_code == 502
    assert "Yoto failed to create the card: 503" in r.json()["detail"]
    # A create is sent once more only after the listing showed it was not made, and only once.
    assert len(yapi.cloud.requests(method="POST", path_prefix="/content")) == 2
    assert_nothing_kept(yapi)
    assert yapi.cloud.cards() == {}


@pytest.mark.parametrize("fault", ["server_error", "disconnect"])
def test_a_card_made_before_the_answer_was_lost_is_kept_once(yapi: YApi, mum: TestClient, fault: str) -> None:
    """Yoto stored the card, then the answer was a 5xx or nothing: the service finds that card
    (same title, created just now, exactly our track URLs) instead of making a second one."""
    yapi.cloud.fail_next(fault, path_prefix="/content", method="POST", after=True)
    r = mum.post("/api/cards", json=card_body(yapi))
    assert r.status_code == 201, r.text
    assert len(yapi.cloud.requests(method="POST", path_prefix="/content")) == 1
    assert list(yapi.cloud.cards()) == [r.json()["yoto_card_id"]]
    assert [c.yoto_card_id for c in yapi.api.adapters.records.cards.list(limit=10).items] == [r.json()["yoto_card_id"]]


def test_a_refresh_whose_answer_was_lost_is_not_resent(yapi: YApi, mum: TestClient) -> None:
    tokens = yapi.api.adapters.records.tokens
    stored = tokens.get("mum")
    tokens.compare_and_swap(
        replace(stored, expires_at=utcnow() - timedelta(seconds=1)), expected_version=stored.version
    )
    yapi.cloud.clear_requests()
    yapi.cloud.server_error_next(path_prefix="/oauth/token", after=True)
    r = mum.post("/api/cards", json=card_body(yapi))
    assert r.status_code == 502 and "refresh the access token" in r.json()["detail"]
    assert len(yapi.cloud.requests(method="POST", path_prefix="/oauth/token")) == 1
    assert yapi.cloud.stats()["reuse_detected"] == 0
    assert yapi.cloud.requests(method="POST", path_prefix="/content") == []
    assert_nothing_kept(yapi)


def test_no_answer_in_time_is_a_504_and_no_record(yapi: YApi, mum: TestClient) -> None:
    yapi.cloud.slow_next(count=1, delay_s=YOTO_TIMEOUT_S + 0.5, path_prefix="/content")
    r = mum.post("/api/cards", json=card_body(yapi))
    assert r.status_code == 504 and "did not answer in time" in r.json()["detail"]
    assert_nothing_kept(yapi)
    # Never retried: a request that may have reached Yoto is not sent twice.
    assert len(yapi.cloud.requests(method="POST", path_prefix="/content")) <= 1


def test_a_yoto_refusal_is_a_422_with_yotos_words(yapi: YApi, mum: TestClient) -> None:
    yapi.cloud.configure(max_chapters=0)
    r = mum.post("/api/cards", json=card_body(yapi))
    assert r.status_code == 422 and "content.chapters" in r.json()["detail"]
    assert_nothing_kept(yapi)


def test_a_failed_rewrite_or_delete_changes_nothing(yapi: YApi, mum: TestClient) -> None:
    made = mum.post("/api/cards", json=card_body(yapi)).json()
    before_sim = yapi.sim_card(made["yoto_card_id"])
    yapi.cloud.server_error_next(count=10, path_prefix="/content")
    body = {"title": "Changed", "tracks": [{"audio_id": yapi.item().id}]}
    assert mum.put(f"/api/cards/{made['id']}", json=body).status_code == 502
    assert mum.get(f"/api/cards/{made['id']}").json() == made
    assert mum.delete(f"/api/cards/{made['id']}").status_code == 502
    assert mum.get(f"/api/cards/{made['id']}").json() == made
    yapi.cloud.clear_faults()
    assert yapi.sim_card(made["yoto_card_id"]) == before_sim
    assert mum.delete(f"/api/cards/{made['id']}").status_code == 204


def test_a_playlist_edit_survives_yoto_failing_and_the_card_catches_up(yapi: YApi, mum: TestClient) -> None:
    a, b = yapi.item().id, yapi.item().id
    pid = mum.post("/api/playlists", json={"name": "Flaky", "audio_ids": [a]}).json()["id"]
    card = mum.post(f"/api/playlists/{pid}/card").json()
    yapi.services.playlist_cards.cancel_timers()
    yapi.cloud.server_error_next(count=20, path_prefix="/content")
    let_the_window_pass(yapi, card["id"], yapi.settings.card_sync_debounce_s)
    r = mum.post(f"/api/playlists/{pid}/items", json={"audio_id": b})
    assert r.status_code == 200 and r.json()["audio_ids"] == [a, b]
    assert r.json()["card_sync"]["state"] == "failed" and "Yoto failed" in r.json()["card_sync"]["detail"]
    yapi.cloud.clear_faults()
    assert mum.get(f"/api/playlists/{pid}").json()["card_sync"]["state"] == "synced"
    chapters = yapi.sim_card(card["yoto_card_id"])["content"]["chapters"]
    assert [c["tracks"][0]["trackUrl"].rsplit("/", 1)[1].split(".")[0] for c in chapters] == [a, b]


def test_fifty_callers_after_expiry_refresh_once(yapi: YApi, mum: TestClient) -> None:
    """The refresh race over HTTP: the simulator revokes the whole chain if a
    refresh token is used twice; afterwards the chain lives and all got through."""
    tokens = yapi.api.adapters.records.tokens
    stored = tokens.get("mum")
    tokens.compare_and_swap(
        replace(stored, expires_at=utcnow() - timedelta(seconds=1)), expected_version=stored.version
    )
    yapi.cloud.expire_access_tokens()
    before = yapi.cloud.stats()

    def call(_: int) -> int:
        return mum.get("/api/icons", params={"q": "moon"}).status_code

    with ThreadPoolExecutor(max_workers=50) as pool:
        statuses = list(pool.map(call, range(50)))
    assert statuses == [200] * 50
    after = yapi.cloud.stats()
    assert after["refreshes"] - before["refreshes"] == 1
    assert after["reuse_detected"] == 0 and after["chains_alive"] >= 1
    assert yapi.cloud.token_info(tokens.get("mum").access_token)["active"] is True
