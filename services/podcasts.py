"""Podcast cards: a Yoto card that follows a feed, rewritten in place as episodes arrive.

A refresh, in the order that leaves nothing half-done:
1. GET the feed (conditional on its ETag / Last-Modified once the card holds
   episodes; a 304 ends the refresh), every hop through the URL check;
2. pick the window: the newest `episodes` episodes, arranged newest or oldest first;
3. fetch each episode the card does not hold yet into a scratch file (size
   and time caps) and bring it in through `services.ingest` (`source:
   podcast`); an episode over the per-track limit is normalised once, cut
   where it is quietest before the limit (`services.long_audio`, the rule
   every long item follows), and each part ingested as "Title, Part n";
4. rewrite the same card with the window's tracks in the podcast's storage mode
   (only when they, the title or the mode changed; a `yoto` card uploads inline
   and is checked against Yoto's limits first);
5. save the podcast, then remove the items of episodes that left the window
   unless another card or playlist uses them.

Any failure in 1–4 deletes the items this refresh made and leaves the card
and the podcast's episodes as they were; the reason is the run's detail and
the podcast's `last_error`. Creating one checks the URL in the request and
leaves the feed to the first run (so it is read and parsed once); a queued
first run that fails leaves the podcast failed, without a card, until a later
check works or it is deleted.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from core.audio import AudioError
from core.errors import Conflict, DomainError, Invalid, NotFound, VersionConflict
from core.ports import (
    CardRepository,
    JobRepository,
    PlaylistRepository,
    PodcastRepository,
    RunQueue,
    RunRepository,
    WebFetcher,
)
from core.records import PODCAST_ORDERS, AudioItem, Card, Job, Podcast, Run, User, new_id, utcnow
from core.settings import Settings
from services import access, jobs, library
from services.ingest import TITLE_MAX, IngestPorts, ingest, normalise_unregistered, scratch_dir
from services.long_audio import cut_quietly, part_title
from services.podcast_feeds import Episode, Feed, parse_feed

log = logging.getLogger("yss.podcasts")

EPISODES_MAX = 25
REFRESH_HOURS_MIN, REFRESH_HOURS_MAX = 0.25, 7 * 24.0
LONGEST_EPISODE_S = 12 * 3600.0  # what a split may hold in all
TRACK_TITLE_MAX = 100  # a card track's title


@dataclass(frozen=True)
class PodcastRules:
    feed_max_bytes: int
    feed_timeout_s: float
    episode_max_bytes: int
    episode_timeout_s: float
    refresh_hours: float

    @classmethod
    def of(cls, settings: Settings) -> PodcastRules:
        return cls(
            feed_max_bytes=settings.podcast_feed_max_kb * 1024,
            feed_timeout_s=settings.podcast_feed_timeout_s,
            episode_max_bytes=settings.podcast_episode_max_mb * 1024 * 1024,
            episode_timeout_s=settings.podcast_episode_timeout_s,
            refresh_hours=settings.podcast_refresh_hours,
        )


@dataclass(frozen=True)
class Track:
    audio_id: str
    title: str


class CardWriter(Protocol):
    """Writes a card's tracks on the owner's Yoto account
    (`services.stream_cards.ServiceCardWriter`: through `services.cards`)."""

    def storage(self, asked: str | None) -> str:
        """The storage mode asked for, else the install's default; refused where it cannot work."""
        ...

    def write(self, owner: str, card_id: str | None, title: str, tracks: Sequence[Track], storage: str) -> Card:
        """Create the card (`card_id` None) or rewrite it in place in `storage`; returns its record."""
        ...

    def remove(self, owner: str, card_id: str) -> None: ...


@dataclass(frozen=True)
class PodcastPorts:
    podcasts: PodcastRepository
    jobs: JobRepository
    runs: RunRepository
    playlists: PlaylistRepository
    cards: CardRepository
    ingest: IngestPorts  # the library's records and bytes, the limits, the transcoder, scratch space
    fetch: WebFetcher
    writer: CardWriter
    queue: RunQueue
    rules: PodcastRules
    tz: ZoneInfo


# --------------------------------------------------------------------------- checks


def _check(episodes: int | None, order: str | None, refresh_hours: float | None) -> None:
    if episodes is not None and not 1 <= episodes <= EPISODES_MAX:
        raise Invalid(f"episodes must be 1 to {EPISODES_MAX}")
    if order is not None and order not in PODCAST_ORDERS:
        raise Invalid(f"order must be one of {', '.join(PODCAST_ORDERS)}")
    if refresh_hours is not None and not REFRESH_HOURS_MIN <= refresh_hours <= REFRESH_HOURS_MAX:
        raise Invalid(f"refresh_hours must be {REFRESH_HOURS_MIN:g} to {REFRESH_HOURS_MAX:g}")


def get(ports: PodcastPorts, podcast_id: str) -> Podcast:
    return access.found(ports.podcasts.get, "podcast", podcast_id)


def shown_feed_url(user: User, podcast: Podcast) -> str:
    """The feed URL as `user` may read it: whole for its owner and admins; for other
    members only where it is (scheme and host), since a private feed's URL is its secret."""
    if user.is_admin or podcast.owner == user.owner_id:
        return podcast.feed_url
    parts = urlsplit(podcast.feed_url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}/…"


def _may_change(user: User, podcast: Podcast) -> None:
    access.may_change(user, podcast.owner, "podcast")


def _job(podcast: Podcast) -> Job:
    return Job(id=podcast.id, owner=podcast.owner, kind="podcast", every_s=max(60, round(podcast.refresh_hours * 3600)))


# --------------------------------------------------------------------------- use cases


def read_feed(body: bytes, url: str) -> Feed:
    """The one parse of a fetched feed document (the parser is `services.podcast_feeds`)."""
    return parse_feed(body, url)


def fetch_feed(
    ports: PodcastPorts, url: str, headers: dict[str, str] | None = None
) -> tuple[Feed | None, dict[str, str]]:
    """(the feed, its response headers); (None, headers) for a 304 Not Modified."""
    got = ports.fetch.get(
        url, headers=headers, max_bytes=ports.rules.feed_max_bytes, timeout_s=ports.rules.feed_timeout_s
    )
    if got.status == 304:
        return None, got.headers
    if got.status != 200:
        raise Invalid(f"the feed answered HTTP {got.status}")
    return read_feed(got.body, got.url), got.headers


def create(
    ports: PodcastPorts,
    user: User,
    *,
    feed_url: str,
    episodes: int,
    order: str = "newest_first",
    title: str | None = None,
    refresh_hours: float | None = None,
    storage: str | None = None,
) -> tuple[Podcast, Run, bool]:
    """(podcast, its first run, queued). The URL is checked here (a refused one is
    `Invalid` with nothing kept); the first run reads the feed and fills the
    card; if it fails the podcast stays, failed and saying why. Without a queue
    it runs here: a failure is then `Invalid` with the reason and nothing kept.
    `storage` None: the install's default (`core.storage_modes`)."""
    hours = refresh_hours if refresh_hours is not None else ports.rules.refresh_hours
    _check(episodes, order, hours)
    mode = ports.writer.storage(storage)
    url = feed_url.strip()
    ports.fetch.precheck(url)
    now = utcnow()
    podcast = Podcast(
        id=new_id(),
        owner=user.owner_id,
        feed_url=url,
        title=(title or "").strip()[:100],  # empty: the feed's own, once the first run has read it
        episodes=episodes,
        order=order,
        refresh_hours=hours,
        storage=mode,
        created_at=now,
        updated_at=now,
    )
    ports.podcasts.add(podcast)
    run = jobs.new_run("podcast", podcast.id, podcast.owner, "create")
    try:
        jobs.put_job(ports.jobs, _job(podcast), ports.tz)
        queued = jobs.start(ports.runs, ports.queue, run)
    except BaseException:
        _forget(ports, podcast)
        raise
    if queued:
        return podcast, run, True
    done = jobs.execute(ports.runs, {"podcast": lambda r: run_refresh(ports, r)}, run.id)
    if done.status != "ok":
        _forget(ports, get(ports, podcast.id), keep_run=run.id)
        raise Invalid(f"the podcast could not be made: {done.detail}")
    return get(ports, podcast.id), done, False


def refresh_now(ports: PodcastPorts, user: User, podcast_id: str) -> tuple[Podcast, Run, bool]:
    """(podcast, run, queued): handed to the run queue, or (no queue) run here.
    `Conflict` while the podcast already has a run waiting or running."""
    podcast = get(ports, podcast_id)
    _may_change(user, podcast)
    busy = jobs.active_run(ports.runs, podcast.id)
    if busy is not None:
        raise Conflict(f"this podcast is being checked already (run {busy.id}, {busy.status})", run_id=busy.id)
    run = jobs.new_run("podcast", podcast.id, podcast.owner, "manual")
    if jobs.start(ports.runs, ports.queue, run):
        return podcast, run, True
    done = jobs.execute(ports.runs, {"podcast": lambda r: run_refresh(ports, r)}, run.id)
    return get(ports, podcast_id), done, False


def update(
    ports: PodcastPorts,
    user: User,
    podcast_id: str,
    *,
    title: str | None = None,
    episodes: int | None = None,
    order: str | None = None,
    refresh_hours: float | None = None,
    storage: str | None = None,
) -> Podcast:
    """Change the title, window, order, refresh interval or storage mode; the card follows
    at the next refresh (a new mode rewrites the same card in place).

    A new title, window, order or mode also forgets the feed's validators: an
    unchanged feed answers a conditional GET with 304, and the next refresh
    would keep the old card without looking at the new window."""
    _check(episodes, order, refresh_hours)
    podcast = get(ports, podcast_id)
    _may_change(user, podcast)
    mode = ports.writer.storage(storage) if storage is not None else podcast.storage
    changed = replace(
        podcast,
        title=title.strip()[:100] if title is not None else podcast.title,
        episodes=episodes if episodes is not None else podcast.episodes,
        order=order if order is not None else podcast.order,
        refresh_hours=refresh_hours if refresh_hours is not None else podcast.refresh_hours,
        storage=mode,
    )
    if _shape(changed) != _shape(podcast):
        changed = replace(changed, etag=None, last_modified=None)
    saved = ports.podcasts.save(changed, expected_version=podcast.version)
    if refresh_hours is not None:
        jobs.put_job(ports.jobs, _job(saved), ports.tz)
    return saved


def _shape(podcast: Podcast) -> tuple[str, int, str, str]:
    """What the card is made from, besides the feed."""
    return podcast.title, podcast.episodes, podcast.order, podcast.storage


def delete(ports: PodcastPorts, user: User, podcast_id: str) -> None:
    podcast = get(ports, podcast_id)
    _may_change(user, podcast)
    _forget(ports, podcast)


def _forget(ports: PodcastPorts, podcast: Podcast, keep_run: str | None = None) -> None:
    """Job first (nothing refreshes a half-deleted podcast), then the card, the items, the
    record and its runs (but `keep_run`, which says why a first run removed it)."""
    jobs.drop_job(ports.jobs, podcast.id)
    if podcast.card_id:
        ports.writer.remove(podcast.owner, podcast.card_id)
    _remove_unused(ports, [a for e in podcast.held for a in e["audio_ids"]], podcast.card_id)
    with contextlib.suppress(NotFound):
        ports.podcasts.delete(podcast.id)
    for run in ports.runs.recent(podcast.id, limit=jobs.RUNS_KEPT + 20):
        if run.id != keep_run:
            with contextlib.suppress(NotFound):
                ports.runs.delete(run.id)


# --------------------------------------------------------------------------- the refresh


def run_refresh(ports: PodcastPorts, run: Run) -> jobs.Outcome:
    """The job handler: refresh, and record the result on the podcast either way."""
    podcast = get(ports, run.subject_id)
    try:
        done = refresh(ports, podcast)
    except DomainError as exc:
        _note(ports, podcast.id, status="failed", last_error=str(exc), checked_at=utcnow())
        raise
    added = len({e["guid"] for e in done.held} - {e["guid"] for e in podcast.held})
    return jobs.Outcome("ok", f"{added} new episode(s); the card holds {len(done.held)}")


def _note(ports: PodcastPorts, podcast_id: str, **fields: Any) -> Podcast:
    """Save some fields on the current record, retrying over a concurrent edit."""
    for _ in range(5):
        current = get(ports, podcast_id)
        try:
            return ports.podcasts.save(replace(current, **fields), expected_version=current.version)
        except VersionConflict:
            continue
    raise Conflict("the podcast kept changing while its refresh was saved; try again")


def _window(feed: Feed, podcast: Podcast) -> list[Episode]:
    newest = feed.episodes[: podcast.episodes]
    return newest if podcast.order == "newest_first" else list(reversed(newest))


def refresh(ports: PodcastPorts, podcast: Podcast) -> Podcast:
    conditional: dict[str, str] = {}
    if podcast.held and podcast.card_id:
        if podcast.etag:
            conditional["If-None-Match"] = podcast.etag
        if podcast.last_modified:
            conditional["If-Modified-Since"] = podcast.last_modified
    feed, headers = fetch_feed(ports, podcast.feed_url, conditional)
    if feed is None:
        return _note(ports, podcast.id, status="ok", last_error=None, checked_at=utcnow())
    title = podcast.title or feed.title.strip()[:100] or "Podcast"
    window = _window(feed, podcast)
    held = {e["guid"]: e for e in podcast.held}
    made: list[AudioItem] = []
    try:
        entries = []
        with scratch_dir(ports.ingest.scratch) as work:
            for episode in window:
                entry = held.get(episode.guid)
                if entry is None:
                    items = _bring_in(ports, podcast, episode, work)
                    made.extend(items)
                    entry = {"guid": episode.guid, "title": episode.title, "audio_ids": [i.id for i in items]}
                entries.append(entry)
        card_id = podcast.card_id
        yoto_card_id = podcast.yoto_card_id
        same_episodes = [e["guid"] for e in entries] == [e["guid"] for e in podcast.held]
        if not card_id or not same_episodes or _card_differs(ports, card_id, title, podcast.storage):
            card = ports.writer.write(podcast.owner, card_id, title, _tracks(ports, entries), podcast.storage)
            card_id, yoto_card_id = card.id, card.yoto_card_id
    except BaseException:
        for item in made:
            library.remove(_library(ports), item, force=True)
        raise
    saved = _note(
        ports,
        podcast.id,
        **({} if podcast.title else {"title": title}),  # a title of its own is the member's to change
        held=entries,
        card_id=card_id,
        yoto_card_id=yoto_card_id,
        etag=headers.get("etag"),
        last_modified=headers.get("last-modified"),
        status="ok",
        last_error=None,
        checked_at=utcnow(),
    )
    if saved.owner != podcast.owner:
        saved = _changed_hands(ports, saved, podcast.owner, made)
    kept = {a for e in entries for a in e["audio_ids"]}
    _remove_unused(ports, [a for e in podcast.held for a in e["audio_ids"] if a not in kept], saved.card_id)
    return saved


def _changed_hands(ports: PodcastPorts, podcast: Podcast, before: str, made: list[AudioItem]) -> Podcast:
    """The podcast passed to another member while this refresh ran (its owner was
    deleted): what the refresh made in the old owner's name goes to the new one,
    and a card it wrote on the old owner's Yoto account is forgotten (the next
    refresh makes one on the new owner's)."""
    for item in made:
        with contextlib.suppress(NotFound):
            if ports.ingest.audio.get(item.id).owner == before:
                ports.ingest.audio.update(item.id, owner=podcast.owner, stream_key=secrets.token_urlsafe(16))
    if podcast.card_id is None:
        return podcast
    with contextlib.suppress(NotFound):
        if ports.cards.get(podcast.card_id).owner == before:
            ports.cards.delete(podcast.card_id)
    return _note(ports, podcast.id, card_id=None, yoto_card_id=None)


def _card_differs(ports: PodcastPorts, card_id: str, title: str, storage: str) -> bool:
    """Whether the card's title or mode is not the podcast's (a PATCH changed it)."""
    try:
        card = ports.cards.get(card_id)
    except NotFound:  # not ours to judge: the write path says what a missing card means
        return False
    return (card.title, card.storage) != (title, storage)


def _tracks(ports: PodcastPorts, entries: list[dict[str, Any]]) -> list[Track]:
    out = []
    for entry in entries:
        ids = entry["audio_ids"]
        for n, audio_id in enumerate(ids, start=1):
            out.append(Track(audio_id, _titled(entry["title"], n if len(ids) > 1 else None, TRACK_TITLE_MAX)))
    return out


def _library(ports: PodcastPorts) -> library.LibraryPorts:
    return library.LibraryPorts(ports.ingest.audio, ports.playlists, ports.cards, ports.ingest.storage)


def _remove_unused(ports: PodcastPorts, audio_ids: list[str], own_card_id: str | None) -> None:
    """Delete items no card (but ours) and no playlist uses; an item gone already is fine."""
    for audio_id in dict.fromkeys(audio_ids):
        others = [c for c in ports.cards.using_audio(audio_id) if c != own_card_id]
        if others or ports.playlists.using_audio(audio_id):
            continue
        try:
            item = ports.ingest.audio.get(audio_id)
        except NotFound:
            continue
        library.remove(_library(ports), item, force=True)


def _bring_in(ports: PodcastPorts, podcast: Podcast, episode: Episode, work: Path) -> list[AudioItem]:
    """The episode's enclosure into the library: one item, or one per part when it is too long for one track."""
    src = work / f"episode-{new_id(8)}"
    rules = ports.rules
    got = ports.fetch.get(
        episode.audio_url, max_bytes=rules.episode_max_bytes, timeout_s=rules.episode_timeout_s, to=src
    )
    if got.status != 200:
        raise Invalid(f"episode {episode.title!r}: the audio answered HTTP {got.status}")
    limit = ports.ingest.limits.max_duration_s
    seconds = None
    with contextlib.suppress(AudioError, OSError):
        seconds = ports.ingest.transcoder.probe(src).duration_s
    if seconds is None or seconds <= limit:
        try:
            return [
                ingest(
                    ports.ingest,
                    src,
                    owner=podcast.owner,
                    title=episode.title,
                    source="podcast",
                )
            ]
        except Invalid as exc:
            if "longer" not in str(exc) and "too long" not in str(exc):
                raise Invalid(f"episode {episode.title!r}: {exc}") from None
        except DomainError as exc:
            raise type(exc)(f"episode {episode.title!r}: {exc}") from None
    return _split_in(ports, podcast, episode, src, work)


def _titled(title: str, part: int | None, most: int) -> str:
    """`title` (part None) or its part's, "Title, Part n", within `most` characters (the title gives way)."""
    if part is None:
        return title[:most]
    suffix = part_title("", part)
    return part_title(title[: most - len(suffix)], part)


def _split_in(ports: PodcastPorts, podcast: Podcast, episode: Episode, src: Path, work: Path) -> list[AudioItem]:
    """An episode too long for one track: normalised whole, then cut at its quiet moments into parts."""
    whole = work / f"whole-{new_id(8)}.mp3"
    try:
        seconds = normalise_unregistered(ports.ingest, src, whole, max_duration_s=LONGEST_EPISODE_S)
    except DomainError as exc:
        raise type(exc)(f"episode {episode.title!r}: {exc}") from None
    limit = ports.ingest.limits.max_duration_s
    parts = cut_quietly(ports.ingest.transcoder, whole, work, seconds, limit_s=limit)
    made: list[AudioItem] = []
    try:
        for n, part in enumerate(parts, start=1):
            title = _titled(episode.title, n if len(parts) > 1 else None, TITLE_MAX)
            made.append(ingest(ports.ingest, part, owner=podcast.owner, title=title, source="podcast"))
    except BaseException:
        for item in made:
            library.remove(_library(ports), item, force=True)
        raise
    return made
