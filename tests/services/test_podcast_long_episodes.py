"""A podcast episode longer than a track may last (`services.podcasts`, with the real PyAV
transcoder): cut in its pause by the rule every long item follows (`services.long_audio`),
each part an item and a track titled "Title, Part n". Scaled down as tests/services/
test_long_audio.py is: a 60 s per-track limit, 70 s of sound with a pause at 53 s."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from core.records import AudioItem, Podcast
from services import podcasts
from services.podcasts import PodcastPorts
from tests.audio_fixtures import write_with_pause
from tests.services.test_podcasts import FEED, MUM, FakeFetcher, _chapters, _ports, serve
from tests.yoto_inprocess import InProcessCloud
from wiring import Root

LIMIT_S = 60.0


@pytest.fixture
def fetcher() -> FakeFetcher:
    return FakeFetcher()


def _short_tracks(root: Root, fetcher: FakeFetcher) -> PodcastPorts:
    built = _ports(root, fetcher)
    limits = replace(built.ingest.limits, max_duration_s=LIMIT_S)
    return replace(built, ingest=replace(built.ingest, limits=limits))


def _podcast_of(root: Root, fetcher: FakeFetcher, episode: Path) -> tuple[Podcast, list[AudioItem]]:
    """A one-episode podcast made at the short limit: the podcast and the items of its episode."""
    serve(fetcher, episode.read_bytes(), 1)
    pod, run, _ = podcasts.create(_short_tracks(root, fetcher), MUM, feed_url=FEED, episodes=1)
    assert run.status == "ok", run.detail
    (held,) = pod.held
    return pod, [root.records.audio.get(a) for a in held["audio_ids"]]


def test_a_long_episode_is_cut_in_its_pause_into_parts_titled_part_n(
    root: Root, fetcher: FakeFetcher, cloud: InProcessCloud, tmp_path: Path
) -> None:
    pod, items = _podcast_of(root, fetcher, write_with_pause(tmp_path / "long.wav", 70.0, pause_at=53.0))
    assert [i.title for i in items] == ["Episode 1, Part 1", "Episode 1, Part 2"]
    assert all(i.source == "podcast" for i in items)
    first, second = (float(i.duration_s or 0) for i in items)
    assert first == pytest.approx(53.5, abs=0.7), first  # in the pause, not at 35 s (equal halves)
    assert first < LIMIT_S and second < LIMIT_S
    assert first + second == pytest.approx(70.0, abs=0.3)
    assert _chapters(cloud, pod.yoto_card_id) == ["Episode 1, Part 1", "Episode 1, Part 2"]


def test_an_episode_that_fits_stays_one_item_with_its_own_title(
    root: Root, fetcher: FakeFetcher, cloud: InProcessCloud, tmp_path: Path
) -> None:
    pod, items = _podcast_of(root, fetcher, write_with_pause(tmp_path / "short.wav", 50.0, pause_at=20.0))
    assert [i.title for i in items] == ["Episode 1"]
    assert _chapters(cloud, pod.yoto_card_id) == ["Episode 1"]


def test_a_long_title_gives_way_to_the_part_number() -> None:
    title = "A" * 150
    assert podcasts._titled(title, 2, 100) == "A" * 92 + ", Part 2"
    assert podcasts._titled(title, None, 100) == "A" * 100
