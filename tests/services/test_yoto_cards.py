"""Cards whose audio is kept in Yoto's storage (`storage: "yoto"`), made through the
composition root on the memory adapters against the in-process Yoto cloud: the
default by PUBLIC_URL, the upload once per account, the move in place between the
two modes, Yoto's limits before any call, and a failed transcode that writes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.audio.transcode import PyAVTranscoder
from core.errors import Conflict, Invalid
from core.records import User
from core.yoto.cloud import YotoChapter, YotoTrack
from core.yoto.uploads import Transcoded
from services import card_content, cards
from services.cards import CardSpec, TrackSpec
from services.yoto_storage import TrackNotReady
from tests.audio_fixtures import write_tone, write_with_pause
from tests.services.memory_root import add_item, linked_admin_root
from tests.yoto_inprocess import InProcessCloud
from wiring import Root

MUM = User("mum", is_admin=True, id="mum")
UPLOAD_URL = "/media/transcode/audio/uploadUrl"


def _root(cloud: InProcessCloud, path: Path, **settings: object) -> Root:
    root = linked_admin_root(cloud, path)
    if settings:
        root.settings = root.settings.model_copy(update=settings)
        root.__dict__.pop("cards", None)
    return root


def _audio(root: Root, tmp_path: Path, title: str, *, seconds: float = 1.0, freq: float = 440.0) -> str:
    """An item with real MP3 bytes in the memory storage (Yoto's transcoder reads them)."""
    src = write_tone(tmp_path / f"{title}.mp3", "mp3", seconds=seconds, freq=freq)
    item_id = add_item(root, title, duration_s=seconds, size_bytes=src.stat().st_size)
    item = root.records.audio.get(item_id)
    root.adapters.storage.put_file(item.storage_key, src, "audio/mpeg")
    return item_id


def _tracks(cloud: InProcessCloud, yoto_card_id: str | None) -> list[dict]:
    card = cloud.card(str(yoto_card_id))
    assert card is not None
    return [c["tracks"][0] for c in card["content"]["chapters"]]


def _uploads(cloud: InProcessCloud) -> int:
    return len(cloud.requests("GET", UPLOAD_URL))


def test_a_yoto_card_plays_transcodes_in_yoto_storage_with_their_metadata(
    root: Root, cloud: InProcessCloud, tmp_path: Path
) -> None:
    a, b = _audio(root, tmp_path, "Owl", seconds=1.5), _audio(root, tmp_path, "Moon", freq=660.0)
    card = cards.create(root.cards, MUM, CardSpec("Night", [TrackSpec(a), TrackSpec(b)], storage="yoto"))
    assert card.storage == "yoto" and root.records.cards.get(card.id).storage == "yoto"
    tracks = _tracks(cloud, card.yoto_card_id)
    assert [t["type"] for t in tracks] == ["audio", "audio"]
    assert all(t["trackUrl"].startswith("yoto:#") for t in tracks)
    for track in tracks:
        info = cloud.state.audio.finished(track["trackUrl"].removeprefix("yoto:#"), None, cloud.state.clock.now())
        assert info is not None
        summary = info.summary(cloud.state.clock.now())["transcodedInfo"]
        assert (track["format"], track["fileSize"], track["channels"]) == (
            summary["format"],
            summary["fileSize"],
            summary["channels"],
        )
        assert track["duration"] == pytest.approx(summary["duration"], abs=0.01)
    assert _uploads(cloud) == 2


def test_making_a_card_again_from_the_same_items_uploads_nothing(
    root: Root, cloud: InProcessCloud, tmp_path: Path
) -> None:
    a = _audio(root, tmp_path, "Owl")
    first = cards.create(root.cards, MUM, CardSpec("One", [TrackSpec(a)], storage="yoto"))
    before = (_uploads(cloud), len(cloud.requests("PUT")))
    second = cards.create(root.cards, MUM, CardSpec("Two", [TrackSpec(a)], storage="yoto"))
    assert (_uploads(cloud), len(cloud.requests("PUT"))) == before
    assert _tracks(cloud, first.yoto_card_id)[0]["trackUrl"] == _tracks(cloud, second.yoto_card_id)[0]["trackUrl"]
    assert cards.missing_uploads(root.cards, MUM, CardSpec("Three", [TrackSpec(a)], storage="yoto")) == []


def test_a_card_moves_between_stream_and_yoto_in_place(root: Root, cloud: InProcessCloud, tmp_path: Path) -> None:
    a = _audio(root, tmp_path, "Owl")
    card = cards.create(root.cards, MUM, CardSpec("Night", [TrackSpec(a)], storage="stream"))
    assert _tracks(cloud, card.yoto_card_id)[0]["type"] == "stream"
    moved = cards.update(root.cards, MUM, card.id, CardSpec("Night", [TrackSpec(a)], storage="yoto"))
    assert moved.yoto_card_id == card.yoto_card_id and moved.storage == "yoto"
    stored = cloud.card(str(card.yoto_card_id))
    assert stored is not None
    chapter = stored["content"]["chapters"][0]
    assert chapter["tracks"][0]["type"] == "audio" and chapter["tracks"][0]["trackUrl"].startswith("yoto:#")
    assert chapter.get("hasStreams") in (None, False) and "isNew" not in chapter["tracks"][0]
    assert stored.get("metadata", {}).get("media", {}).get("hasStreams") in (None, False)
    kept = cards.update(root.cards, MUM, card.id, CardSpec("Night, again", [TrackSpec(a)]))
    assert kept.storage == "yoto", "a rewrite that names no mode keeps the card's own"
    back = cards.update(root.cards, MUM, card.id, CardSpec("Night", [TrackSpec(a)], storage="stream"))
    assert back.yoto_card_id == card.yoto_card_id and _tracks(cloud, card.yoto_card_id)[0]["type"] == "stream"


def test_the_default_is_yoto_without_a_public_https_address(cloud: InProcessCloud, tmp_path: Path) -> None:
    public = _root(cloud, tmp_path / "public", public_url="https://family.example.org")
    laptop = _root(cloud, tmp_path / "laptop", public_url="http://127.0.0.1:8000", allow_http_public_url=False)
    lan = _root(cloud, tmp_path / "lan", public_url="https://192.168.1.20:8443")
    assert public.cards.rules.storage(None) == "stream"
    assert laptop.cards.rules.storage(None) == "yoto"
    assert lan.cards.rules.storage(None) == "yoto"
    item = _audio(laptop, tmp_path, "Owl")
    card = cards.create(laptop.cards, MUM, CardSpec("Night", [TrackSpec(item)]))
    assert card.storage == "yoto" and _tracks(cloud, card.yoto_card_id)[0]["trackUrl"].startswith("yoto:#")
    with pytest.raises(Conflict, match="PUBLIC_URL"):
        cards.create(laptop.cards, MUM, CardSpec("Night", [TrackSpec(item)], storage="stream"))
    with pytest.raises(Invalid, match="'stream' or 'yoto'"):
        cards.create(laptop.cards, MUM, CardSpec("Night", [TrackSpec(item)], storage="cloud"))


def test_a_card_over_yotos_limits_is_refused_before_any_call(root: Root, cloud: InProcessCloud) -> None:
    hours = [add_item(root, f"Hour {n}", duration_s=3500.0) for n in range(6)]
    before = len(cloud.requests())
    with pytest.raises(Invalid, match="5 h a card may hold") as refused:
        cards.create(root.cards, MUM, CardSpec("Marathon", [TrackSpec(h) for h in hours], storage="yoto"))
    assert "over the" in str(refused.value)
    big = add_item(root, "Big", duration_s=30 * 60.0, size_bytes=120 * 1024 * 1024)
    with pytest.raises(Invalid, match="track 1 “Big” is 120 MB, 20 MB over the 100 MB a track may be"):
        cards.create(root.cards, MUM, CardSpec("Big", [TrackSpec(big)], storage="yoto"))
    assert len(cloud.requests()) == before
    long_one = add_item(root, "Long", duration_s=70 * 60.0)  # over the hour: cut into parts, not refused
    spec = CardSpec("Long", [TrackSpec(long_one)], storage="yoto")
    assert [i.id for i in cards.missing_uploads(root.cards, MUM, spec)] == [long_one]


def test_an_item_longer_than_a_track_becomes_parts_cut_in_its_pause(cloud: InProcessCloud, tmp_path: Path) -> None:
    root = _root(cloud, tmp_path, yoto_max_track_minutes=1.0)  # Yoto's hour scaled to a minute
    root.__dict__.pop("yoto_media", None)
    src = write_with_pause(tmp_path / "story.wav", 70.0, pause_at=53.0)
    stored = tmp_path / "story.mp3"
    facts = PyAVTranscoder(loudness=False).normalize(src, stored, max_duration_s=3600, bitrate=64_000)
    story = add_item(root, "Story", duration_s=facts.duration_s, size_bytes=stored.stat().st_size)
    root.adapters.storage.put_file(root.records.audio.get(story).storage_key, stored, "audio/mpeg")
    card = cards.create(root.cards, MUM, CardSpec("Story", [TrackSpec(story)], storage="yoto"))
    (chapter,) = cloud.card(str(card.yoto_card_id))["content"]["chapters"]  # type: ignore[index]
    assert [t["title"] for t in chapter["tracks"]] == ["Story, Part 1", "Story, Part 2"]
    first, second = (t["duration"] for t in chapter["tracks"])
    assert first == pytest.approx(53.5, abs=1.0) and first < 60 and second < 60
    assert all(t["type"] == "audio" and t["trackUrl"].startswith("yoto:#") for t in chapter["tracks"])
    uploads = len(cloud.requests("GET", UPLOAD_URL))
    assert uploads == 2
    cards.create(root.cards, MUM, CardSpec("Story again", [TrackSpec(story)], storage="yoto"))
    assert len(cloud.requests("GET", UPLOAD_URL)) == uploads  # the parts are held: nothing sent


def test_a_failed_transcode_names_its_track_and_leaves_the_card_as_it_was(
    root: Root, cloud: InProcessCloud, tmp_path: Path
) -> None:
    a, b = _audio(root, tmp_path, "Owl"), _audio(root, tmp_path, "Moon", freq=660.0)
    card = cards.create(root.cards, MUM, CardSpec("Night", [TrackSpec(a)], storage="yoto"))
    held = cloud.card(str(card.yoto_card_id))
    cloud.fail_transcode(message="Unsupported audio")
    with pytest.raises(TrackNotReady, match=r"track 2 “Moon”.*Unsupported audio"):
        cards.update(root.cards, MUM, card.id, CardSpec("Night", [TrackSpec(a), TrackSpec(b)]))
    assert cloud.card(str(card.yoto_card_id)) == held
    assert root.records.cards.get(card.id).audio_ids == (a,)


def test_a_rewrite_keeps_a_chapters_json_when_yoto_answered_a_signed_media_url() -> None:
    sha = "ab" * 32
    held = Transcoded(sha, "cd" * 32, "u1", 61.0, 123_456, "stereo", "opus", True)
    signed = f"https://media.yoto.example/audio/{sha}.opus?Expires=1&Signature=x"
    old = YotoChapter(
        title="Old",
        tracks=(YotoTrack(title="Old", track_url=signed, type="audio", raw={"ambient": {"defaultTrackAmbient": "x"}}),),
        raw={"display": {"iconShade": "blue"}},
    )
    item = card_content.AudioItem(
        id="i1", owner="mum", title="Owl", storage_key="audio/i1.mp3", size_bytes=10, duration_s=61.0
    )

    class NoIcons:
        def choose(self, *_a: object) -> None:
            return None

    built = card_content.build_chapters(
        [card_content.Entry(item)],
        NoIcons(),  # type: ignore[arg-type]
        "Night",
        url_of=lambda _i: "unused",
        public_url="https://family.example",
        old=[old],
        media={"i1": held},
    )
    track = built.chapters[0].tracks[0]
    assert track.track_url == f"yoto:#{sha}" and track.file_size == 123_456 and track.format == "opus"
    assert built.chapters[0].raw == old.raw and track.raw["ambient"] == {"defaultTrackAmbient": "x"}
    assert track.raw["channels"] == "stereo"
