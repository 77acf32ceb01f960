"""Live playlists over HTTP, and the one Yoto card that follows each, rewritten
in place (same cardId, new chapters), debounced, against the fake Yoto cloud."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from core.settings import Settings
from core.yoto.cloud import CONTENT_CONFIG_KEYS
from simulator.cloud import RunningCloud
from tests.audio_fixtures import write_tone
from tests.yoto_api.conftest import ADMIN, DEBOUNCE_S, MEMBER, YApi, build_yapi, close, link


@pytest.fixture
def mum(yapi: YApi) -> TestClient:
    client = yapi.login(ADMIN)
    link(client)
    yapi.cloud.clear_requests()
    return client


def urls_on(yapi: YApi, yoto_card_id: str) -> list[str]:
    return [c["tracks"][0]["trackUrl"] for c in yapi.sim_card(yoto_card_id)["content"]["chapters"]]


def ids_on(yapi: YApi, yoto_card_id: str) -> list[str]:
    """The audio ids the Yoto card streams, in order (our URLs are /s/<id>.<sig>.mp3)."""
    return [u.rsplit("/", 1)[1].split(".")[0] for u in urls_on(yapi, yoto_card_id)]


def card_writes(yapi: YApi) -> list[Any]:
    return yapi.yoto_posts("/content")


def let_the_window_pass(yapi: YApi, card_id: str, window_s: float = DEBOUNCE_S) -> None:
    """As if the debounce window had passed since the card's last write: its record says so.
    The window on a clock is tests/services/test_playlist_cards.py's, and one test here waits it out."""
    cards = yapi.api.adapters.records.cards
    card = cards.get(card_id)
    assert card.synced_at is not None
    cards.update(replace(card, synced_at=card.synced_at - timedelta(seconds=window_s + 0.1)))


def wait_until(check: Any, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def make(mum: TestClient, yapi: YApi, n: int = 2, **body: Any) -> tuple[dict[str, Any], list[str]]:
    ids = [yapi.item(title=f"Song {i}").id for i in range(n)]
    r = mum.post("/api/playlists", json={"name": "Car trip", "audio_ids": ids, **body})
    assert r.status_code == 201, r.text
    return r.json(), ids


def test_playlist_crud_and_item_operations(yapi: YApi, mum: TestClient) -> None:
    made, (a, b) = make(mum, yapi)
    assert made["audio_ids"] == [a, b] and made["play_mode"] == "sequential" and made["version"] == 1
    assert made["yoto_card_id"] is None and made["card_sync"]["state"] == "none"
    pid = made["id"]
    c = yapi.item().id
    r = mum.post(f"/api/playlists/{pid}/items", json={"audio_id": c, "at": 0})
    assert r.status_code == 200 and r.json()["audio_ids"] == [c, a, b] and r.json()["version"] == 2
    assert mum.post(f"/api/playlists/{pid}/items", json={"audio_id": c}).json()["audio_ids"] == [c, a, b, c]
    assert mum.post(f"/api/playlists/{pid}/items/move", json={"from": 0, "to": 3}).json()["audio_ids"] == [a, b, c, c]
    assert mum.delete(f"/api/playlists/{pid}/items/1").json()["audio_ids"] == [a, c, c]
    looped = mum.put(f"/api/playlists/{pid}", json={"name": "Renamed", "play_mode": "loop"})
    assert looped.status_code == 422 and "repeat-all is the player's own setting" in looped.json()["detail"]
    r = mum.put(f"/api/playlists/{pid}", json={"name": "Renamed", "play_mode": "shuffle"})
    assert (r.json()["name"], r.json()["play_mode"], r.json()["audio_ids"]) == ("Renamed", "shuffle", [a, c, c])
    assert mum.delete(f"/api/playlists/{pid}/items").json()["audio_ids"] == []
    got = mum.get(f"/api/playlists/{pid}").json()
    assert got["version"] == 7 and got["name"] == "Renamed"
    assert [p["id"] for p in mum.get("/api/playlists").json()["items"]] == [pid]

    for bad in (
        mum.post(f"/api/playlists/{pid}/items", json={"audio_id": "ghost"}),
        mum.post(f"/api/playlists/{pid}/items", json={"audio_id": a, "at": 5}),
        mum.delete(f"/api/playlists/{pid}/items/0"),
        mum.post(f"/api/playlists/{pid}/items/move", json={"from": 0, "to": 0}),
        mum.put(f"/api/playlists/{pid}", json={"play_mode": "random"}),
        mum.put(f"/api/playlists/{pid}", json={"audio_ids": [a] * 6}),  # MAX_CARD_TRACKS=5 here
        mum.post("/api/playlists", json={"name": " "}),
    ):
        assert bad.status_code == 422, bad.text
    kid = yapi.login(MEMBER)
    assert kid.get(f"/api/playlists/{pid}").status_code == 404
    assert kid.put(f"/api/playlists/{pid}", json={"name": "Mine"}).status_code == 404
    assert mum.delete(f"/api/playlists/{pid}").status_code == 204
    assert mum.get(f"/api/playlists/{pid}").status_code == 404
    assert yapi.cloud.requests() == []  # no card, no Yoto call


def test_edits_are_version_checked(yapi: YApi, mum: TestClient) -> None:
    made, (a, _) = make(mum, yapi)
    pid = made["id"]
    assert mum.put(f"/api/playlists/{pid}", json={"name": "One", "version": 1}).status_code == 200
    stale = mum.put(f"/api/playlists/{pid}", json={"name": "Two", "version": 1})
    assert stale.status_code == 409 and "version 2" in stale.json()["detail"]
    assert mum.post(f"/api/playlists/{pid}/items", json={"audio_id": a, "version": 1}).status_code == 409
    assert mum.delete(f"/api/playlists/{pid}/items", params={"version": 1}).status_code == 409
    assert mum.get(f"/api/playlists/{pid}").json()["name"] == "One"


BURST_WINDOW_S = 4.0  # wide enough that the edits below fit in it on a loaded machine


def test_the_card_follows_the_playlist_in_place_and_a_burst_is_one_write(
    backend_settings: Settings, yoto_cloud: RunningCloud, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    yapi = build_yapi(backend_settings, yoto_cloud, monkeypatch, tmp_path, card_sync_debounce_s=BURST_WINDOW_S)
    try:
        mum = yapi.login(ADMIN)
        link(mum)
        yapi.cloud.clear_requests()
        follow_in_place_and_debounce(yapi, mum)
    finally:
        close(yapi)


def follow_in_place_and_debounce(yapi: YApi, mum: TestClient) -> None:
    made, (a, b) = make(mum, yapi)
    pid = made["id"]
    r = mum.post(f"/api/playlists/{pid}/card")
    assert r.status_code == 201, r.text
    card = r.json()
    yoto_id = card["yoto_card_id"]
    assert card["playlist_id"] == pid and [t["audio_id"] for t in card["tracks"]] == [a, b]
    assert ids_on(yapi, yoto_id) == [a, b] and len(card_writes(yapi)) == 1
    assert mum.get(f"/api/playlists/{pid}").json()["yoto_card_id"] == yoto_id
    again = mum.post(f"/api/playlists/{pid}/card")
    assert again.status_code == 409 and again.json()["card_id"] == card["id"]
    assert mum.put(f"/api/cards/{card['id']}", json={"title": "x", "tracks": [{"audio_id": a}]}).status_code == 409

    c, d = yapi.item(title="Third").id, yapi.item(title="Fourth").id
    # A burst inside the window the card's first write opened is one more write, by the timer at its end.
    # (The first edit after a quiet window is written at once: tests/services/test_playlist_cards.py.)
    burst = [
        mum.post(f"/api/playlists/{pid}/items", json={"audio_id": c}),
        mum.post(f"/api/playlists/{pid}/items", json={"audio_id": d}),
        mum.post(f"/api/playlists/{pid}/items/move", json={"from": 3, "to": 0}),
        mum.delete(f"/api/playlists/{pid}/items/1"),
        mum.put(f"/api/playlists/{pid}", json={"name": "Car trip, again"}),
    ]
    for r in burst:
        sync = r.json()["card_sync"]
        assert sync["state"] == "pending" and 0 < sync["due_in_s"] <= BURST_WINDOW_S, sync
    assert len(card_writes(yapi)) == 1
    records = yapi.api.adapters.records
    wait_until(
        lambda: records.cards.get(card["id"]).synced_version == records.playlists.get(pid).version,
        timeout_s=BURST_WINDOW_S + 5,
    )
    # The timer is spent and no edit followed: nothing is left to write the card again.
    assert yapi.services.playlist_cards.pending_timers() == 0 and len(card_writes(yapi)) == 2
    final = mum.get(f"/api/playlists/{pid}").json()
    assert final["audio_ids"] == [d, b, c] and final["card_sync"]["state"] == "synced"
    assert ids_on(yapi, yoto_id) == [d, b, c]
    stored = yapi.sim_card(yoto_id)
    assert stored["title"] == "Car trip, again"
    assert [ch["key"] for ch in stored["content"]["chapters"]] == ["01", "02", "03"]
    assert list(yapi.cloud.cards()) == [yoto_id]  # never a second card
    assert mum.get(f"/api/cards/{card['id']}").json()["title"] == "Car trip, again"


def test_without_the_timer_the_next_request_writes_a_dirty_card(
    backend_settings: Settings, yoto_cloud: RunningCloud, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """How it runs on Lambda: no thread outlives the request."""
    window = 2.5  # the edit below must land inside it, however loaded the machine
    yapi = build_yapi(
        backend_settings, yoto_cloud, monkeypatch, tmp_path, card_sync_timer=False, card_sync_debounce_s=window
    )
    try:
        mum = yapi.login(ADMIN)
        link(mum)
        made, (a, b) = make(mum, yapi)
        pid = made["id"]
        made_card = mum.post(f"/api/playlists/{pid}/card").json()
        card_id, yoto_id = made_card["id"], made_card["yoto_card_id"]
        edit = mum.put(f"/api/playlists/{pid}", json={"audio_ids": [b]})
        assert edit.json()["card_sync"]["state"] == "pending"
        # No timer was started, so nothing writes the card in the background (on a clock:
        # tests/services/test_playlist_cards.py); the window passes with the card still dirty.
        assert yapi.services.playlist_cards.pending_timers() == 0
        let_the_window_pass(yapi, card_id, window)
        assert ids_on(yapi, yoto_id) == [a, b]
        listed = mum.get("/api/playlists").json()["items"][0]
        assert listed["card_sync"]["state"] == "pending" and listed["card_sync"]["due_in_s"] == 0
        assert mum.get(f"/api/playlists/{pid}").json()["card_sync"]["state"] == "synced"
        assert ids_on(yapi, yoto_id) == [b]
    finally:
        close(yapi)


def test_shuffle_writes_a_fresh_order_and_loop_is_refused(yapi: YApi, mum: TestClient) -> None:
    made, ids = make(mum, yapi, n=5, play_mode="shuffle")
    pid = made["id"]
    card = mum.post(f"/api/playlists/{pid}/card").json()
    yoto_id = card["yoto_card_id"]
    orders = [ids_on(yapi, yoto_id)]
    for _ in range(4):
        r = mum.post(f"/api/playlists/{pid}/reshuffle")
        assert r.status_code == 200, r.text
        orders.append(ids_on(yapi, yoto_id))
        assert [t["audio_id"] for t in r.json()["tracks"]] == orders[-1]
    assert all(sorted(o) == sorted(ids) for o in orders)
    assert len({tuple(o) for o in orders}) > 1  # 5 orders of 5 items all equal: 1 in 120**4
    assert mum.get(f"/api/playlists/{pid}").json()["audio_ids"] == ids  # the playlist's own order stays
    # Our own order per write: Yoto's content.config.shuffle is not used (docs/yoto.md).
    assert "shuffle" not in yapi.sim_card(yoto_id)["content"].get("config", {})

    # A card cannot repeat: repeat-all is a player setting (/device-v2/{id}/config), refused with the reason.
    let_the_window_pass(yapi, card["id"])
    writes = len(card_writes(yapi))
    refused = mum.put(f"/api/playlists/{pid}", json={"play_mode": "loop"})
    assert refused.status_code == 422
    assert "a card cannot repeat" in refused.json()["detail"] and "player" in refused.json()["detail"]
    assert mum.post("/api/playlists", json={"name": "Loops", "play_mode": "loop"}).status_code == 422
    assert len(card_writes(yapi)) == writes and mum.get(f"/api/playlists/{pid}").json()["play_mode"] == "shuffle"
    assert mum.put(f"/api/playlists/{pid}", json={"play_mode": "sequential"}).json()["card_sync"]["state"] == "synced"
    assert ids_on(yapi, yoto_id) == ids
    assert "repeatAll" not in yapi.sim_card(yoto_id)["content"].get("config", {})
    r = mum.post(f"/api/playlists/{pid}/reshuffle")
    assert r.status_code == 409 and "shuffle" in r.json()["detail"]
    assert list(yapi.cloud.cards()) == [yoto_id]


def test_a_playlist_stored_as_loop_plays_in_order_and_its_card_loses_repeat_all(yapi: YApi, mum: TestClient) -> None:
    """What earlier versions left behind: a `loop` playlist whose card holds content.config.repeatAll
    and a top-level editSettings. It reads as sequential; its next write cleans the card."""
    made, ids = make(mum, yapi, n=3)
    pid = made["id"]
    made_card = mum.post(f"/api/playlists/{pid}/card").json()
    yoto_id = made_card["yoto_card_id"]
    old = yapi.cloud.state.cards._cards[yoto_id].card
    old["content"]["config"] = {"repeatAll": True, "resumeTimeout": 600}
    old["editSettings"] = old["content"].pop("editSettings")
    playlists = yapi.api.adapters.records.playlists
    stored = playlists.get(pid)
    playlists.save(replace(stored, play_mode="loop"), expected_version=stored.version)

    let_the_window_pass(yapi, made_card["id"])
    shown = mum.get(f"/api/playlists/{pid}").json()
    assert shown["play_mode"] == "sequential" and shown["card_sync"]["state"] == "synced"
    card = yapi.sim_card(yoto_id)
    assert card["content"]["config"] == {"resumeTimeout": 600}
    assert "editSettings" not in card and card["content"]["editSettings"]["transcodeAudioUploads"] is True
    assert ids_on(yapi, yoto_id) == ids
    assert mum.get("/api/playlists").json()["items"][0]["play_mode"] == "sequential"
    assert mum.post(f"/api/playlists/{pid}/reshuffle").json()["detail"].startswith("the playlist plays sequential")
    let_the_window_pass(yapi, made_card["id"])
    assert mum.put(f"/api/playlists/{pid}", json={"name": "Renamed"}).status_code == 200
    assert playlists.get(pid).play_mode == "sequential", "an edit stores the mode it plays in"


def test_every_write_of_a_playlist_card_carries_the_streaming_fields(yapi: YApi, mum: TestClient) -> None:
    made, _ = make(mum, yapi, n=2)
    pid = made["id"]
    let_the_window_pass(yapi, mum.post(f"/api/playlists/{pid}/card").json()["id"])
    assert mum.post(f"/api/playlists/{pid}/items", json={"audio_id": yapi.item().id}).status_code == 200
    sent = [r.json() for r in card_writes(yapi)]
    assert len(sent) == 2 and "cardId" in sent[1], "a create and a rewrite"
    for body in sent:
        assert "editSettings" not in body
        assert body["content"]["editSettings"]["transcodeAudioUploads"] is True
        assert body["metadata"]["media"]["hasStreams"] is True
        assert set(body["content"].get("config", {})) <= CONTENT_CONFIG_KEYS
        for chapter in body["content"]["chapters"]:
            assert chapter["hasStreams"] is True
            assert all(t["type"] == "stream" and t["isNew"] is True for t in chapter["tracks"])


def test_deleting_the_playlist_deletes_its_card_and_deleting_the_card_detaches_it(yapi: YApi, mum: TestClient) -> None:
    made, _ = make(mum, yapi)
    pid = made["id"]
    card = mum.post(f"/api/playlists/{pid}/card").json()
    assert mum.delete(f"/api/cards/{card['id']}").status_code == 204
    after = mum.get(f"/api/playlists/{pid}").json()
    assert after["card_id"] is None and after["yoto_card_id"] is None
    assert yapi.cloud.cards() == {}
    second = mum.post(f"/api/playlists/{pid}/card").json()
    assert second["yoto_card_id"] != card["yoto_card_id"]
    assert mum.delete(f"/api/playlists/{pid}").status_code == 204
    assert yapi.cloud.cards() == {}
    assert mum.get(f"/api/cards/{second['id']}").status_code == 404


def test_a_card_needs_items_and_skips_deleted_ones(yapi: YApi, mum: TestClient) -> None:
    empty = mum.post("/api/playlists", json={"name": "Empty"}).json()
    r = mum.post(f"/api/playlists/{empty['id']}/card")
    assert r.status_code == 409 and "add items" in r.json()["detail"]
    assert yapi.cloud.requests() == []
    made, (a, b) = make(mum, yapi)
    assert mum.delete(f"/api/audio/{a}", params={"force": "true"}).status_code == 204
    card = mum.post(f"/api/playlists/{made['id']}/card").json()
    assert ids_on(yapi, card["yoto_card_id"]) == [b]
    assert mum.get(f"/api/playlists/{made['id']}").json()["audio_ids"] == [a, b]


def _mp3_item(yapi: YApi, tmp_path: Path, title: str, freq: float = 440.0) -> str:
    src = write_tone(tmp_path / f"{title}.mp3", "mp3", seconds=1.0, freq=freq)
    return yapi.api.add_item(title=title, data=src.read_bytes()).id


def test_a_playlist_moves_its_card_to_yotos_storage_and_back_in_place(
    yapi: YApi, mum: TestClient, tmp_path: Path
) -> None:
    yapi.cloud.configure(transcode_delay_s=0.2)
    a, b = _mp3_item(yapi, tmp_path, "Owl"), _mp3_item(yapi, tmp_path, "Moon", 660.0)
    made = mum.post("/api/playlists", json={"name": "Night", "audio_ids": [a, b]})
    assert made.status_code == 201 and made.json()["storage"] == "stream"  # PUBLIC_URL vouched for here
    pid = made.json()["id"]
    card = mum.post(f"/api/playlists/{pid}/card").json()
    assert card["storage"] == "stream" and ids_on(yapi, card["yoto_card_id"]) == [a, b]
    let_the_window_pass(yapi, card["id"])
    moved = mum.put(f"/api/playlists/{pid}", json={"storage": "yoto"})
    assert moved.status_code == 200, moved.text
    shown = moved.json()
    assert shown["storage"] == "yoto" and shown["card_sync"]["state"] == "synced"
    assert shown["yoto_card_id"] == card["yoto_card_id"] and list(yapi.cloud.cards()) == [card["yoto_card_id"]]
    tracks = [c["tracks"][0] for c in yapi.sim_card(card["yoto_card_id"])["content"]["chapters"]]
    assert [t["type"] for t in tracks] == ["audio", "audio"]
    assert all(t["trackUrl"].startswith("yoto:#") for t in tracks)
    assert len(yapi.cloud.requests("GET", "/media/transcode/audio/uploadUrl")) == 2
    assert mum.get(f"/api/cards/{card['id']}").json()["storage"] == "yoto"
    assert mum.get("/api/playlists").json()["items"][0]["storage"] == "yoto"
    let_the_window_pass(yapi, card["id"])
    back = mum.put(f"/api/playlists/{pid}", json={"storage": "stream"}).json()
    assert back["storage"] == "stream" and back["card_sync"]["state"] == "synced"
    assert ids_on(yapi, card["yoto_card_id"]) == [a, b] and list(yapi.cloud.cards()) == [card["yoto_card_id"]]
    bad = mum.put(f"/api/playlists/{pid}", json={"storage": "disk"})
    assert bad.status_code == 422 and "storage" in bad.text


def test_a_laptop_install_makes_yoto_playlists_and_a_failed_upload_keeps_the_card(
    backend_settings: Settings, yoto_cloud: RunningCloud, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    yoto_cloud.configure(transcode_delay_s=0.2)
    yapi = build_yapi(backend_settings, yoto_cloud, monkeypatch, tmp_path, allow_http_public_url=False)
    try:
        mum = yapi.login(ADMIN)
        link(mum)
        a, b = _mp3_item(yapi, tmp_path, "Owl"), _mp3_item(yapi, tmp_path, "Moon", 660.0)
        streamed = mum.post("/api/playlists", json={"name": "Streamed", "storage": "stream"})
        assert streamed.status_code == 409 and "PUBLIC_URL" in streamed.json()["detail"]
        made = mum.post("/api/playlists", json={"name": "Night", "audio_ids": [a]})
        assert made.status_code == 201 and made.json()["storage"] == "yoto"
        pid = made.json()["id"]
        r = mum.post(f"/api/playlists/{pid}/card")
        assert r.status_code == 201, r.text
        card = r.json()
        assert card["storage"] == "yoto"
        before = yapi.sim_card(card["yoto_card_id"])
        assert before["content"]["chapters"][0]["tracks"][0]["trackUrl"].startswith("yoto:#")
        assert mum.put(f"/api/playlists/{pid}", json={"storage": "stream"}).status_code == 409
        let_the_window_pass(yapi, card["id"])
        yapi.cloud.fail_transcode(message="Unsupported audio")
        edit = mum.post(f"/api/playlists/{pid}/items", json={"audio_id": b})
        assert edit.status_code == 200 and edit.json()["audio_ids"] == [a, b]
        sync = edit.json()["card_sync"]
        assert (
            sync["state"] == "failed" and "track 2 “Moon”" in sync["detail"] and "Unsupported audio" in sync["detail"]
        )
        assert yapi.sim_card(card["yoto_card_id"]) == before
        assert mum.get(f"/api/playlists/{pid}").json()["card_sync"]["state"] == "synced"  # the retry sends Moon
        assert len(yapi.sim_card(card["yoto_card_id"])["content"]["chapters"]) == 2
    finally:
        close(yapi)
