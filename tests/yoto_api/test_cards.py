"""Streaming MYO cards over HTTP against the fake Yoto cloud: what Yoto is sent,
what it keeps, and that a refusal happens before Yoto hears anything."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from core.settings import Settings
from simulator.cloud import RunningCloud
from tests.services.test_images import encoded
from tests.yoto_api.conftest import ADMIN, MEMBER, OTHER, YApi, build_yapi, close, link

PNG = encoded("png", "rgb24", 64, 64)  # real images: a cover is read from its structure
JPEG = encoded("mjpeg", "yuvj420p", 64, 64)


def icon_id(yapi: YApi, title: str) -> str:
    return next(str(i["mediaId"]) for i in yapi.cloud.icons() if i["title"] == title)


def stream_url(client: TestClient, audio_id: str) -> str:
    r = client.get(f"/api/audio/{audio_id}/stream-url")
    assert r.status_code == 200, r.text
    return str(r.json()["url"])


def chapters(card: dict[str, Any]) -> list[dict[str, Any]]:
    return list(card["content"]["chapters"])


@pytest.fixture
def mum(yapi: YApi) -> TestClient:
    client = yapi.login(ADMIN)
    link(client)
    yapi.cloud.clear_requests()
    return client


def test_create_writes_one_stream_chapter_per_track_with_our_urls_and_icons(yapi: YApi, mum: TestClient) -> None:
    fox = yapi.item(title="The Fox and the Moon")
    car = yapi.item(title="Car songs")
    own_icon = icon_id(yapi, "Dragon")
    body = {
        "title": "Bedtime",
        "description": "For sleepy heads",
        "author": "Mum",
        "tracks": [{"audio_id": fox.id}, {"audio_id": car.id, "title": "Road trip", "icon": own_icon}],
    }
    r = mum.post("/api/cards", json=body)
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["title"] == "Bedtime" and out["playlist_id"] is None and len(out["yoto_card_id"]) == 5
    moon = icon_id(yapi, "Moon")
    assert out["tracks"] == [
        {"audio_id": fox.id, "title": None, "icon": None, "chosen_icon": moon},
        {"audio_id": car.id, "title": "Road trip", "icon": own_icon, "chosen_icon": own_icon},
    ]

    sent = yapi.sim_card(out["yoto_card_id"])
    assert sent["title"] == "Bedtime"
    assert sent["metadata"]["description"] == "For sleepy heads" and sent["metadata"]["author"] == "Mum"
    first, second = chapters(sent)
    assert [first["key"], second["key"]] == ["01", "02"]
    assert [first["overlayLabel"], second["overlayLabel"]] == ["1", "2"]
    assert first["title"] == "The Fox and the Moon" and second["title"] == "Road trip"
    for chapter, item, icon in ((first, fox, moon), (second, car, own_icon)):
        (track,) = chapter["tracks"]
        assert track["key"] == "01" and track["type"] == "stream" and track["format"] == "mp3"
        assert track["trackUrl"] == stream_url(mum, item.id)
        assert "X-Amz" not in track["trackUrl"] and track["trackUrl"].startswith("http://127.0.0.1:8000/s/")
        assert track["duration"] == item.duration_s
        assert chapter["display"]["icon16x16"] == f"yoto:#{icon}" == track["display"]["icon16x16"]
    # The URL on the card really serves the audio, without a cookie.
    path = first["tracks"][0]["trackUrl"].removeprefix("http://127.0.0.1:8000")
    played = yapi.api.client(origin=None).get(path)
    if played.status_code == 302:  # AWS: the stable URL hands the player a short-lived S3 one
        assert yapi.settings.use_aws
        played = httpx.get(played.headers["location"], timeout=5)  # type: ignore[assignment]
    assert played.status_code == 200 and played.content.startswith(b"\xff\xfb")

    assert mum.get(f"/api/cards/{out['id']}").json() == out
    listing = mum.get("/api/cards").json()
    assert [c["id"] for c in listing["items"]] == [out["id"]]
    assert yapi.login(MEMBER).get(f"/api/cards/{out['id']}").status_code == 404


def test_update_rewrites_the_same_card_and_keeps_what_yoto_holds(yapi: YApi, mum: TestClient) -> None:
    a, b, c = (yapi.item(title=t) for t in ("Owl at night", "Rainbow", "Train ride"))
    made = mum.post("/api/cards", json={"title": "Mix", "tracks": [{"audio_id": a.id}, {"audio_id": b.id}]}).json()
    card_id = made["yoto_card_id"]
    # The family gives the owl chapter an ambient colour in Yoto's app.
    token = yapi.api.adapters.records.tokens.get("mum").access_token
    edited = yapi.sim_card(card_id)
    edited["content"]["chapters"][0]["ambient"] = {"defaultTrackAmbient": "#ff8800"}
    edited["content"]["chapters"][0]["tracks"][0]["fileSize"] = 12345
    edited["content"]["config"] = {"resumeTimeout": 600}
    r = httpx.post(
        f"{yapi.cloud.api_url}/content", json=edited, headers={"Authorization": f"Bearer {token}"}, timeout=5
    )
    assert r.status_code == 200, r.text

    body = {"title": "Mix two", "tracks": [{"audio_id": c.id}, {"audio_id": a.id, "title": "The owl"}]}
    r = mum.put(f"/api/cards/{made['id']}", json=body)
    assert r.status_code == 200, r.text
    assert r.json()["yoto_card_id"] == card_id and r.json()["title"] == "Mix two"
    assert [t["audio_id"] for t in r.json()["tracks"]] == [c.id, a.id]
    assert len(yapi.cloud.cards()) == 1
    now = yapi.sim_card(card_id)
    assert now["title"] == "Mix two"
    train, owl = chapters(now)
    assert [train["key"], owl["key"]] == ["01", "02"] and [train["overlayLabel"], owl["overlayLabel"]] == ["1", "2"]
    assert train["tracks"][0]["trackUrl"] == stream_url(mum, c.id)
    assert owl["title"] == "The owl" and owl["tracks"][0]["trackUrl"] == stream_url(mum, a.id)
    assert owl["ambient"] == {"defaultTrackAmbient": "#ff8800"} and owl["tracks"][0]["fileSize"] == 12345
    assert now["content"]["config"] == {"resumeTimeout": 600}
    assert mum.get(f"/api/cards/{made['id']}").json() == r.json()


def test_audio_deleted_with_force_is_skipped_when_the_card_is_rewritten(yapi: YApi, mum: TestClient) -> None:
    a, b = yapi.item(title="Keep"), yapi.item(title="Gone")
    made = mum.post("/api/cards", json={"title": "Two", "tracks": [{"audio_id": a.id}, {"audio_id": b.id}]}).json()
    assert mum.delete(f"/api/audio/{b.id}").status_code == 409
    assert mum.delete(f"/api/audio/{b.id}", params={"force": "true"}).status_code == 204
    r = mum.put(f"/api/cards/{made['id']}", json={"title": "Two", "tracks": [{"audio_id": a.id}, {"audio_id": b.id}]})
    assert r.status_code == 200, r.text
    assert [t["audio_id"] for t in r.json()["tracks"]] == [a.id]
    (only,) = chapters(yapi.sim_card(made["yoto_card_id"]))
    assert only["key"] == "01" and only["tracks"][0]["trackUrl"] == stream_url(mum, a.id)
    # A new id that does not exist is still refused.
    r = mum.put(f"/api/cards/{made['id']}", json={"title": "Two", "tracks": [{"audio_id": "nope"}]})
    assert r.status_code == 422


def test_delete_removes_the_card_on_yoto_and_here(yapi: YApi, mum: TestClient) -> None:
    made = mum.post("/api/cards", json={"title": "Bye", "tracks": [{"audio_id": yapi.item().id}]}).json()
    assert yapi.login(MEMBER).delete(f"/api/cards/{made['id']}").status_code == 404
    assert mum.delete(f"/api/cards/{made['id']}").status_code == 204
    assert yapi.sim_card(made["yoto_card_id"])["deleted"] is True
    assert yapi.cloud.cards() == {}
    assert mum.get(f"/api/cards/{made['id']}").status_code == 404
    assert mum.delete(f"/api/cards/{made['id']}").status_code == 404


def test_cover_is_uploaded_and_set_as_image_l(yapi: YApi, mum: TestClient) -> None:
    made = mum.post("/api/cards", json={"title": "Cover", "tracks": [{"audio_id": yapi.item().id}]}).json()
    # The Content-Type a client claims does not matter: the bytes do.
    r = mum.put(f"/api/cards/{made['id']}/cover", content=JPEG, headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 200, r.text
    (cover,) = yapi.cloud.covers()
    assert cover["contentType"] == "image/jpeg" and cover["size"] == len(JPEG)
    url = r.json()["cover_url"]
    assert url and yapi.sim_card(made["yoto_card_id"])["metadata"]["cover"]["imageL"] == url
    assert len(chapters(yapi.sim_card(made["yoto_card_id"]))) == 1  # the rest of the card kept
    assert (
        mum.put(f"/api/cards/{made['id']}/cover", content=PNG, headers={"Content-Type": "image/png"}).status_code == 200
    )
    assert len(yapi.cloud.covers()) == 2

    yapi.cloud.clear_requests()
    fake_png = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(64)  # the right first bytes, nothing behind
    for data, status in ((b"GIF89a" + bytes(50), 415), (b"", 422), (fake_png, 422), (PNG + bytes(60_000), 413)):
        r = mum.put(f"/api/cards/{made['id']}/cover", content=data, headers={"Content-Type": "image/png"})
        assert r.status_code == status, (status, r.text)
    assert yapi.cloud.requests() == []
    assert (
        mum.get(f"/api/cards/{made['id']}").json()["cover_url"]
        == yapi.sim_card(made["yoto_card_id"])["metadata"]["cover"]["imageL"]
    )


def test_invalid_cards_are_refused_before_yoto_hears_anything(yapi: YApi, mum: TestClient) -> None:
    mine = yapi.item()
    bens = yapi.item(owner=OTHER[0])
    ben = yapi.login(OTHER)
    link(ben)
    yapi.cloud.clear_requests()
    refused = [
        (mum, {"title": "", "tracks": [{"audio_id": mine.id}]}),
        (mum, {"title": "   ", "tracks": [{"audio_id": mine.id}]}),
        (mum, {"title": "x" * 101, "tracks": [{"audio_id": mine.id}]}),
        (mum, {"title": "None", "tracks": []}),
        (mum, {"title": "Too many", "tracks": [{"audio_id": mine.id}] * 6}),  # MAX_CARD_TRACKS=5 here
        (mum, {"title": "Ghost", "tracks": [{"audio_id": "doesnotexist"}]}),
        (mum, {"title": "Bad title", "tracks": [{"audio_id": mine.id, "title": "y" * 101}]}),
        (mum, {"title": "Bad icon", "tracks": [{"audio_id": mine.id, "icon": "yoto:#abc"}]}),
        (mum, {"title": "Strict", "tracks": [{"audio_id": mine.id}], "extra": 1}),
        (ben, {"title": "Not ben's", "tracks": [{"audio_id": mine.id}, {"audio_id": "x"}]}),
    ]
    for client, body in refused:
        r = client.post("/api/cards", json=body)
        assert r.status_code == 422, (body, r.text)
        assert isinstance(r.json()["detail"], str) and r.json()["detail"]
    # ben may use his own items and an admin's (mum's), not another member's.
    kids = yapi.item(owner=MEMBER[0])
    r = ben.post("/api/cards", json={"title": "Kid's", "tracks": [{"audio_id": kids.id}]})
    assert r.status_code == 422 and "kid" in r.json()["detail"]
    assert yapi.cloud.requests() == []
    assert yapi.api.adapters.records.cards.list(limit=10).items == []
    assert (
        ben.post(
            "/api/cards", json={"title": "Ben's", "tracks": [{"audio_id": bens.id}, {"audio_id": mine.id}]}
        ).status_code
        == 201
    )


def test_a_streaming_card_needs_an_https_public_url_unless_http_is_allowed(
    backend_settings: Settings, yoto_cloud: RunningCloud, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    yapi = build_yapi(backend_settings, yoto_cloud, monkeypatch, tmp_path, allow_http_public_url=False)
    try:
        mum = yapi.login(ADMIN)
        link(mum)  # the callback is on this machine: Yoto accepts a loopback http address
        yapi.cloud.clear_requests()
        body = {"title": "Plain", "tracks": [{"audio_id": yapi.item().id}], "storage": "stream"}
        r = mum.post("/api/cards", json=body)
        assert r.status_code == 409
        assert "https://" in r.json()["detail"] and "ALLOW_HTTP_PUBLIC_URL=true" in r.json()["detail"]
        assert yapi.cloud.requests() == []
    finally:
        close(yapi)


def test_nothing_is_sent_without_a_linked_account(yapi: YApi) -> None:
    mum = yapi.login(ADMIN)
    r = mum.post("/api/cards", json={"title": "Unlinked", "tracks": [{"audio_id": yapi.item().id}]})
    assert r.status_code == 409 and "link" in r.json()["detail"]
    assert yapi.cloud.requests() == []


def test_icons_are_searched_by_title_words(yapi: YApi, mum: TestClient) -> None:
    r = mum.get("/api/icons", params={"q": "rocket"})
    assert r.status_code == 200, r.text
    first = r.json()["items"][0]
    assert first["title"] == "Rocket" and first["media_id"] == icon_id(yapi, "Rocket") and first["url"]
    assert len(mum.get("/api/icons", params={"limit": 500}).json()["items"]) == len(yapi.cloud.icons())
    mum.get("/api/icons", params={"q": "moon"})
    assert len(yapi.cloud.requests(path_prefix="/media/displayIcons")) == 1  # cached for hours
