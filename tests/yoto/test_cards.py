"""The card JSON shape: padded keys, icons, the streaming fields where yoto.dev puts
them, and a read-modify-write that keeps every field it read."""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import Any

import pytest

from adapters.yoto.cards import card_json, parse_card, parse_summary, unwrap_card
from core.errors import UpstreamError
from core.yoto.cloud import CONTENT_CONFIG_KEYS, YotoCard, YotoChapter, YotoTrack, icon_ref, media_id_of, pad_key

ICON_A = "aUBxMK1mG6Gk3b2QgFpLNRGYuHWyKIWiPbYxMm7zEcs"
ICON_B = "nD2VZ6tmWtnM1GXWBfVE8I9jI8Eo0SZAbnPSubJ2WrA"


def _stream(n: int) -> YotoTrack:
    return YotoTrack(title=f"Song {n}", track_url=f"https://example.test/s/{n}.mp3", duration=61.5)


def test_keys_are_zero_padded_by_position() -> None:
    assert [pad_key(n) for n in (1, 8, 9, 10, 99, 100)] == ["01", "08", "09", "10", "99", "100"]
    with pytest.raises(ValueError):
        pad_key(0)
    card = YotoCard(title="Twelve", chapters=[YotoChapter(title=f"C{n}", tracks=[_stream(n)]) for n in range(1, 13)])
    body = card_json(card)
    chapters = body["content"]["chapters"]
    assert [c["key"] for c in chapters] == [pad_key(n) for n in range(1, 13)]
    assert chapters[7]["key"] == "08"
    assert [c["overlayLabel"] for c in chapters][:3] == ["1", "2", "3"]
    assert {c["tracks"][0]["key"] for c in chapters} == {"01"}


def test_streaming_track_shape_and_icons() -> None:
    card = YotoCard(
        title="Bedtime",
        description="Calm songs",
        author="Mum",
        chapters=[
            YotoChapter(title="Owls", icon=ICON_A, tracks=[_stream(1), replace(_stream(2), icon=ICON_B)]),
            YotoChapter(title="No icon", tracks=[_stream(3)]),
        ],
    )
    body = card_json(card)
    first, second = body["content"]["chapters"]
    assert first["display"] == {"icon16x16": "yoto:#" + ICON_A}
    assert "display" not in second
    t1, t2 = first["tracks"]
    assert t1 == {
        "key": "01",
        "title": "Song 1",
        "type": "stream",
        "format": "mp3",
        "trackUrl": "https://example.test/s/1.mp3",
        "duration": 61.5,
        "isNew": True,
    }
    assert t2["key"] == "02" and t2["display"] == {"icon16x16": icon_ref(ICON_B)} and t2["isNew"] is True
    assert first["hasStreams"] is True and second["hasStreams"] is True
    assert body["title"] == "Bedtime" and "cardId" not in body
    assert body["metadata"]["description"] == "Calm songs" and body["metadata"]["author"] == "Mum"
    assert body["metadata"]["media"]["hasStreams"] is True
    # yoto.dev "Streaming tracks": editSettings inside content, never at the card's top level.
    assert body["content"]["editSettings"] == {"transcodeAudioUploads": True}
    assert "editSettings" not in body
    assert body["content"]["playbackType"] == "linear"


def test_icon_reference_format_in_one_place() -> None:
    assert icon_ref(ICON_A) == f"yoto:#{ICON_A}"
    assert media_id_of(icon_ref(ICON_A)) == ICON_A
    assert media_id_of("https://example.test/icon.png") is None
    assert media_id_of("yoto:#") is None and media_id_of(None) is None
    with pytest.raises(ValueError):
        icon_ref("yoto:#twice")


STORED = {
    "cardId": "Ab3dE",
    "title": "Stories",
    "userId": "auth0|someone",
    "createdAt": "2024-01-01T00:00:00.000Z",
    "futureField": {"nested": [1, 2, 3]},
    "content": {
        "playbackType": "linear",
        "config": {"resumeTimeout": 2592000, "autoadvance": "next"},
        "unknownContentKey": True,
        "chapters": [
            {
                "key": "01",
                "title": "The Fox",
                "overlayLabel": "1",
                "duration": 300,
                "ambient": {"defaultTrackDisplay": None},
                "display": {"icon16x16": "yoto:#" + ICON_A, "iconExtra": "x"},
                "tracks": [
                    {
                        "key": "01",
                        "title": "The Fox, part 1",
                        "type": "stream",
                        "format": "aac",
                        "trackUrl": "https://example.test/s/fox.m4a",
                        "duration": 300,
                        "fileSize": 123456,
                        "channels": "stereo",
                        "ambient": {"defaultTrackAmbient": "#ff0000"},
                        "events": {"onEnd": {"cmd": "stop"}},
                        "display": {"icon16x16": "yoto:#" + ICON_B},
                    }
                ],
            }
        ],
    },
    "metadata": {
        "description": "Tales",
        "cover": {"imageL": "https://example.test/cover.png"},
        "media": {"duration": 300, "fileSize": 123456, "hasStreams": True},
        "category": "stories",
    },
}


def with_streaming_fields(card: dict[str, Any]) -> dict[str, Any]:
    """`card` as every write of a card with stream tracks sends it (yoto.dev "Streaming tracks")."""
    out = copy.deepcopy(card)
    content = out["content"]
    content.setdefault("editSettings", {})["transcodeAudioUploads"] = True
    for chapter in content["chapters"]:
        for track in chapter["tracks"]:
            if track["type"] == "stream":
                track["isNew"] = True
                chapter["hasStreams"] = True
    out["metadata"].setdefault("media", {})["hasStreams"] = True
    return out


def test_read_then_write_keeps_every_field_and_adds_the_streaming_ones() -> None:
    original = copy.deepcopy(STORED)
    card = parse_card({"card": STORED})
    assert card.card_id == "Ab3dE" and card.title == "Stories"
    assert card.cover_url == "https://example.test/cover.png" and card.description == "Tales"
    (chapter,) = card.chapters
    (track,) = chapter.tracks
    assert chapter.icon == ICON_A and track.icon == ICON_B
    assert track.format == "aac" and track.duration == 300.0 and track.file_size == 123456
    written = card_json(card)
    assert written == with_streaming_fields(original)
    assert written["content"]["editSettings"] == {"transcodeAudioUploads": True}
    assert written["content"]["chapters"][0]["hasStreams"] is True
    assert written["content"]["chapters"][0]["tracks"][0]["isNew"] is True
    assert original == STORED, "parsing and writing must not change what was read"
    assert card_json(parse_card(written)) == written, "a second rewrite changes nothing more"


def test_our_old_top_level_edit_settings_moves_into_content() -> None:
    old = copy.deepcopy(STORED) | {"editSettings": {"transcodeAudioUploads": True, "editKeys": False}}
    body = card_json(parse_card(old))
    assert "editSettings" not in body
    assert body["content"]["editSettings"] == {"transcodeAudioUploads": True, "editKeys": False}
    # When content already has its own, that one stays and ours is dropped.
    both = copy.deepcopy(old)
    both["content"]["editSettings"] = {"autoOverlayLabels": "chapter-labels"}
    body = card_json(parse_card(both))
    assert "editSettings" not in body
    assert body["content"]["editSettings"] == {"autoOverlayLabels": "chapter-labels", "transcodeAudioUploads": True}


def test_config_keeps_documented_keys_only() -> None:
    looped = copy.deepcopy(STORED)
    looped["content"]["config"]["repeatAll"] = True  # what earlier versions wrote for "loop"
    body = card_json(parse_card(looped))
    assert body["content"]["config"] == {"resumeTimeout": 2592000, "autoadvance": "next"}
    assert set(body["content"]["config"]) <= CONTENT_CONFIG_KEYS
    with pytest.raises(ValueError, match="repeatAll"):
        card_json(replace(parse_card(STORED), content_config={"repeatAll": True}))
    assert {
        "autoadvance",
        "resumeTimeout",
        "systemActivity",
        "trackNumberOverlayTimeout",
        "onlineOnly",
        "shuffle",
    } == CONTENT_CONFIG_KEYS


def test_a_card_without_streams_gets_no_streaming_fields() -> None:
    audio = {
        "cardId": "Au9dE",
        "title": "Uploaded",
        "content": {
            "chapters": [
                {"key": "01", "title": "c", "tracks": [{"key": "01", "type": "audio", "trackUrl": "yoto:#" + "a" * 64}]}
            ]
        },
        "metadata": {},
    }
    body = card_json(parse_card(audio))
    assert "editSettings" not in body["content"] and "hasStreams" not in body["content"]["chapters"][0]
    assert "isNew" not in body["content"]["chapters"][0]["tracks"][0]


def test_modify_keeps_unknown_fields_and_changes_only_what_was_asked() -> None:
    card = parse_card({"card": STORED})
    chapter = card.chapters[0]
    renamed = replace(chapter, title="The Fox (new)", tracks=[*chapter.tracks, _stream(2)])
    body = card_json(replace(card, title="More stories", chapters=[renamed], content_config={"autoadvance": "none"}))
    assert body["title"] == "More stories"
    assert body["futureField"] == STORED["futureField"] and body["userId"] == STORED["userId"]
    assert body["content"]["unknownContentKey"] is True
    assert body["content"]["config"] == {"resumeTimeout": 2592000, "autoadvance": "none"}
    ch = body["content"]["chapters"][0]
    assert ch["title"] == "The Fox (new)" and ch["ambient"] == {"defaultTrackDisplay": None}
    assert ch["display"] == {"icon16x16": "yoto:#" + ICON_A, "iconExtra": "x"}
    kept, added = ch["tracks"]
    assert kept == STORED["content"]["chapters"][0]["tracks"][0] | {"isNew": True}
    assert added["key"] == "02" and added["trackUrl"] == "https://example.test/s/2.mp3"
    assert body["metadata"]["category"] == "stories" and body["metadata"]["cover"]["imageL"].endswith("cover.png")


def test_cleared_keys_renumber_a_reordered_card() -> None:
    card = parse_card(STORED)
    fox = card.chapters[0]
    other = replace(fox, title="Other", key="02")
    reordered = [replace(c, key=None, overlay_label=None) for c in (other, fox)]
    body = card_json(replace(card, chapters=reordered))
    assert [(c["key"], c["overlayLabel"], c["title"]) for c in body["content"]["chapters"]] == [
        ("01", "1", "Other"),
        ("02", "2", "The Fox"),
    ]


def test_update_carries_the_card_id() -> None:
    body = card_json(YotoCard(title="T", card_id="Zz9Yy", chapters=[YotoChapter("c", [_stream(1)])]))
    assert body["cardId"] == "Zz9Yy"


def test_answers_without_a_card_id_are_upstream_errors() -> None:
    assert unwrap_card({"card": {"cardId": "abcde"}}) == {"cardId": "abcde"}
    assert unwrap_card({"cardId": "abcde", "title": "x"})["title"] == "x"
    for body in ({}, {"card": {}}, [], None, {"card": {"cardId": 5}}):
        with pytest.raises(UpstreamError):
            unwrap_card(body)
    assert parse_summary({"title": "no id"}) is None
    assert parse_summary({"cardId": "abcde", "title": "t"}).title == "t"  # type: ignore[union-attr]


def test_a_chapter_opens_at_its_available_from_and_a_read_card_keeps_it() -> None:
    opens = "2026-12-02T00:00:00.000Z"
    card = YotoCard(
        title="Advent",
        chapters=[
            YotoChapter(title="Day 1", tracks=[_stream(1)]),
            YotoChapter(title="Day 2", tracks=[_stream(2)], available_from=opens),
        ],
    )
    body = card_json(card)
    first, second = body["content"]["chapters"]
    assert "availableFrom" not in first and second["availableFrom"] == opens
    again = parse_card({**body, "cardId": "Adv01"})
    assert card_json(again)["content"]["chapters"][1]["availableFrom"] == opens  # a read-modify-write keeps it
    unlocked = replace(again, chapters=[replace(c, available_from=None) for c in again.chapters])
    assert all("availableFrom" not in c for c in card_json(unlocked)["content"]["chapters"])
