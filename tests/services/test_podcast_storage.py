"""A podcast's `storage` mode (issue 20) on the composition root's memory adapters and the
in-process Yoto cloud (2 s manual transcode): the install's default, a `yoto` card whose
episodes upload inside the refresh (once each), a PATCH that moves the same card between the
modes at the next refresh, Yoto's limits or a failed transcode failing a refresh with the
card kept, the refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import Conflict, Invalid
from services import podcasts
from tests.audio_fixtures import write_tone
from tests.feeds import Served
from tests.services.memory_root import linked_admin_root
from tests.services.test_podcasts import FEED, MUM, FakeFetcher, _ports, audio_url, serve
from tests.yoto_inprocess import InProcessCloud
from wiring import Root

UPLOAD_URL = "/media/transcode/audio/uploadUrl"
LAPTOP = {"public_url": "http://127.0.0.1:8000", "allow_http_public_url": False}


def _root(cloud: InProcessCloud, path: Path, **settings: object) -> Root:
    root = linked_admin_root(cloud, path)
    root.settings = root.settings.model_copy(update=settings)
    return root


class Feed:
    """The fake feed host (`test_podcasts.FakeFetcher`) serving episodes of a 1 s MP3."""

    def __init__(self, mp3: bytes) -> None:
        self.fetcher = FakeFetcher()
        self.mp3 = mp3

    def serve(self, n: int, etag: str = '"v1"') -> None:
        serve(self.fetcher, self.mp3, n, etag=etag)


@pytest.fixture
def feed(tone_mp3: Path) -> Feed:
    return Feed(tone_mp3.read_bytes())


def _tracks(cloud: InProcessCloud, yoto_card_id: str | None) -> list[dict]:
    card = cloud.card(str(yoto_card_id))
    assert card is not None
    return [t for c in card["content"]["chapters"] for t in c["tracks"]]


def _uploads(cloud: InProcessCloud) -> int:
    return len(cloud.requests("GET", UPLOAD_URL))


def test_a_new_podcast_gets_the_installs_default_mode(cloud: InProcessCloud, tmp_path: Path, feed: Feed) -> None:
    feed.serve(2)
    laptop = _ports(_root(cloud, tmp_path / "laptop", **LAPTOP), feed.fetcher)
    pod, run, _ = podcasts.create(laptop, MUM, feed_url=FEED, episodes=2)
    assert run.status == "ok", run.detail
    assert pod.storage == "yoto"
    tracks = _tracks(cloud, pod.yoto_card_id)
    assert [t["type"] for t in tracks] == ["audio", "audio"]
    assert all(t["trackUrl"].startswith("yoto:#") for t in tracks)
    assert laptop.cards.get(str(pod.card_id)).storage == "yoto"

    public = _ports(_root(cloud, tmp_path / "public"), feed.fetcher)  # PUBLIC_URL https://family.example
    streamed, run, _ = podcasts.create(public, MUM, feed_url=FEED, episodes=1)
    assert run.status == "ok", run.detail
    assert streamed.storage == "stream" and _tracks(cloud, streamed.yoto_card_id)[0]["type"] == "stream"


def test_a_yoto_podcast_uploads_each_episode_once_inside_its_refresh(
    root: Root, cloud: InProcessCloud, feed: Feed
) -> None:
    ports = _ports(root, feed.fetcher)
    feed.serve(2)
    pod, run, _ = podcasts.create(ports, MUM, feed_url=FEED, episodes=3, storage="yoto")
    assert run.status == "ok", run.detail
    assert pod.storage == "yoto" and _uploads(cloud) == 2
    first = _tracks(cloud, pod.yoto_card_id)
    feed.serve(3, etag='"v2"')
    _, run, _ = podcasts.refresh_now(ports, MUM, pod.id)
    assert run.status == "ok", run.detail
    after = podcasts.get(ports, pod.id)
    assert after.yoto_card_id == pod.yoto_card_id
    assert _uploads(cloud) == 3, "only the new episode goes to Yoto"
    tracks = _tracks(cloud, pod.yoto_card_id)
    assert [t["title"] for t in tracks] == ["Episode 3", "Episode 2", "Episode 1"]
    assert all(t["trackUrl"].startswith("yoto:#") and t["type"] == "audio" for t in tracks)
    assert [t["trackUrl"] for t in tracks[1:]] == [t["trackUrl"] for t in first]


def test_a_new_mode_moves_the_same_card_at_the_next_refresh(root: Root, cloud: InProcessCloud, feed: Feed) -> None:
    ports = _ports(root, feed.fetcher)
    feed.serve(2)
    pod, _, _ = podcasts.create(ports, MUM, feed_url=FEED, episodes=2, storage="stream")
    assert pod.etag == '"v1"' and [t["type"] for t in _tracks(cloud, pod.yoto_card_id)] == ["stream", "stream"]

    moved = podcasts.update(ports, MUM, pod.id, storage="yoto")
    assert moved.storage == "yoto" and moved.etag is None, "a new mode forgets the validators (no 304)"
    assert _tracks(cloud, pod.yoto_card_id)[0]["type"] == "stream", "the card follows at the next refresh"
    kept = podcasts.update(ports, MUM, pod.id, title="Bedtime Tales")
    assert kept.storage == "yoto", "a change that names no mode keeps the podcast's"

    _, run, _ = podcasts.refresh_now(ports, MUM, pod.id)
    assert run.status == "ok", run.detail
    after = podcasts.get(ports, pod.id)
    assert (after.card_id, after.yoto_card_id) == (pod.card_id, pod.yoto_card_id)
    assert ports.cards.get(str(pod.card_id)).storage == "yoto"
    assert all(t["trackUrl"].startswith("yoto:#") for t in _tracks(cloud, pod.yoto_card_id))

    podcasts.update(ports, MUM, pod.id, storage="stream")
    _, run, _ = podcasts.refresh_now(ports, MUM, pod.id)
    assert run.status == "ok", run.detail
    assert podcasts.get(ports, pod.id).yoto_card_id == pod.yoto_card_id
    assert [t["type"] for t in _tracks(cloud, pod.yoto_card_id)] == ["stream", "stream"]
    assert ports.cards.get(str(pod.card_id)).storage == "stream"


def test_a_yoto_podcast_over_yotos_limits_fails_its_refresh_and_keeps_the_card(
    cloud: InProcessCloud, tmp_path: Path, feed: Feed
) -> None:
    # A card may hold 1.5 s here: one 1 s episode fits, two do not.
    ports = _ports(_root(cloud, tmp_path, yoto_max_card_hours=1.5 / 3600), feed.fetcher)
    feed.serve(1)
    pod, run, _ = podcasts.create(ports, MUM, feed_url=FEED, episodes=2, storage="yoto")
    assert run.status == "ok", run.detail
    before = (_tracks(cloud, pod.yoto_card_id), _uploads(cloud), len(ports.ingest.audio.list().items))
    feed.serve(2, etag='"v2"')
    _, run, _ = podcasts.refresh_now(ports, MUM, pod.id)
    assert run.status == "failed" and "YOTO_MAX_CARD_HOURS" in str(run.detail), run.detail
    after = podcasts.get(ports, pod.id)
    assert after.status == "failed" and "over Yoto's limits" in str(after.last_error)
    assert after.held == pod.held and after.etag == '"v1"'
    assert (_tracks(cloud, pod.yoto_card_id), _uploads(cloud), len(ports.ingest.audio.list().items)) == before


def test_a_failed_upload_fails_the_refresh_naming_its_episode_and_keeps_the_card(
    root: Root, cloud: InProcessCloud, feed: Feed, tmp_path: Path
) -> None:
    ports = _ports(root, feed.fetcher)
    feed.serve(1)
    pod, run, _ = podcasts.create(ports, MUM, feed_url=FEED, episodes=2, storage="yoto")
    assert run.status == "ok", run.detail
    before = (cloud.card(str(pod.yoto_card_id)), len(ports.ingest.audio.list().items))
    feed.serve(2, etag='"v2"')
    other = write_tone(tmp_path / "other.mp3", "mp3", seconds=1.0, freq=660.0).read_bytes()  # bytes Yoto lacks
    feed.fetcher.routes[audio_url(2)] = Served(200, other, {"Content-Type": "audio/mpeg"})
    cloud.fail_transcode(message="Unsupported audio")
    _, run, _ = podcasts.refresh_now(ports, MUM, pod.id)
    assert run.status == "failed", run.detail
    assert "track 1 “Episode 2”" in str(run.detail) and "Unsupported audio" in str(run.detail)
    after = podcasts.get(ports, pod.id)
    assert after.held == pod.held and after.last_error == run.detail
    assert (cloud.card(str(pod.yoto_card_id)), len(ports.ingest.audio.list().items)) == before
    _, run, _ = podcasts.refresh_now(ports, MUM, pod.id)  # the next check tries again
    assert run.status == "ok", run.detail
    assert [t["title"] for t in _tracks(cloud, pod.yoto_card_id)] == ["Episode 2", "Episode 1"]


def test_a_mode_that_cannot_work_is_refused_with_nothing_kept(
    cloud: InProcessCloud, tmp_path: Path, feed: Feed
) -> None:
    feed.serve(1)
    laptop = _ports(_root(cloud, tmp_path, **LAPTOP), feed.fetcher)
    with pytest.raises(Conflict, match="PUBLIC_URL"):
        podcasts.create(laptop, MUM, feed_url=FEED, episodes=1, storage="stream")
    with pytest.raises(Invalid, match="'stream' or 'yoto'"):
        podcasts.create(laptop, MUM, feed_url=FEED, episodes=1, storage="cloud")
    assert laptop.podcasts.list().items == [] and feed.fetcher.asked == []
    pod, _, _ = podcasts.create(laptop, MUM, feed_url=FEED, episodes=1)
    with pytest.raises(Conflict, match="PUBLIC_URL"):
        podcasts.update(laptop, MUM, pod.id, storage="stream")
    assert podcasts.get(laptop, pod.id).storage == "yoto"
