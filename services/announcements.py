"""Announcements that resume: a text spoken, played on players, each put back where it was.

The speech goes onto one announcement card per Yoto account, rewritten in place, in the
install's storage mode. Each player's place comes from its last events just before the card
starts; the end is seen in its events where a listener runs, else it is the spoken length
plus a margin; then a targeted `card/start` puts it back (docs/players.md, "Announcements").
"""

from __future__ import annotations

import contextlib
import logging
import math
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from core import storage_modes
from core.errors import Conflict, DomainError, NotFound, UpstreamTimeout
from core.ports import CounterRepository, ListenerStarter, RunQueue, RunRepository, SettingsRepository
from core.records import AudioItem, PlayerState, Run, User, utcnow
from core.usernames import name_of
from core.yoto import payloads
from core.yoto.payloads import Command
from core.yoto.state import NO_CARD
from services import card_content as content
from services import cards, jobs, library, listener_health, player_commands, players, tts
from services.card_content import CardPorts, UserLookup
from services.library import LibraryPorts
from services.player_commands import Commands
from services.players import KnownDevice, PlayerPorts

log = logging.getLogger("yss.announcements")

KIND = "announcement"
SUBJECT = "announcements"  # one announcement at a time in the family (runs of one subject run in turn)
TITLE = "Announcement"
MARGIN_S = 3.0  # past the spoken length before a player whose end nobody saw is put back
# how long a player may take to start the card: a yoto track is downloaded first, a stream's first bytes fetched
START_S = {storage_modes.YOTO: 10.0, storage_modes.STREAM: 3.0}
IN_REQUEST_MAX_S = 20.0  # the longest wait a request may hold (the API's Lambda has 30 s in all)
LIVE_WAIT_S = 5.0  # for an on-demand listener woken by the announcement
FRESH_S = 1.5  # how long to wait for the events a refresh asks for
KNOWN_FOR_S = 60.0  # without a listener, a place heard longer ago than this is not trusted
POLL_S = 0.2
_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def card_key(account: str) -> str:
    """The settings key holding the account's announcement card (our id) and its last item."""
    return f"announcement-card:{account}"


def pending_key(run_id: str) -> str:
    return f"announcement:{run_id}"


@dataclass(frozen=True)
class AnnouncementPorts:
    players: PlayerPorts
    commands: Commands
    tts: tts.TtsPorts
    cards: CardPorts
    library: LibraryPorts
    runs: RunRepository
    queue: RunQueue
    settings: SettingsRepository
    counters: CounterRepository
    users: UserLookup
    starter: ListenerStarter | None = None
    now: Callable[[], datetime] = utcnow
    sleep: Callable[[float], None] = time.sleep
    margin_s: float = MARGIN_S
    start_s: Mapping[str, float] = field(default_factory=lambda: dict(START_S))


@dataclass(frozen=True)
class Place:
    """Where a player was: its card, chapter, track and second, and whether it played."""

    card_id: str | None
    chapter_key: str | None = None
    track_key: str | None = None
    seconds_in: float = 0.0
    playing: bool = False


@dataclass(frozen=True)
class Started:
    """The announcement's run: done in the request (`queued` False) or handed to the workers."""

    run: Run
    queued: bool


# --------------------------------------------------------------------------- the request


def announce(ports: AnnouncementPorts, who: User, text: str, player_ids: Sequence[str] | None = None) -> Started:
    """Check, speak, and start the run that plays it: in the request when the card streams and
    the speech is short, else queued (a yoto card waits for its upload and transcode)."""
    targets = _targets(ports.players, who, player_ids)
    mode = storage_modes.checked(None, ports.cards.rules.public_url, ports.cards.rules.allow_http)
    if mode == storage_modes.STREAM:
        content.require_https_public_url(ports.cards.rules)
    elif ports.cards.media is None:
        raise Conflict("this install can neither stream to players nor upload to Yoto's storage")
    busy = jobs.active_run(ports.runs, SUBJECT)
    if busy is not None:
        raise Conflict(f"an announcement is playing already (run {busy.id}, {busy.status})", run_id=busy.id)
    if ports.starter is not None:  # an on-demand listener comes up while the speech is made
        listener_health.wake(ports.settings, ports.counters, ports.starter)
    item = tts.speak(ports.tts, who, text=text, title=TITLE)
    run = jobs.new_run(KIND, SUBJECT, who.owner_id, "manual")
    ports.settings.put(
        pending_key(run.id), {"by": who.owner_id, "item": item.id, "players": [d.id for d in targets], "mode": mode}
    )
    handlers: Mapping[str, jobs.Handler] = {KIND: lambda r: run_announcement(ports, r)}
    if mode == storage_modes.STREAM and longest_wait_s(ports, item.duration_s, mode) <= IN_REQUEST_MAX_S:
        ports.runs.add(run)
        return Started(jobs.execute(ports.runs, handlers, run.id), queued=False)
    try:
        queued = jobs.start(ports.runs, ports.queue, run)
    except BaseException:
        with contextlib.suppress(NotFound):
            ports.settings.delete(pending_key(run.id))
        raise
    if queued:
        return Started(run, queued=True)
    return Started(jobs.execute(ports.runs, handlers, run.id), queued=False)


def _targets(ports: PlayerPorts, who: User, player_ids: Sequence[str] | None) -> list[KnownDevice]:
    """The players named (each one `who` may use, else `NotFound` as on the player routes), or
    all of them."""
    if player_ids is None:
        found = [d for d in players.all_devices(ports) if players.may_use(ports.settings, who, d.id)]
        if not found:
            raise Conflict("no player to announce on: no linked Yoto account has one you may use")
        return found
    unique = list(dict.fromkeys(player_ids))
    return [players.find_device(ports, player_id, who=who) for player_id in unique]


# --------------------------------------------------------------------------- the run


@dataclass
class _Player:
    device: KnownDevice
    card: str = ""  # the Yoto id of the announcement card it plays
    place: Place | None = None
    started_at: datetime | None = None
    seen: bool = False  # its events showed the announcement playing
    ended_by: str | None = None
    result: dict[str, Any] = field(default_factory=dict)

    def fail(self, why: str) -> None:
        self.result = {"outcome": "failed", "detail": why}


def run_announcement(ports: AnnouncementPorts, run: Run) -> jobs.Outcome:
    """The job: write the card, note each player's place, play, await the end, put each back."""
    try:
        body = ports.settings.get(pending_key(run.id))
    except NotFound:
        return jobs.Outcome("failed", "the announcement this run was for is gone")
    try:
        who = ports.users.get_user(body["by"])
        item = ports.cards.audio.get(body["item"])
        group: list[_Player] = []
        for player_id in body["players"]:
            try:
                group.append(_Player(players.find_device(ports.players, player_id, who=who)))
            except DomainError as exc:
                failed = _Player(KnownDevice(player_id, player_id, "", False, utcnow()))
                failed.fail(str(exc))
                group.append(failed)
        for account in dict.fromkeys(p.device.account for p in group if not p.result):
            mine = [p for p in group if p.device.account == account]
            try:
                yoto_card = _write_card(ports, account, item, body["mode"])
            except DomainError as exc:
                for p in mine:
                    p.fail(f"the announcement card could not be written: {exc}")
                continue
            for p in mine:
                p.card = yoto_card
        _play(ports, [p for p in group if not p.result], item.duration_s, body["mode"])
    finally:
        with contextlib.suppress(NotFound):
            ports.settings.delete(pending_key(run.id))
    results = [{"player_id": p.device.id, "name": p.device.name, **p.result} for p in group]
    failed = sum(r["outcome"] == "failed" for r in results)
    status = "ok" if not failed else ("failed" if failed == len(results) else "partial")
    return jobs.Outcome(status, f"{len(results) - failed} of {len(results)} player(s) announced", results)


def _write_card(ports: AnnouncementPorts, account: str, item: AudioItem, mode: str) -> str:
    """The account's announcement card rewritten to hold `item` (made when it has none, or it
    was deleted); its Yoto id. The item it held before is removed from the library."""
    # The service writes its own card on the account: it may use the caller's item there.
    actor = User(username=name_of(account), id=account, is_admin=True)
    spec = cards.CardSpec(title=TITLE, tracks=[cards.TrackSpec(item.id, title=TITLE)], storage=mode)
    try:
        kept: dict[str, Any] = dict(ports.settings.get(card_key(account)))
    except NotFound:
        kept = {}
    card = None
    if kept.get("card_id"):
        with contextlib.suppress(NotFound):
            card = cards.update(ports.cards, actor, str(kept["card_id"]), spec)
    if card is None:
        card = cards.create(ports.cards, actor, spec)
    ports.settings.put(card_key(account), {"card_id": card.id, "item": item.id})
    old = kept.get("item")
    if old and old != item.id:
        try:
            library.remove(ports.library, ports.library.audio.get(str(old)), force=False)
        except DomainError as exc:  # still used elsewhere, or gone: it stays or is gone already
            log.info("the previous announcement %s stays: %s", old, exc)
    assert card.yoto_card_id
    return card.yoto_card_id


def longest_wait_s(ports: AnnouncementPorts, duration_s: float, mode: str) -> float:
    """The longest an announcement of `duration_s` may keep the run: a woken listener coming up,
    the refresh, the start, the speech and the margin."""
    woken = LIVE_WAIT_S if ports.starter is not None else 0.0
    return woken + FRESH_S + ports.start_s[mode] + duration_s + ports.margin_s


def _play(ports: AnnouncementPorts, group: list[_Player], duration_s: float, mode: str) -> None:
    if not group:
        return
    live = _listener_live(ports)
    for p in group:
        view = players.view(p.device, _state(ports, p.device.id), ports.now())
        if players.known_offline(view, live=live, now=ports.now()):
            p.fail(f"player {p.device.name!r} is offline")
    group = [p for p in group if not p.result]
    asked = ports.now()
    if live:
        for p in group:
            _send(ports, p, "status", payloads.events_request(), failing=False)
        _await_fresh(ports, group, asked)
    for p in group:
        p.place = place_of(_state(ports, p.device.id), ports.now(), live=live)
        if _send(ports, p, "announce", payloads.play(p.card, chapter=1, track=1, seconds_in=0), silence_ok=True):
            p.started_at = ports.now()
    playing = [p for p in group if p.started_at is not None]
    # with a listener: the speech, the margin and the start allowance; without one: the speech and the margin
    _await_end(ports, playing, duration_s + ports.margin_s + (ports.start_s[mode] if live else 0.0), live=live)
    for p in playing:
        _put_back(ports, p)


def _listener_live(ports: AnnouncementPorts) -> bool:
    """Whether a listener writes the players' events: an on-demand one is woken (it was in the
    request too) and given LIVE_WAIT_S to come up."""
    if ports.commands.live():
        return True
    if ports.starter is None:
        return False
    listener_health.wake(ports.settings, ports.counters, ports.starter)
    deadline = ports.now() + timedelta(seconds=LIVE_WAIT_S)
    while ports.now() < deadline:
        ports.sleep(POLL_S)
        if ports.commands.live():
            return True
    return False


def _send(
    ports: AnnouncementPorts,
    p: _Player,
    action: str,
    command: Command,
    *,
    failing: bool = True,
    silence_ok: bool = False,
) -> bool:
    """Send and await the acknowledgement; a refusal fails the player (when `failing`). With
    `silence_ok` a missing acknowledgement counts as sent (a player fetching a track may be slow)."""
    try:
        player_commands.send(
            ports.commands.sender, p.device, action, command, offline=False, timeout=ports.commands.timeout_s
        )
    except UpstreamTimeout as exc:
        if silence_ok:
            return True
        if failing:
            p.fail(str(exc))
        return False
    except DomainError as exc:
        if failing:
            p.fail(str(exc))
        return False
    return True


def _await_fresh(ports: AnnouncementPorts, group: list[_Player], asked: datetime) -> None:
    """Until every player's state is newer than `asked` (the events a refresh brings), or FRESH_S."""
    deadline = asked + timedelta(seconds=FRESH_S)
    while ports.now() < deadline:
        states = [_state(ports, p.device.id) for p in group]
        if all(s is not None and s.updated_at >= asked for s in states):
            return
        ports.sleep(POLL_S)


def _await_end(ports: AnnouncementPorts, group: list[_Player], allowance_s: float, *, live: bool) -> None:
    """Until each player's events show the announcement over (it stopped, or another card
    plays), or `allowance_s` has passed since it started."""
    if not group:
        return
    waiting = list(group)
    while waiting:
        now = ports.now()
        for p in list(waiting):
            assert p.started_at is not None
            if live and _ended(p, _state(ports, p.device.id)):
                p.ended_by = "events"
            elif now >= p.started_at + timedelta(seconds=allowance_s):
                p.ended_by = "timer"
            else:
                continue
            waiting.remove(p)
        if waiting:
            ports.sleep(POLL_S)


def _ended(p: _Player, state: PlayerState | None) -> bool:
    events = (state.state.get("events") or {}) if state is not None else {}
    on_card = events.get("cardId") == p.card
    if on_card and events.get("playbackStatus") == "playing":
        p.seen = True
        return False
    return p.seen


def _put_back(ports: AnnouncementPorts, p: _Player) -> None:
    place = p.place
    state = _state(ports, p.device.id) if p.ended_by == "events" else None
    now_on = ((state.state.get("events") or {}) if state is not None else {}).get("cardId")
    base = {"ended_by": p.ended_by}
    if now_on not in (None, "", NO_CARD, p.card):
        p.result = {**base, "outcome": "left_alone", "detail": f"card {now_on} was started during the announcement"}
        return
    if place is None:
        p.result = {**base, "outcome": "played", "detail": "where it was is not known (nothing heard from it lately)"}
        if p.ended_by == "timer":
            _send(ports, p, "stop", payloads.stop(), failing=False)
        return
    if not place.playing or not place.card_id:
        if p.ended_by == "timer":
            _send(ports, p, "stop", payloads.stop(), failing=False)
        was = f"paused on card {place.card_id}" if place.card_id else "idle"
        p.result = {**base, "outcome": "stayed_idle", "detail": f"it was {was}"}
        return
    try:
        command = resume_command(place)
    except payloads.InvalidCommand as exc:
        p.fail(f"cannot go back to card {place.card_id}: {exc}")
        return
    if _send(ports, p, "resume", command):
        assert command.body is not None
        p.result = {
            **base,
            "outcome": "resumed",
            "resumed_to": {
                "card_id": place.card_id,
                "chapter_key": place.chapter_key,
                "track_key": place.track_key,
                "seconds_in": command.body["secondsIn"],
            },
        }


def resume_command(place: Place) -> Command:
    """`card/start` at the place's card, chapter, track and second."""
    assert place.card_id
    for name, key in (("chapter", place.chapter_key), ("track", place.track_key)):
        if key is not None and not _KEY.fullmatch(key):
            raise payloads.InvalidCommand(f"the {name} key {key!r} is not one a card uses")
    start = payloads.play(place.card_id, chapter_key=place.chapter_key, seconds_in=math.floor(place.seconds_in + 0.5))
    assert start.body is not None
    body = dict(start.body)
    if place.track_key is not None:
        body["trackKey"] = place.track_key
    return Command(start.family, body)


def place_of(state: PlayerState | None, now: datetime, *, live: bool) -> Place | None:
    """Where the state says the player is now (a playing position moved on by the time since it
    was heard); None when nothing was heard, or, with no listener, not within KNOWN_FOR_S."""
    if state is None:
        return None
    age = max(0.0, (now - state.updated_at).total_seconds())
    if not live and age > KNOWN_FOR_S:
        return None
    events: Mapping[str, Any] = state.state.get("events") or {}
    card = events.get("cardId")
    if card in (None, "", NO_CARD):
        return Place(None)
    playing = events.get("playbackStatus") == "playing"
    position = events.get("position")
    seconds = float(position) if isinstance(position, int | float) and not isinstance(position, bool) else 0.0
    if playing and isinstance(position, int):
        seconds += 0.5  # whole seconds, cut down: on average half a second behind
    return Place(
        card_id=str(card),
        chapter_key=_text(events.get("chapterKey")),
        track_key=_text(events.get("trackKey")),
        seconds_in=seconds + age if playing else seconds,
        playing=playing,
    )


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _state(ports: AnnouncementPorts, player_id: str) -> PlayerState | None:
    try:
        return ports.players.players.get_state(player_id)
    except NotFound:
        return None
