"""Podcast cards (`services.podcasts`) on the composition root's memory adapters and the
in-process Yoto cloud; the feed and its enclosures come from a fake `WebFetcher` serving
canned RSS and a short MP3, which answers a conditional GET with 304 as feed hosts do."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from adapters.web.url_safety import precheck_url
from core.errors import Conflict, Forbidden, Invalid, NotFound, TooLarge
from core.ports import Fetched
from core.records import Run, User
from services import podcasts
from services.podcasts import PodcastPorts
from tests.feeds import Served, rss
from tests.yoto_inprocess import InProcessCloud
from wiring import Root

MUM = User("mum", is_admin=True, id="mum")
KID = User("kid", id="kid")
HOST = "https://feeds.example"
FEED = f"{HOST}/tales/feed.xml?key=secret"
DAYS = ["Mon, 01 Jun 2026 07:00:00 GMT", "Tue, 02 Jun 2026 07:00:00 GMT", "Wed, 03 Jun 2026 07:00:00 GMT",
        "Thu, 04 Jun 2026 07:00:00 GMT"]  # fmt: skip


class FakeFetcher:
    """`core.ports.WebFetcher` over `routes` (unknown URLs answer 404): the real URL precheck,
    304 for an If-None-Match equal to the route's ETag, `TooLarge` past `max_bytes`."""

    def __init__(self) -> None:
        self.routes: dict[str, Served] = {}
        self.asked: list[tuple[str, dict[str, str]]] = []

    def precheck(self, url: str) -> None:
        precheck_url(url, allow_private=False)

    def get(
        self, url: str, *, headers: Any = None, max_bytes: int, timeout_s: float, to: Path | None = None
    ) -> Fetched:
        self.asked.append((url, dict(headers or {})))
        route = self.routes.get(url, Served(404, b"not here"))
        etag = route.headers.get("ETag")
        if etag and (headers or {}).get("If-None-Match") == etag:
            return Fetched(304, url)
        if len(route.body) > max_bytes:
            raise TooLarge(f"{url} is over {max_bytes} bytes")
        lower = {k.lower(): v for k, v in route.headers.items()}
        if route.status == 200 and to is not None:
            to.write_bytes(route.body)
            return Fetched(200, url, lower, b"", len(route.body))
        return Fetched(route.status, url, lower, route.body, len(route.body))

    def urls(self) -> list[str]:
        return [u for u, _ in self.asked]


class Queue:
    """`core.ports.RunQueue`: hands nothing on (the caller runs it) unless `takes`."""

    def __init__(self, takes: bool = False) -> None:
        self.takes = takes
        self.submitted: list[Run] = []

    def submit(self, run: Run) -> bool:
        self.submitted.append(run)
        return self.takes


def audio_url(n: int) -> str:
    return f"{HOST}/audio/ep{n}.mp3"


def serve(fetcher: FakeFetcher, mp3: bytes, n: int, *, etag: str = '"v1"') -> None:
    """A feed of episodes 1..n (episode n the newest), listed out of date order."""
    episodes = [(f"guid-{i}", f"Episode {i}", DAYS[i - 1], audio_url(i)) for i in range(1, n + 1)]
    for i in range(1, n + 1):
        fetcher.routes[audio_url(i)] = Served(200, mp3, {"Content-Type": "audio/mpeg"})
    body = rss("Bedtime Tales", episodes[::2] + episodes[1::2])
    fetcher.routes[FEED] = Served(200, body, {"Content-Type": "application/rss+xml", "ETag": etag})


@pytest.fixture
def fetcher() -> FakeFetcher:
    return FakeFetcher()


@pytest.fixture
def mp3(tone_mp3: Path) -> bytes:
    return tone_mp3.read_bytes()


def _ports(root: Root, fetcher: FakeFetcher, queue: Queue | None = None, **rules: Any) -> PodcastPorts:
    """The root's podcast ports (its records, ingest and card writer) with the fake feed host and queue."""
    built = root.podcasts
    return replace(built, fetch=fetcher, queue=queue or Queue(), rules=replace(built.rules, **rules))


@pytest.fixture
def ports(root: Root, fetcher: FakeFetcher) -> PodcastPorts:
    return _ports(root, fetcher)


def _chapters(cloud: InProcessCloud, yoto_card_id: str | None) -> list[str]:
    card = cloud.card(str(yoto_card_id))
    assert card is not None
    return [c["title"] for c in card["content"]["chapters"]]


def _library(root: Root) -> list[tuple[str, str]]:
    return sorted((i.title, i.source) for i in root.records.audio.list().items)


def test_create_makes_a_card_of_the_newest_episodes_and_fetches_nothing_outside_the_window(
    root: Root, ports: PodcastPorts, fetcher: FakeFetcher, mp3: bytes, cloud: InProcessCloud
) -> None:
    serve(fetcher, mp3, 3)
    pod, run, queued = podcasts.create(ports, MUM, feed_url=f"  {FEED} ", episodes=2)
    assert queued is False and run.status == "ok" and run.detail == "2 new episode(s); the card holds 2"
    assert pod.title == "Bedtime Tales" and pod.status == "ok" and pod.last_error is None and pod.etag == '"v1"'
    assert pod.feed_url == FEED  # trimmed
    assert [e["title"] for e in pod.held] == ["Episode 3", "Episode 2"]
    assert _chapters(cloud, pod.yoto_card_id) == ["Episode 3", "Episode 2"]
    assert root.records.cards.get(str(pod.card_id)).yoto_card_id == pod.yoto_card_id
    assert _library(root) == [("Episode 2", "podcast"), ("Episode 3", "podcast")]
    assert fetcher.urls().count(FEED) == 1 and audio_url(1) not in fetcher.urls()
    job = root.records.jobs.get(pod.id)
    assert job.kind == "podcast" and job.every_s == 6 * 3600 and job.next_run_at is not None


def test_oldest_first_and_a_title_of_ones_own(
    ports: PodcastPorts, fetcher: FakeFetcher, mp3: bytes, cloud: InProcessCloud
) -> None:
    serve(fetcher, mp3, 3)
    pod, _, _ = podcasts.create(ports, MUM, feed_url=FEED, episodes=2, order="oldest_first", title="Night")
    assert pod.title == "Night" and [e["title"] for e in pod.held] == ["Episode 2", "Episode 3"]
    card = cloud.card(str(pod.yoto_card_id))
    assert card is not None and card["title"] == "Night"


def test_a_refresh_of_an_unchanged_feed_is_a_conditional_get_and_no_card_write(
    ports: PodcastPorts, fetcher: FakeFetcher, mp3: bytes, cloud: InProcessCloud
) -> None:
    serve(fetcher, mp3, 2)
    pod, _, _ = podcasts.create(ports, MUM, feed_url=FEED, episodes=2)
    writes = len(cloud.requests("POST", "/content"))
    again, run, queued = podcasts.refresh_now(ports, MUM, pod.id)
    assert queued is False and run.status == "ok" and run.trigger == "manual"
    assert fetcher.asked[-1] == (FEED, {"If-None-Match": '"v1"'})
    assert len(cloud.requests("POST", "/content")) == writes
    assert again.held == pod.held and again.checked_at is not None


def test_a_refresh_brings_in_only_the_new_episode_and_the_one_leaving_the_window_goes(
    root: Root, ports: PodcastPorts, fetcher: FakeFetcher, mp3: bytes, cloud: InProcessCloud
) -> None:
    serve(fetcher, mp3, 2)
    pod, _, _ = podcasts.create(ports, MUM, feed_url=FEED, episodes=2)
    episode_2 = pod.held[0]["audio_ids"]
    serve(fetcher, mp3, 3, etag='"v2"')
    after, run, _ = podcasts.refresh_now(ports, MUM, pod.id)
    assert run.status == "ok" and run.detail == "1 new episode(s); the card holds 2"
    assert (after.card_id, after.yoto_card_id) == (pod.card_id, pod.yoto_card_id)  # rewritten in place
    assert _chapters(cloud, after.yoto_card_id) == ["Episode 3", "Episode 2"]
    assert after.held[1]["audio_ids"] == episode_2 and after.etag == '"v2"'
    assert fetcher.urls().count(audio_url(2)) == 1  # not fetched again
    assert _library(root) == [("Episode 2", "podcast"), ("Episode 3", "podcast")]  # episode 1 left the library


def test_an_episode_on_a_playlist_too_stays_in_the_library_after_it_leaves_the_card(
    root: Root, ports: PodcastPorts, fetcher: FakeFetcher, mp3: bytes
) -> None:
    from core.records import Playlist, new_id

    serve(fetcher, mp3, 1)
    pod, _, _ = podcasts.create(ports, MUM, feed_url=FEED, episodes=1)
    kept = pod.held[0]["audio_ids"][0]
    root.records.playlists.add(Playlist(id=new_id(), owner="mum", name="mine", audio_ids=(kept,)))
    serve(fetcher, mp3, 2, etag='"v2"')
    after, _, _ = podcasts.refresh_now(ports, MUM, pod.id)
    assert [e["title"] for e in after.held] == ["Episode 2"]
    assert root.records.audio.get(kept).title == "Episode 1"


@pytest.mark.parametrize("broken", [Served(404, b"gone"), Served(200, b"this is no audio at all" * 50)])
def test_a_broken_episode_fails_the_refresh_with_its_reason_and_leaves_card_and_library(
    root: Root, ports: PodcastPorts, fetcher: FakeFetcher, mp3: bytes, cloud: InProcessCloud, broken: Served
) -> None:
    """Oldest first, the new window is episodes 3 and 4: 3 comes in, 4 fails, and 3 is taken out again."""
    serve(fetcher, mp3, 2)
    pod, _, _ = podcasts.create(ports, MUM, feed_url=FEED, episodes=2, order="oldest_first")
    card_before, library_before = cloud.card(str(pod.yoto_card_id)), _library(root)
    serve(fetcher, mp3, 4, etag='"v3"')
    fetcher.routes[audio_url(4)] = broken
    after, run, _ = podcasts.refresh_now(ports, MUM, pod.id)
    assert run.status == "failed" and "'Episode 4'" in str(run.detail)
    assert audio_url(3) in fetcher.urls()  # brought in before episode 4 failed
    assert after.status == "failed" and after.last_error == run.detail
    assert after.held == pod.held and after.etag == '"v1"'  # the next refresh reads the feed in full again
    assert cloud.card(str(pod.yoto_card_id)) == card_before and _library(root) == library_before


def test_an_episode_over_the_size_limit_is_refused_and_nothing_is_kept(
    root: Root, fetcher: FakeFetcher, mp3: bytes
) -> None:
    ports = _ports(root, fetcher, episode_max_bytes=len(mp3) - 1)
    serve(fetcher, mp3, 1)
    with pytest.raises(Invalid, match=r"^the podcast could not be made: .*over"):
        podcasts.create(ports, MUM, feed_url=FEED, episodes=1)
    assert root.records.podcasts.list().items == [] and root.records.jobs.list().items == []
    assert _library(root) == [] and root.records.cards.list().items == []


@pytest.mark.parametrize(
    ("route", "words"),
    [
        (Served(500, b"oops"), "the feed answered HTTP 500"),
        (Served(200, b"<html><body>not a feed</body></html>"), "not an RSS or Atom feed"),
    ],
)
def test_a_bad_feed_is_kept_with_its_reason_when_the_first_run_was_queued(
    root: Root, fetcher: FakeFetcher, route: Served, words: str
) -> None:
    queue = Queue(takes=True)
    ports = _ports(root, fetcher, queue)
    fetcher.routes[FEED] = route
    pod, run, queued = podcasts.create(ports, MUM, feed_url=FEED, episodes=3)
    assert queued is True and run.status == "queued" and queue.submitted == [run]
    assert fetcher.asked == [] and pod.status == "new" and pod.title == ""  # the feed is the run's to read
    done = _execute(ports, run)
    assert done.status == "failed" and words in str(done.detail)
    kept = podcasts.get(ports, pod.id)
    assert kept.status == "failed" and kept.last_error == done.detail and kept.card_id is None


def _execute(ports: PodcastPorts, run: Run) -> Run:
    from services import jobs

    return jobs.execute(ports.runs, {"podcast": lambda r: podcasts.run_refresh(ports, r)}, run.id)


def test_a_refresh_while_one_waits_is_a_conflict_naming_that_run(root: Root, fetcher: FakeFetcher) -> None:
    ports = _ports(root, fetcher, Queue(takes=True))
    pod, first, _ = podcasts.create(ports, MUM, feed_url=FEED, episodes=3)
    with pytest.raises(Conflict, match=f"being checked already \\(run {first.id}, queued\\)"):
        podcasts.refresh_now(ports, MUM, pod.id)


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"episodes": 0}, "episodes must be 1 to 25"),
        ({"episodes": 26}, "episodes must be 1 to 25"),
        ({"episodes": 3, "order": "random"}, "order must be one of newest_first, oldest_first"),
        ({"episodes": 3, "refresh_hours": 0.1}, "refresh_hours must be 0.25 to 168"),
        ({"episodes": 3, "feed_url": "ftp://feeds.example/feed"}, "only http and https"),
        ({"episodes": 3, "feed_url": "http://169.254.169.254/latest/meta-data/"}, "never fetched"),
    ],
)
def test_create_refusals_say_why_and_keep_nothing(
    root: Root, ports: PodcastPorts, fetcher: FakeFetcher, fields: dict[str, Any], words: str
) -> None:
    with pytest.raises(Invalid, match=words):
        podcasts.create(ports, MUM, **{"feed_url": FEED, **fields})
    assert fetcher.asked == [] and root.records.podcasts.list().items == []
    assert root.records.jobs.list().items == []


def test_another_members_podcast_is_read_with_its_url_hidden_and_not_changed(
    root: Root, ports: PodcastPorts, fetcher: FakeFetcher, mp3: bytes
) -> None:
    serve(fetcher, mp3, 1)
    pod, _, _ = podcasts.create(ports, MUM, feed_url=FEED, episodes=1)
    assert podcasts.shown_feed_url(MUM, pod) == FEED
    assert podcasts.shown_feed_url(KID, pod) == "https://feeds.example/…"
    asked = len(fetcher.asked)
    for change in (
        lambda: podcasts.refresh_now(ports, KID, pod.id),
        lambda: podcasts.update(ports, KID, pod.id, episodes=2),
        lambda: podcasts.delete(ports, KID, pod.id),
    ):
        with pytest.raises(Forbidden, match="only the owner or an admin may change this podcast"):
            change()
    assert podcasts.get(ports, pod.id) == pod and len(fetcher.asked) == asked


def test_unknown_ids_are_not_found_by_name(ports: PodcastPorts) -> None:
    for call in (
        lambda: podcasts.get(ports, "nope"),
        lambda: podcasts.refresh_now(ports, MUM, "nope"),
        lambda: podcasts.update(ports, MUM, "nope", title="x"),
        lambda: podcasts.delete(ports, MUM, "nope"),
    ):
        with pytest.raises(NotFound, match=r"^no podcast nope$"):
            call()


def test_an_edit_forgets_the_validators_and_the_next_refresh_applies_it(
    ports: PodcastPorts, fetcher: FakeFetcher, mp3: bytes, cloud: InProcessCloud
) -> None:
    serve(fetcher, mp3, 3)
    pod, _, _ = podcasts.create(ports, MUM, feed_url=FEED, episodes=2)
    slower = podcasts.update(ports, MUM, pod.id, refresh_hours=1.5)
    assert slower.etag == '"v1"' and ports.jobs.get(pod.id).every_s == 5400  # the interval alone keeps them
    edited = podcasts.update(ports, MUM, pod.id, episodes=1, title="Night Tales")
    assert edited.etag is None and edited.last_modified is None
    after, _, _ = podcasts.refresh_now(ports, MUM, pod.id)
    assert fetcher.asked[-1] == (FEED, {})  # fetched in full
    assert [e["title"] for e in after.held] == ["Episode 3"]
    card = cloud.card(str(pod.yoto_card_id))
    assert card is not None and card["title"] == "Night Tales" and _chapters(cloud, pod.yoto_card_id) == ["Episode 3"]


def test_delete_removes_the_card_on_yoto_the_episodes_the_job_and_the_runs(
    root: Root, ports: PodcastPorts, fetcher: FakeFetcher, mp3: bytes, cloud: InProcessCloud
) -> None:
    serve(fetcher, mp3, 2)
    pod, run, _ = podcasts.create(ports, MUM, feed_url=FEED, episodes=2)
    podcasts.delete(ports, MUM, pod.id)
    with pytest.raises(NotFound):
        podcasts.get(ports, pod.id)
    assert str(pod.yoto_card_id) not in cloud.cards() and root.records.cards.list().items == []
    assert _library(root) == [] and root.records.jobs.list().items == []
    assert ports.runs.recent(pod.id) == []
    with pytest.raises(NotFound):
        ports.runs.get(run.id)
