"""MYO content: create, update in place, read, list, delete, and the checks firmware would make."""

from __future__ import annotations

import copy
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from simulator.cloud import RunningCloud
from tests.audio_fixtures import write_tone
from tests.simulator.flows import bearer, card_body, stream_track, upload_audio


def icon_id(cloud: RunningCloud, title: str = "Moon") -> str:
    return str(next(i["mediaId"] for i in cloud.icons() if i["title"] == title))


def create(http: httpx.Client, auth: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
    answer = http.post("/content", json=body, headers=auth)
    assert answer.status_code == 200, answer.text
    return dict(answer.json()["card"])


def test_create_get_mine_update_delete(yoto_cloud: RunningCloud, http: httpx.Client, auth: dict[str, str]) -> None:
    body = card_body(icon=icon_id(yoto_cloud))
    card = create(http, auth, body)
    card_id = card["cardId"]
    assert len(card_id) == 5
    assert card_id.isalnum()
    assert card["title"] == "Bedtime stories"
    assert card["content"]["chapters"] == body["content"]["chapters"]

    got = http.get(f"/content/{card_id}", headers=auth)
    assert got.status_code == 200
    assert got.json()["card"]["content"]["chapters"][0]["display"]["icon16x16"].startswith("yoto:#")
    assert got.json()["card"]["metadata"] == body["metadata"]

    mine = http.get("/content/mine", headers=auth).json()["cards"]
    assert [c["cardId"] for c in mine] == [card_id]
    assert "chapters" not in mine[0]["content"]
    assert mine[0]["content"]["playbackType"] == "linear"

    updated_body = copy.deepcopy(body) | {"cardId": card_id, "title": "Bedtime, again"}
    updated_body["content"]["chapters"].append(
        {"key": "03", "title": "Chapter 3", "tracks": [stream_track("01")]},
    )
    updated = create(http, auth, updated_body)
    assert updated["cardId"] == card_id
    assert updated["createdAt"] == card["createdAt"]
    assert [c["key"] for c in updated["content"]["chapters"]] == ["01", "02", "03"]
    assert len(yoto_cloud.cards()) == 1
    assert yoto_cloud.card(card_id)["title"] == "Bedtime, again"

    assert http.delete(f"/content/{card_id}", headers=auth).json() == {"status": "ok"}
    assert http.get(f"/content/{card_id}", headers=auth).status_code == 404
    assert http.get("/content/mine", headers=auth).json()["cards"] == []
    shown = http.get("/content/mine", params={"showdeleted": "true"}, headers=auth).json()["cards"]
    assert shown[0]["deleted"] is True
    restore = http.post("/content", json=updated_body, headers=auth)
    assert restore.status_code == 400
    assert restore.json()["message"] == "Deleted card cannot be restored"
    assert http.delete(f"/content/{card_id}", headers=auth).status_code == 404


def test_update_replaces_the_whole_card(yoto_cloud: RunningCloud, http: httpx.Client, auth: dict[str, str]) -> None:
    """A read-modify-write that drops fields loses them: the trap the shared notes describe."""
    card = create(http, auth, card_body(icon=icon_id(yoto_cloud)))
    lean = card_body()  # same card without icons or metadata
    del lean["metadata"]
    lean["cardId"] = card["cardId"]
    create(http, auth, lean)
    stored = yoto_cloud.card(card["cardId"])
    assert "metadata" not in stored
    assert "display" not in stored["content"]["chapters"][0]


def test_unknown_or_foreign_card_ids(yoto_cloud: RunningCloud, http: httpx.Client, auth: dict[str, str]) -> None:
    assert http.get("/content/zzzzz", headers=auth).status_code == 404
    missing = http.post("/content", json=card_body() | {"cardId": "zzzzz"}, headers=auth)
    assert missing.status_code == 404
    card = create(http, auth, card_body())
    stranger = bearer(yoto_cloud.issue_tokens(account="neighbour")["access_token"])
    assert http.get(f"/content/{card['cardId']}", headers=stranger).status_code == 404
    assert http.post("/content", json=card_body() | {"cardId": card["cardId"]}, headers=stranger).status_code == 403
    assert http.get("/content/mine", headers=stranger).json()["cards"] == []


def _with(body: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of body with the dotted path (list indexes as numbers) set, or removed for ...; ."""
    out = copy.deepcopy(body)
    target: Any = out
    *parents, last = path.split(".")
    for part in parents:
        target = target[int(part)] if part.isdigit() else target[part]
    key: Any = int(last) if last.isdigit() else last
    if value is ...:
        del target[key]
    else:
        target[key] = value
    return out


def _goto(chapter_key: str, track_key: str) -> dict[str, Any]:
    return {"cmd": "goto", "params": {"chapterKey": chapter_key, "trackKey": track_key}}


INVALID = [
    ("title", ..., "title is required"),
    ("title", "", "title is required"),
    ("title", 42, "title is required"),
    ("title", "x" * 101, "title must be at most 100 characters"),
    ("cardId", "abc", "cardId must be 5 letters or digits"),
    ("content", ..., "content must be an object"),
    ("content.chapters", "nope", "content.chapters must be a list"),
    ("content.playbackType", "random", "content.playbackType must be one of"),
    ("content.config.resumeTimeout", "soon", "content.config.resumeTimeout must be a non-negative integer"),
    ("content.chapters.0.key", "1", 'content.chapters[0].key must be a zero-padded string such as "01"'),
    ("content.chapters.1.key", "01", "content.chapters[1].key repeats '01'"),
    ("content.chapters.0.key", 1, "content.chapters[0].key must be a zero-padded string"),
    ("content.chapters.0.key", "001", "content.chapters[0].key must be a zero-padded string"),
    ("content.chapters.0.tracks", [], "content.chapters[0].tracks must be a non-empty list"),
    ("content.chapters.0.title", 5, "content.chapters[0].title must be a string"),
    ("content.chapters.0.tracks.0.key", "8", "content.chapters[0].tracks[0].key must be a zero-padded string"),
    ("content.chapters.0.tracks.0.type", "video", "content.chapters[0].tracks[0].type must be one of"),
    ("content.chapters.0.tracks.0.format", "wav", "content.chapters[0].tracks[0].format must be one of"),
    ("content.chapters.0.tracks.0.trackUrl", ..., "content.chapters[0].tracks[0].trackUrl is required"),
    ("content.chapters.0.tracks.0.trackUrl", "ftp://x/a.mp3", "trackUrl must be an absolute http or https URL"),
    ("content.chapters.0.tracks.0.duration", "long", "tracks[0].duration must be a non-negative number"),
    ("content.chapters.0.tracks.0.duration", True, "tracks[0].duration must be a non-negative number"),
    ("content.chapters.0.tracks.0.fileSize", 1.5, "tracks[0].fileSize must be a non-negative integer"),
    ("content.chapters.0.display", {"icon16x16": "moon"}, 'icon16x16 must look like "yoto:#<mediaId>"'),
    ("content.chapters.0.display", {"icon16x16": "yoto:#NoSuchIcon"}, "names an unknown icon 'NoSuchIcon'"),
    ("content.chapters.0.tracks.0.events", {"onLhb": {"cmd": "jump"}}, "events.onLhb.cmd must be one of"),
    # Interactive cards: each event is goto a chapter and track of the card, or stop (twee2yoto's shapes).
    ("content.chapters.0.tracks.0.events", {"onLhb": "02"}, "tracks[0].events.onLhb must be an object"),
    ("content.chapters.0.tracks.0.events", ["onEnd"], "content.chapters[0].tracks[0].events must be an object"),
    ("content.chapters.0.tracks.0.events", {"onLongPress": {"cmd": "stop"}}, "has an unknown event 'onLongPress'"),
    ("content.chapters.0.tracks.0.events", {"onEnd": {"cmd": "goto"}}, "events.onEnd.params must be an object"),
    ("content.chapters.0.tracks.0.events", {"onEnd": {"cmd": "goto", "params": {"chapterKey": "02"}}}, "trackKey is"),
    ("content.chapters.0.tracks.0.events", {"onRhb": _goto("09", "09")}, "chapterKey names '09', a chapter the"),
    ("content.chapters.0.tracks.0.events", {"onRhb": _goto("02", "01")}, "trackKey names '01', a track chapter 02"),
    ("content.chapters.0.tracks.0.events", {"onEnd": {"cmd": "stop", "params": {}}}, "params is not taken by stop"),
    ("content.chapters.0.tracks.0.events", {"onEnd": {"cmd": "stop", "when": 1}}, "has unknown fields ['when']"),
    ("content.chapters.0.availableFrom", "2026-12-01", "content.chapters[0].availableFrom must be an ISO date-time"),
    ("content.chapters.0.availableFrom", "2026-12-01T00:00:00", "availableFrom must be an ISO date-time with Z"),
    ("content.chapters.0.availableFrom", 1796083200000, "content.chapters[0].availableFrom must be an ISO"),
    ("content.chapters.0.availableFrom", "2026-02-30T00:00:00Z", "availableFrom is not a real date-time"),
    ("content.editSettings.interactiveContent", "yes", "content.editSettings.interactiveContent must be true or"),
    ("metadata", [], "metadata must be an object"),
    ("metadata.description", 7, "metadata.description must be a string"),
    # Where yoto.dev puts the streaming fields, and nowhere else.
    ("editSettings", {"transcodeAudioUploads": True}, "editSettings belongs inside content (content.editSettings)"),
    ("content.editSettings", ..., "content.editSettings.transcodeAudioUploads must be true on a card with stream"),
    ("content.editSettings", {"transcodeAudioUploads": False}, "transcodeAudioUploads must be true"),
    ("content.editSettings", "yes", "content.editSettings must be an object"),
    ("content.chapters.0.hasStreams", "yes", "content.chapters[0].hasStreams must be true or false"),
    ("content.chapters.0.tracks.0.isNew", 1, "content.chapters[0].tracks[0].isNew must be true or false"),
    # content.config holds the six documented keys only; repeatAll is a player setting.
    ("content.config.repeatAll", True, "content.config.repeatAll is not a card setting (allowed: autoadvance,"),
    ("content.config.disableTrackNav", "yes", "content.config.disableTrackNav must be true or false"),
    ("content.config.onlineOnly", "no", "content.config.onlineOnly must be true or false"),
    ("content.config.shuffle", {"start": 1}, "content.config.shuffle must be a list of {start, end, limit}"),
    ("content.config.shuffle", [{"start": "a"}], "content.config.shuffle[0].start must be a non-negative integer"),
]


@pytest.mark.parametrize(("path", "value", "message"), INVALID, ids=[f"{p}={v!r}"[:40] for p, v, _ in INVALID])
def test_invalid_cards_are_refused_with_a_reason(
    yoto_cloud: RunningCloud, http: httpx.Client, auth: dict[str, str], path: str, value: Any, message: str
) -> None:
    answer = http.post("/content", json=_with(card_body(), path, value), headers=auth)
    assert answer.status_code == 400, answer.text
    assert message in answer.json()["message"]
    assert yoto_cloud.cards() == {}


def test_request_body_must_be_a_json_object(yoto_cloud: RunningCloud, http: httpx.Client, auth: dict[str, str]) -> None:
    not_json = http.post("/content", content=b"{oops", headers=auth | {"Content-Type": "application/json"})
    assert not_json.status_code == 400
    assert "not valid JSON" in not_json.json()["message"]
    assert http.post("/content", json=[1, 2], headers=auth).status_code == 400


def test_accepted_shapes(yoto_cloud: RunningCloud, http: httpx.Client, auth: dict[str, str], tmp_path: Path) -> None:
    many = card_body(chapters=12)
    assert [c["key"] for c in many["content"]["chapters"]][-3:] == ["10", "11", "12"]
    create(http, auth, many)
    yoto_cloud.configure(transcode_delay_s=0)
    uploaded = upload_audio(http, auth, write_tone(tmp_path / "a.mp3", "mp3", seconds=0.5).read_bytes())
    reference = {"key": "01", "type": "audio", "trackUrl": f"yoto:#{uploaded['transcodedSha256']}"}
    audio = _with(card_body(), "content.chapters.0.tracks.0", reference)
    create(http, auth, audio)
    interactive = _with(card_body(), "content.playbackType", "interactive")
    event = {"onEnd": _goto("02", "02")}
    create(http, auth, _with(interactive, "content.chapters.0.tracks.0.events", event))
    create(http, auth, _with(card_body(), "content.chapters", []))
    streaming = _with(card_body(), "content.chapters.0.hasStreams", True)
    streaming = _with(streaming, "content.chapters.0.tracks.0.isNew", True)
    config = {
        "autoadvance": "next",
        "resumeTimeout": 300,
        "systemActivity": True,
        "trackNumberOverlayTimeout": 5,
        "onlineOnly": False,
        "shuffle": [{"start": 1, "end": 5, "limit": 3}],
    }
    stored = create(http, auth, _with(streaming, "content.config", config))
    assert stored["content"]["editSettings"] == {"transcodeAudioUploads": True} and "editSettings" not in stored
    no_streams = _with(audio, "content.chapters", audio["content"]["chapters"][:1])
    create(http, auth, _with(no_streams, "content.editSettings", ...))  # only stream cards need transcodeAudioUploads
    assert len(yoto_cloud.cards()) == 6


def test_an_interactive_card_as_yotos_converter_writes_it_is_taken_with_its_dates(
    yoto_cloud: RunningCloud, http: httpx.Client, auth: dict[str, str]
) -> None:
    """twee2yoto's card (content.config with both nav flags, editSettings, goto and stop events), and
    chapters' availableFrom as an instant with Z or an offset, or null (yoto.dev's chapter schema)."""
    body = card_body(chapters=3)
    body["content"] |= {
        "playbackType": "interactive",
        "config": {"resumeTimeout": 2592000, "disableTrackNav": True, "disableChapterNav": True, "autoadvance": "none"},
        "editSettings": {
            "autoOverlayLabels": "chapters",
            "editKeys": False,
            "interactiveContent": True,
            "transcodeAudioUploads": True,
        },
    }
    chapters = body["content"]["chapters"]
    chapters[0]["tracks"][0]["events"] = {
        "onLhb": _goto("02", "02"),
        "onRhb": _goto("03", "03"),
        "onEnd": _goto("01", "01"),
    }
    chapters[1]["tracks"][0]["events"] = {"onEnd": {"cmd": "stop"}}
    chapters[1]["availableFrom"] = "2027-03-28T00:00:00Z"
    chapters[2]["availableFrom"] = "2027-03-29T00:00:00.000+01:00"
    stored = create(http, auth, body)
    assert stored["content"]["config"]["disableTrackNav"] is True
    assert stored["content"]["chapters"] == chapters, "kept as sent"
    create(http, auth, _with(body, "content.chapters.1.availableFrom", None))


def test_shop_cards_are_served_at_card_only(yoto_cloud: RunningCloud, http: httpx.Client, auth: dict[str, str]) -> None:
    shop = http.get("/card/sHOwL", headers=auth)
    assert shop.status_code == 200
    card = shop.json()["card"]
    assert card["cardId"] == "sHOwL" and card["title"] == "The Owl Who Lost Her Hoot"
    assert [c["key"] for c in card["content"]["chapters"]] == ["01-INT", "01", "02"]  # not only numbers
    assert http.get("/content/sHOwL", headers=auth).status_code == 404, "/content/{id} serves own cards only"
    assert "sHOwL" not in [c["cardId"] for c in http.get("/content/mine", headers=auth).json()["cards"]]
    stranger = bearer(yoto_cloud.issue_tokens(account="neighbour")["access_token"])
    assert http.get("/card/sHOwL", headers=stranger).status_code == 404, "a card the family did not buy"
    yoto_cloud.add_shop_card({**card, "cardId": "sHnb1"}, account="neighbour")
    assert http.get("/card/sHnb1", headers=stranger).status_code == 200
    assert http.get("/card/sHnb1", headers=auth).status_code == 404
    own = create(http, auth, card_body(title="Ours"))
    assert http.get(f"/card/{own['cardId']}", headers=auth).json()["card"]["title"] == "Ours"
    assert http.get(f"/card/{own['cardId']}", headers=stranger).status_code == 404
    assert http.get("/card/zzzzz", headers=auth).status_code == 404
    assert http.get("/card/sHOwL").status_code == 401


def test_configurable_limits_and_https(yoto_cloud: RunningCloud, http: httpx.Client, auth: dict[str, str]) -> None:
    yoto_cloud.configure(max_chapters=2, require_https_tracks=True, strict_icons=False)
    too_many = http.post("/content", json=card_body(chapters=3), headers=auth)
    assert "at most 2 allowed" in too_many.json()["message"]
    plain = _with(card_body(), "content.chapters.0.tracks.0.trackUrl", "http://127.0.0.1/a.mp3")
    assert "absolute https URL" in http.post("/content", json=plain, headers=auth).json()["message"]
    any_icon = _with(card_body(), "content.chapters.0.display", {"icon16x16": "yoto:#NotInTheSet"})
    assert http.post("/content", json=any_icon, headers=auth).status_code == 200


def test_stale_reads_when_asked_for(yoto_cloud: RunningCloud, http: httpx.Client, auth: dict[str, str]) -> None:
    yoto_cloud.configure(stale_read_s=1.0)
    card = create(http, auth, card_body(title="First"))
    create(http, auth, card_body(title="Second") | {"cardId": card["cardId"]})
    assert http.get(f"/content/{card['cardId']}", headers=auth).json()["card"]["title"] == "First"
    yoto_cloud.advance(1.5)
    assert http.get(f"/content/{card['cardId']}", headers=auth).json()["card"]["title"] == "Second"


def test_60_concurrent_card_writes(yoto_cloud: RunningCloud, auth: dict[str, str]) -> None:
    limits = httpx.Limits(max_connections=60, max_keepalive_connections=60)
    with (
        httpx.Client(base_url=yoto_cloud.url, timeout=10, limits=limits, verify=False) as client,
        ThreadPoolExecutor(max_workers=60) as pool,
    ):
        answers = list(
            pool.map(lambda n: client.post("/content", json=card_body(f"Card {n}"), headers=auth), range(60))
        )
    assert [a.status_code for a in answers] == [200] * 60
    assert len({a.json()["card"]["cardId"] for a in answers}) == 60
    assert len(yoto_cloud.cards()) == 60
