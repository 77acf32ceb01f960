"""Feed parsing (RSS 2.0 and Atom) and episodes over the per-track limit split into parts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from core.errors import Invalid
from services import transcode
from services.podcast_feeds import parse_feed
from services.podcasts import split_mp3
from simulator.cloud import RunningCloud
from tests.api.conftest import Api, make_api
from tests.audio_fixtures import write_tone
from tests.feeds import FeedServer, Served, rss
from tests.scheduled.conftest import link_account

ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Atom Tales</title><id>urn:x</id><updated>2026-06-02T00:00:00Z</updated>
<entry><title>Old</title><id>urn:1</id><updated>2026-06-01T00:00:00Z</updated>
  <link rel="enclosure" type="audio/mpeg" href="/old.mp3"/></entry>
<entry><title>  New
   one </title><id>urn:2</id><updated>2026-06-02T00:00:00Z</updated>
  <link rel="enclosure" type="audio/x-m4a" href="https://cdn.example/new.m4a"/></entry>
<entry><title>Text only</title><id>urn:3</id><updated>2026-06-03T00:00:00Z</updated>
  <link rel="alternate" href="https://example.org/post"/></entry>
</feed>"""


def test_atom_entries_with_audio_newest_first() -> None:
    feed = parse_feed(ATOM, "https://feeds.example/atom.xml")
    assert feed.title == "Atom Tales"
    assert [(e.guid, e.title, e.audio_url) for e in feed.episodes] == [
        ("urn:2", "New one", "https://cdn.example/new.m4a"),
        ("urn:1", "Old", "https://feeds.example/old.mp3"),
    ]


def test_rss_without_dates_keeps_document_order() -> None:
    body = rss("R", [("a", "First", "", "http://x/a.mp3"), ("b", "Second", "", "http://x/b.mp3")])
    assert [e.title for e in parse_feed(body, "http://x/").episodes] == ["First", "Second"]


@pytest.mark.parametrize(
    "body",
    [b"<html><body>hello</body></html>", b"", b"\x00\x01binary", rss("Empty", [])],
)
def test_not_a_feed_or_no_audio(body: bytes) -> None:
    with pytest.raises(Invalid):
        parse_feed(body, "http://x/")


def test_split_cuts_our_mp3_at_frame_boundaries(tmp_path: Path) -> None:
    src = write_tone(tmp_path / "t.wav", "wav", seconds=5.0)
    whole = tmp_path / "whole.mp3"
    seconds = transcode.normalize(src, whole).duration_s
    parts = split_mp3(whole, tmp_path, 3)
    assert len(parts) == 3
    assert b"".join(p.read_bytes() for p in parts) == whole.read_bytes()  # nothing lost, nothing doubled
    lengths = [transcode.probe(p).duration_s for p in parts]
    assert abs(sum(lengths) - seconds) < 0.1 and max(lengths) - min(lengths) < 0.1


def test_a_long_episode_becomes_parts_on_the_card(
    local_settings: Any,
    yoto_cloud_env: RunningCloud,
    feed_server: FeedServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    env = yoto_cloud_env.env()
    settings = local_settings.model_copy(
        update={
            "allow_private_feeds": True,
            "allow_http_public_url": True,
            "scheduler_enabled": False,
            "max_audio_minutes": 1.0 / 60,  # one second per track
            "yoto_api_url": env["YOTO_API_URL"],
            "yoto_auth_url": env["YOTO_AUTH_URL"],
            "yoto_client_id": env["YOTO_CLIENT_ID"],
        }
    )
    api: Api = make_api(settings, monkeypatch, tmp_path / "api")
    link_account(api.adapters, yoto_cloud_env)
    feed_server.routes["/long.mp3"] = Served(200, write_tone(tmp_path / "long.mp3", "mp3", seconds=2.5).read_bytes())
    feed = rss("Long", [("g1", "Saga", "Mon, 01 Jun 2026 07:00:00 GMT", feed_server.url + "/long.mp3")])
    feed_server.routes["/feed.xml"] = Served(200, feed)
    r = api.login().post("/api/podcasts", json={"feed_url": feed_server.url + "/feed.xml", "episodes": 1})
    assert r.status_code == 201, r.text
    body = r.json()
    (held,) = body["held"]
    assert len(held["audio_ids"]) == 3
    card = yoto_cloud_env.card(body["yoto_card_id"])
    assert card is not None
    assert [c["title"] for c in card["content"]["chapters"]] == ["Saga (1/3)", "Saga (2/3)", "Saga (3/3)"]
    items = api.login().get("/api/audio").json()["items"]
    assert all(i["duration_s"] <= 1.0 and i["source"] == "podcast" for i in items) and len(items) == 3
