"""Feed parsing (RSS 2.0 and Atom) and episodes over the per-track limit split into parts."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from adapters.audio import transcode
from core.errors import Invalid
from services.podcast_feeds import MAX_ENTRIES, Feed, first_entries, parse_feed
from simulator.cloud import RunningCloud
from tests.api.conftest import Api, make_api
from tests.api.hostile_host import LAUGHS, many_items
from tests.audio_fixtures import write_tone
from tests.feeds import FeedServer, Served, rss
from tests.scheduled.conftest import link_account
from tests.waiting import eventually

DONE = ("ok", "partial", "failed")

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


# --------------------------------------------------------------------------- what a parse may cost (issue 18)


@pytest.mark.parametrize(
    "body",
    [LAUGHS.encode(), LAUGHS.replace("DOCTYPE", "doctype").encode(), LAUGHS.encode("utf-16"),
     LAUGHS.encode("utf-16-be"), LAUGHS.replace("<!DOCTYPE rss [", '<!DOCTYPE rss SYSTEM "a>b" [').encode(),
     LAUGHS.replace("<!DOCTYPE rss [", "<!-- a comment --><!DOCTYPE rss PUBLIC 'x' 'y' [").encode(),
     b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY ext SYSTEM "file:///etc/passwd">]><rss>&ext;</rss>'],
    ids=["laughs", "lower-case", "utf-16", "utf-16-be", "quoted-gt", "public-id", "external"],
)  # fmt: skip
def test_a_feed_declaring_its_own_entities_is_refused_before_parsing(body: bytes) -> None:
    started = time.process_time()
    with pytest.raises(Invalid, match="declares its own entities"):
        parse_feed(body, "http://x/")
    assert time.process_time() - started < 0.05  # the 711-byte bomb cost 1.5 s and 87 MB per parse


def test_a_doctype_without_an_internal_subset_still_reads() -> None:
    body = rss("Old style", [("a", "One", "", "http://x/a.mp3")]).replace(
        b"<rss", b'<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" "http://x/rss-0.91.dtd"><rss', 1
    )
    assert [e.title for e in parse_feed(body, "http://x/").episodes] == ["One"]


@pytest.mark.parametrize("broken", [False, True], ids=["well-formed", "not-well-formed"])
def test_a_huge_feed_is_read_to_its_first_entries_only(broken: bool) -> None:
    body = many_items(30_000)
    if broken:  # an undefined entity early on: expat gives up, feedparser reads it loosely
        body = body.replace(b"<title>Big</title>", b"<title>Big&nbsp;</title>")
    assert len(body) < 5 * 1024 * 1024
    started = time.process_time()
    feed = parse_feed(body, "http://x/")
    spent = time.process_time() - started
    assert spent < 1.0, spent  # 7.0 s for the whole document, which create and the first refresh each parsed
    assert len(feed.episodes) == MAX_ENTRIES
    assert feed.episodes[0].title == "E30000" and feed.title == "Big"


def test_the_cut_document_is_closed_again_and_short_ones_are_left_alone() -> None:
    body = many_items(MAX_ENTRIES + 5)
    cut = first_entries(body)
    assert cut.endswith(b"</item></channel></rss>") and cut.count(b"<item>") == MAX_ENTRIES
    assert first_entries(many_items(MAX_ENTRIES)) == many_items(MAX_ENTRIES)  # cut at its very end
    short = many_items(MAX_ENTRIES - 1)
    assert first_entries(short) is short
    atom = ATOM.replace(b"</feed>", b"".join(ATOM.split(b"<entry>")[1:2]).join([b"<entry>", b""]) * 400 + b"</feed>")
    assert first_entries(atom).count(b"<entry>") == MAX_ENTRIES and first_entries(atom).endswith(b"</entry></feed>")


def test_a_feed_is_plain_data_that_crosses_a_queue() -> None:
    feed = parse_feed(ATOM, "https://feeds.example/atom.xml")
    assert Feed.from_dict(feed.to_dict()) == feed
    undated = parse_feed(rss("R", [("a", "First", "", "http://x/a.mp3")]), "http://x/")
    assert Feed.from_dict(undated.to_dict()) == undated


def test_split_cuts_our_mp3_at_frame_boundaries(tmp_path: Path) -> None:
    src = write_tone(tmp_path / "t.wav", "wav", seconds=5.0)
    whole = tmp_path / "whole.mp3"
    seconds = transcode.normalize(src, whole).duration_s
    parts = transcode.split_mp3(whole, tmp_path, 3)
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
    client = api.login()
    r = client.post("/api/podcasts", json={"feed_url": feed_server.url + "/feed.xml", "episodes": 1})
    assert r.status_code in (201, 202), r.text  # made in the request, or by its first run on a worker
    run_id = r.json()["last_run"]["id"]
    run = eventually(lambda: (got := client.get(f"/api/runs/{run_id}").json())["status"] in DONE and got, 60)
    assert run["status"] == "ok", run
    body = client.get(f"/api/podcasts/{r.json()['id']}").json()
    (held,) = body["held"]
    assert len(held["audio_ids"]) == 3
    card = yoto_cloud_env.card(body["yoto_card_id"])
    assert card is not None
    assert [c["title"] for c in card["content"]["chapters"]] == ["Saga, Part 1", "Saga, Part 2", "Saga, Part 3"]
    items = api.login().get("/api/audio").json()["items"]
    assert all(i["duration_s"] <= 1.0 and i["source"] == "podcast" for i in items) and len(items) == 3
