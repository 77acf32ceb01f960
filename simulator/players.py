"""Simulated Yoto players on a real MQTT broker, behaving as public sources
report real ones do (each behaviour's source: docs/yoto.md, "What the
simulated players do"): partial events for a while after each request, copied
on the legacy topic; wrapped status; `{"state", "ts"}` presence with `offline`
as the last will; acks under each command's first path segment. Given the
fake cloud, a player reads the cards it does not hold from there when started,
downloads their Yoto-hosted audio once, and fetches stream tracks as they play.

    with start_players(broker_config, [PlayerSpec("p1", cards=[sample_card("c1")])]) as fleet:
        fleet["p1"].snapshot()
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import io
import json
import re
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Protocol

from adapters.yoto.mqtt.transport import BrokerConfig, Transport, TransportError, Will
from core.yoto.messages import decode
from core.yoto.payloads import CARD_URI, padded_key
from core.yoto.protocol import (
    COMMAND_SCALE_MAX,
    command_subscription,
    parse_command_topic,
    player_topic,
    presence_topic,
    response_topic,
    volume_from_device,
    volume_to_device,
)
from simulator.cloud.clock import instant, iso
from simulator.cloud.config import DEFAULT_ACCOUNT
from simulator.cloud.http import HttpError
from simulator.cloud.player_link import BUTTONS

CARD_URI_PREFIX = CARD_URI.split("{", 1)[0]
# Keys that change continuously: sent with other changes or every `position_every_s`.
_CONTINUOUS = ("position", "sleepTimerSeconds")
# Sent whenever a new track starts, changed or not; the chapter's keys too when the chapter changes.
_TRACK_KEYS = frozenset({"trackKey", "trackTitle", "trackLength", "position"})
_CHAPTER_KEYS = frozenset({"chapterKey", "chapterTitle"})
NO_AMBIENT_LIGHT = frozenset({"mini"})  # models without the light ring (yoto_api capabilities.py)
GARBAGE: tuple[tuple[str, bytes], ...] = (
    ("data/events", b"\xff\xfe\xfd"),
    ("data/events", b"{not json"),
    ("data/events", b"[1, 2, 3]"),
    ("data/events", b'{"volume": "loud", "position": "NaN"}'),
    ("data/events", b'{"trackTitle": "Radio \xff\xfe One"}'),
    ("data/status", b'"status"'),
    ("response", b'{"status": {"req_body": ""}}'),
    ("presence", b"maybe"),
    ("presence", b'{"state": "asleep", "ts": 1}'),
)
STREAM_PROBE_BYTES = 64 * 1024  # what a stream track's start fetches (one Range request), never the whole file
MAX_MEDIA_BYTES = 128 * 1024 * 1024  # a download with no declared fileSize reads at most this much
SHA256_SEGMENT = re.compile(r"/([0-9a-f]{64})(?:[/?#]|$)")
# Only this machine is ever reached: no proxy from the environment.
_HTTP = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass(frozen=True)
class SimTrack:
    key: str
    title: str
    length_s: float | None  # None: a stream track whose length is read when it starts playing
    stream_url: str | None = None  # a stream track: fetched from here each time it starts playing
    media_key: str | None = None  # a Yoto-hosted track: its audio in the player's cache (the sha256)
    # an interactive card's events: onLhb, onRhb, onEnd → {"cmd": "goto", "params": {chapterKey, trackKey}} | stop
    events: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class SimChapter:
    key: str
    title: str
    tracks: tuple[SimTrack, ...]
    available_from: float | None = None  # the Unix time it opens (the card's availableFrom); None: open


@dataclass(frozen=True)
class SimCard:
    card_id: str
    title: str
    chapters: tuple[SimChapter, ...]
    interactive: bool = False  # playbackType "interactive": the tracks' events say what plays next
    autoadvance: str | None = None  # content.config.autoadvance; "none": an event-less end stops
    track_nav: bool = True  # False (disableTrackNav): a button with no event does nothing

    @property
    def chapter_keys(self) -> list[str]:
        return [c.key for c in self.chapters]

    def find(self, chapter_key: str, track_key: str) -> tuple[int, int] | None:
        """(chapter, track) indexes of a goto's keys."""
        for ci, chapter in enumerate(self.chapters):
            for ti, track in enumerate(chapter.tracks):
                if chapter.key == chapter_key and track.key == track_key:
                    return ci, ti
        return None


def sample_card(card_id: str = "demo1", *, chapters: int = 3, tracks: int = 2, length_s: float = 90.0) -> SimCard:
    """A card of `chapters` chapters with `tracks` tracks each, keys "01", "02", …
    (track keys run on across chapters, as on Make Your Own cards)."""
    out = []
    n = 0
    for c in range(1, chapters + 1):
        items = []
        for _ in range(tracks):
            n += 1
            items.append(SimTrack(padded_key(n), f"Track {n}", length_s))
        out.append(SimChapter(padded_key(c), f"Chapter {c}", tuple(items)))
    return SimCard(card_id, f"Card {card_id}", tuple(out))


class CardSource(Protocol):
    """Where a player reads a card it does not hold: `RunningCloud` or `RemoteCloud`. Those also
    have `player_sync(player_id, report)`: the day/night limit from the player's config and the
    buttons a test pressed (simulator/cloud/player_link.py); a source without it has neither."""

    def card_for_player(self, card_id: str, account: str) -> dict[str, Any] | None: ...


class CannotPlay(Exception):
    """The card or track cannot play: its audio could not be fetched, or is not what the card declares."""


@dataclass
class PlayerSpec:
    player_id: str
    cards: Sequence[SimCard] = ()
    cloud: CardSource | None = None  # cards not in `cards` are read from here when started
    account: str = DEFAULT_ACCOUNT  # whose cards those are
    fetch_timeout_s: float = 5.0  # each download and stream fetch
    volume_max: int = 16
    volume_level: int = 8
    battery: int = 80
    events_window_s: float = 300.0  # events stop this long after the last events/request
    position_every_s: float = 5.0
    speed: float = 1.0  # playback seconds per wall-clock second
    sync_every_s: float = 0.5  # how often a player with a `cloud` reports to it and reads its limits
    model: str = "v3"  # the status' productType: "v3", "v2", "mini"…
    presence_format: Literal["yoto", "text", "online-json"] = "yoto"  # the last two: older guesses
    legacy_events: bool = True  # every data/events message copied on device/{id}/events
    # an ack key per command family; unset families answer under their first path
    # segment ("card" for card/*): {"card/start": "card-play"} is the legacy key
    ack_keys: Mapping[str, str] = field(default_factory=dict)


class SimulatedPlayer:
    def __init__(self, spec: PlayerSpec, broker: BrokerConfig) -> None:
        self.spec = spec
        self.player_id = spec.player_id
        self.broker = broker
        self.cards = {c.card_id: c for c in spec.cards}
        self.silent = False
        self.acks = True
        self.answers_requests = True  # False: events/status requests are acked but answered with no data
        # called with (player id, status fields) whenever status is published:
        # `make demo` copies it into the fake cloud's device shadow, as AWS IoT would
        self.on_status: Callable[[str, dict[str, Any]], None] | None = None
        self.received: list[tuple[str, bytes]] = []  # (command, payload) in arrival order
        self._rejects: dict[str | None, str] = {}
        self._lock = threading.RLock()
        self._transport: Transport | None = None
        self._started = time.monotonic()
        # playback
        self.card: SimCard | None = None
        self.chapter_index = 0
        self.track_index = 0
        self.position = 0.0
        self.playback = "stopped"
        self.volume_level = min(spec.volume_level, spec.volume_max)
        self.volume_max = spec.volume_max  # with a cloud: the day or night maxVolumeLimit of its config
        self.day = True
        self.repeat_all = False  # with a cloud: the config's repeatAll (the card starts again at its end)
        self.sleep_remaining: float | None = None
        self.playback_error: str | None = None  # why playback last stopped on a fetch; cleared by the next start
        self.media: dict[str, bytes] = {}  # downloaded Yoto-hosted audio, by sha256 (else by URL without its query)
        self._streamed: tuple[str, int, int] | None = None  # (card, chapter, track) whose stream was last fetched
        self.ambient = (0, 0, 0)
        self.battery = spec.battery
        self.charging = False
        self._resume: dict[str, tuple[int, int, float]] = {}  # card id → where it was left off
        # event stream
        self._events_until = 0.0
        self._sent_events: dict[str, Any] = {}
        self._continuous_at = 0.0
        self._force: set[str] = set()  # event keys the next message carries even if unchanged
        # the cloud link
        self._applied: list[int] = []  # presses applied and not yet reported
        self._synced_at = float("-inf")
        self._clock_offset = 0.0  # the cloud's clock minus ours, as of the last sync (its `now`)

    # ---------------------------------------------------------------- connection

    def come_online(self, timeout: float = 5.0) -> None:
        self.sync()  # the config's limits before the first status
        with self._lock:
            if self._transport is not None and self._transport.connected:
                return
            transport = Transport(
                self.broker,
                client_id_prefix=f"sim{self.player_id}",
                will=Will(presence_topic(self.player_id), self._presence(False)),
                on_message=self._on_command,
            )
            transport.connect(timeout)
            transport.subscribe([command_subscription(self.player_id)], timeout=timeout)
            self._transport = transport
            self._events_until = 0.0
            self._sent_events = {}
            self._started = time.monotonic()
        self._publish(presence_topic(self.player_id), self._presence(True), retain=True)
        self._publish_legacy_status("nA")
        self._publish_status()

    def go_offline(self) -> None:
        """Vanish without DISCONNECT: the broker publishes the last will (`offline`)."""
        with self._lock:
            transport, self._transport = self._transport, None
        if transport is not None:
            transport.drop()

    def close(self) -> None:
        """A clean goodbye: `offline` presence, then DISCONNECT."""
        with self._lock:
            transport, self._transport = self._transport, None
        if transport is not None and transport.connected:
            with contextlib.suppress(TransportError):
                legacy = json.dumps({"status": {**self._legacy_fields(), "shutDown": "userShutdown"}}).encode()
                transport.publish(player_topic(self.player_id, "status"), legacy, timeout=2)
                transport.publish(presence_topic(self.player_id), self._presence(False), retain=True, timeout=2)
            transport.close()

    @property
    def online(self) -> bool:
        return self._transport is not None and self._transport.connected

    # ---------------------------------------------------------------- faults

    def reject(self, family: str | None = None, reason: str = "rejected by the simulated player") -> None:
        """Answer FAIL (and change nothing) to `family`, or to every command."""
        self._rejects[family] = reason

    def accept(self) -> None:
        self._rejects.clear()

    def send_garbage(self) -> list[tuple[str, bytes]]:
        """Publish broken payloads on every topic we are known to send on; returns them."""
        sent = []
        for kind, payload in GARBAGE:
            topic = player_topic(self.player_id, kind)
            self._publish(topic, payload)
            sent.append((topic, payload))
        return sent

    def set_battery(self, level: int, *, charging: bool | None = None) -> None:
        with self._lock:
            self.battery = level
            if charging is not None:
                self.charging = charging
        self._publish_status()

    # ---------------------------------------------------------------- state

    def snapshot(self) -> dict[str, Any]:
        """The player's true state, for tests to compare with what the listener saw."""
        with self._lock:
            track = self._track()
            return {
                "online": self.online,
                "playback_status": self.playback,
                "card_id": self.card.card_id if self.card else None,
                "chapter_key": self.card.chapters[self.chapter_index].key if self.card else None,
                "chapter_title": self.card.chapters[self.chapter_index].title if self.card else None,
                "track_key": track.key if track else None,
                "track_title": track.title if track else None,
                "track_length_s": track.length_s if track else None,
                "position_s": self.position,
                "volume_level": self.volume_level,
                "volume": self._volume_percent(),
                "volume_max": self.volume_max,
                "day": self.day,
                "repeat_all": self.repeat_all,
                "sleep_timer_s": round(self.sleep_remaining) if self.sleep_remaining else 0,
                "ambient": self.ambient,
                "battery_percent": self.battery,
                "charging": self.charging,
                "playback_error": self.playback_error,
            }

    def tick(self, dt: float) -> None:
        """Advance playback and the sleep timer by `dt` wall-clock seconds (one events message for each
        track that starts, however fast `speed` runs); fetch a stream track that has just started; send
        events; report to the cloud when due."""
        messages: list[bytes | None] = []
        with self._lock:
            if self.playback == "playing" and self.card is not None:
                self.position += dt * self.spec.speed
                track = self._track()
                while track is not None and track.length_s is not None and self.position >= track.length_s:
                    self.position -= track.length_s
                    if not self._play_on():
                        self._stop()
                        break
                    track = self._track()
                    if track is not None and track.stream_url is not None:
                        break  # fetched before it plays on; its events after that
                    messages.append(self._events_message())
            due = self._stream_due()
            if self.sleep_remaining is not None:
                self.sleep_remaining -= dt
                if self.sleep_remaining <= 0:
                    self.sleep_remaining = None
                    if self.playback == "playing":
                        self.playback = "paused"
        for body in messages:
            if body is not None:
                self._send_events(body)
        if due is not None:
            self._stream_started(*due)
        self._publish_events()
        if time.monotonic() - self._synced_at >= self.spec.sync_every_s:
            self.sync()

    # ---------------------------------------------------------------- the cloud link and the buttons

    def sync(self) -> None:
        """Report what plays and the presses applied to the cloud; take its day or night volume limit
        and the buttons pressed since. Network, outside the lock; a cloud that cannot answer changes nothing."""
        link = getattr(self.spec.cloud, "player_sync", None)
        if link is None:
            return
        while True:
            with self._lock:
                self._synced_at = time.monotonic()
                applied = list(self._applied)
                report = {"playing": self.snapshot(), "applied": applied}
            try:
                answer = link(self.player_id, report)
            except (HttpError, OSError, http.client.HTTPException, RuntimeError, ValueError):
                return  # no such device in the cloud, or the cloud is down: keep the limits it last gave
            presses = [p for p in answer.get("presses") or [] if isinstance(p, dict) and p.get("button") in BUTTONS]
            with self._lock:
                if _number(answer.get("now")):
                    self._clock_offset = float(answer["now"]) - time.time()
                self._applied = [i for i in self._applied if i not in applied]
                limits_changed = self._take_limits(answer)
                for press in presses:
                    self._press(str(press.get("button")))
                    self._applied.append(press.get("id"))  # type: ignore[arg-type]
            if limits_changed:
                self._publish_status()
            self._publish_events()
            if not presses:
                return

    def _take_limits(self, answer: dict[str, Any]) -> bool:
        """Day or night and its maximum volume (0-16), a louder volume coming down to it; repeatAll.
        Whether the status changed."""
        day, limit = answer.get("day"), answer.get("volumeMax")
        if isinstance(answer.get("repeatAll"), bool):
            self.repeat_all = answer["repeatAll"]
        if not isinstance(day, bool) or not _number(limit) or not 0 <= limit <= 16:
            return False
        changed = (day, int(limit)) != (self.day, self.volume_max)
        self.day, self.volume_max = day, int(limit)
        self.volume_level = min(self.volume_level, self.volume_max)
        return changed

    def press(self, button: str) -> dict[str, Any]:
        """Press a button: on an interactive card what the track's onLhb/onRhb says (goto or stop);
        otherwise "right" the next track of the card, "left" the previous one (the first track starts
        again), skipping chapters not open yet. Answers the snapshot after it."""
        with self._lock:
            self._press(button)
        self._publish_events()
        return self.snapshot()

    def _press(self, button: str) -> None:
        if button not in BUTTONS:
            raise ValueError(f"no button {button!r}: left or right")
        track = self._track()
        if self.card is None or track is None:
            return
        if self.card.interactive:
            event = track.events.get("onLhb" if button == "left" else "onRhb")
            if event is not None and event.get("cmd") == "stop":
                self._stop()
            elif event is not None and self._goto(event):
                self.position = 0.0
            if event is not None or not self.card.track_nav:
                return
        if button == "right":
            if self._advance():
                self.position = 0.0
            return
        self._previous()

    def _stream_due(self) -> tuple[SimCard, int, int] | None:
        """The playing stream track, if its stream has not been fetched since it started."""
        track = self._track()
        if self.playback != "playing" or self.card is None or track is None or track.stream_url is None:
            return None
        if self._streamed == (self.card.card_id, self.chapter_index, self.track_index):
            return None
        return self.card, self.chapter_index, self.track_index

    def _stream_started(self, card: SimCard, chapter_index: int, track_index: int) -> None:
        """Fetch a stream track reached by playing on (outside the lock); stop with the reason if it fails."""
        reason = None
        try:
            opened = self._open_stream(card, chapter_index, track_index)
        except CannotPlay as exc:
            opened, reason = card, str(exc)
        with self._lock:
            moved = (self.card, self.chapter_index, self.track_index) != (card, chapter_index, track_index)
            if moved or self.playback != "playing":
                return  # a command changed what plays meanwhile
            if reason is not None:
                self._cannot_play(reason)
                return
            self.card = opened
            self._streamed = (card.card_id, chapter_index, track_index)

    def _track(self) -> SimTrack | None:
        if self.card is None:
            return None
        return self.card.chapters[self.chapter_index].tracks[self.track_index]

    def _now(self) -> float:
        """The time by the cloud's clock (as of the last sync), else ours: when chapters open."""
        return time.time() + self._clock_offset

    def _open(self, card: SimCard, chapter_index: int) -> bool:
        opens = card.chapters[chapter_index].available_from
        return opens is None or opens <= self._now()

    def _play_on(self) -> bool:
        """After a track ends: an interactive card follows its onEnd (a goto into a chapter not open
        yet, like stop, ends the card), with none and autoadvance "none" it stops; otherwise the next
        track, or with repeatAll the first. False: the card stops."""
        assert self.card is not None
        track = self._track()
        if self.card.interactive and track is not None:
            event = track.events.get("onEnd")
            if event is not None:
                return self._goto(event)
            if self.card.autoadvance == "none":
                return False
        return self._advance() or self._repeat()

    def _goto(self, event: Mapping[str, Any]) -> bool:
        """Go to a goto event's chapter and track if that chapter is open (its keys in the next events
        message); False for stop and a goto that cannot be followed."""
        assert self.card is not None
        params = event.get("params")
        if event.get("cmd") != "goto" or not isinstance(params, Mapping):
            return False
        found = self.card.find(str(params.get("chapterKey")), str(params.get("trackKey")))
        if found is None or not self._open(self.card, found[0]):
            return False
        self.chapter_index, self.track_index = found
        self._force |= _TRACK_KEYS | _CHAPTER_KEYS
        return True

    def _advance(self) -> bool:
        """On to the next track of the card, past chapters not open yet (its keys go in the next
        events message); False at the end of what is open."""
        assert self.card is not None
        chapter = self.card.chapters[self.chapter_index]
        if self.track_index + 1 < len(chapter.tracks):
            self.track_index += 1
            self._force |= _TRACK_KEYS
            return True
        for index in range(self.chapter_index + 1, len(self.card.chapters)):
            if self._open(self.card, index):
                self.chapter_index, self.track_index = index, 0
                self._force |= _TRACK_KEYS | _CHAPTER_KEYS
                return True
        return False

    def _previous(self) -> None:
        """Back a track, into the last open chapter before this one; on the first, that track from its start."""
        assert self.card is not None
        self.position = 0.0
        self._force |= _TRACK_KEYS
        if self.track_index > 0:
            self.track_index -= 1
            return
        for index in range(self.chapter_index - 1, -1, -1):
            if self._open(self.card, index):
                self.chapter_index = index
                self.track_index = len(self.card.chapters[index].tracks) - 1
                self._force |= _CHAPTER_KEYS
                return

    def _first_open(self, card: SimCard) -> int | None:
        return next((i for i in range(len(card.chapters)) if self._open(card, i)), None)

    def _repeat(self) -> bool:
        """With repeatAll on, back to the card's first open chapter (its keys in the next events message)."""
        first = self._first_open(self.card) if self.card is not None and self.repeat_all else None
        if first is None:
            return False
        self.chapter_index, self.track_index = first, 0
        self._force |= _TRACK_KEYS | _CHAPTER_KEYS
        return True

    def _stop(self) -> None:
        self.playback = "stopped"
        self.position = 0.0
        if self.card is not None:
            self._resume.pop(self.card.card_id, None)  # played to its end: the next start is from the top

    def _remember(self) -> None:
        if self.card is not None and self.playback in ("playing", "paused"):
            self._resume[self.card.card_id] = (self.chapter_index, self.track_index, self.position)

    def _cannot_play(self, reason: str) -> None:
        """Stop, the reason in the events (a player shows it cannot play); a plain start resumes here."""
        self._remember()
        self.playback = "stopped"
        self.playback_error = reason

    # ---------------------------------------------------------------- commands

    def _on_command(self, topic: str, payload: bytes) -> None:
        where = parse_command_topic(topic)
        if where is None or where[0] != self.player_id:
            return
        family = where[1]
        self.received.append((family, payload))
        if self.silent:
            return
        text = decode(payload)
        reason = self._rejects.get(family, self._rejects.get(None))
        if reason is None:
            try:
                body = json.loads(text) if text.strip() else {}
                if not isinstance(body, dict):
                    raise ValueError("the payload is not a JSON object")
                if family == "card/start":
                    self.sync()  # the cloud's clock as it is now: which chapters are open
                    self._start(body)  # takes the lock itself: it may read the cloud and fetch audio first
                else:
                    if family == "volume/set":
                        self.sync()  # the limit of the config as it is now
                    with self._lock:
                        self._obey(family, body)
            except CannotPlay as exc:
                reason = str(exc)
                with self._lock:
                    self._cannot_play(reason)
            except (ValueError, TypeError, KeyError, OverflowError) as exc:
                reason = str(exc) or exc.__class__.__name__
        self._ack(family, text, reason)
        self._publish_events()

    def _obey(self, family: str, body: dict[str, Any]) -> None:
        now = time.monotonic()
        if family == "events/request":
            if self.answers_requests:
                self._events_until = now + self.spec.events_window_s
                self._sent_events = {}  # the next events carry everything
        elif family == "status/request":
            if self.answers_requests:
                self._publish_status()
        elif family == "status":
            if not isinstance(body.get("requestId"), str):
                raise ValueError("a full status request needs a requestId")
            if self.answers_requests:
                self._publish_status(full=True)
        elif family == "card/pause":
            if self.playback == "playing":
                self.playback = "paused"
        elif family == "card/resume":
            if self.card is None:
                raise ValueError("no card to resume")
            self.playback = "playing"
        elif family == "card/stop":
            self._remember()
            self.playback = "stopped"
        elif family == "volume/set":
            percent = _whole(body["volume"], 0, COMMAND_SCALE_MAX, "volume")
            self.volume_level = min(volume_to_device(percent), self.volume_max)
            self._publish_status()
        elif family == "ambients/set":
            colour = tuple(_whole(body[c], 0, 255, c) for c in "rgb")
            if self.spec.model not in NO_AMBIENT_LIGHT:  # a Mini acks it and shows nothing
                self.ambient = colour  # type: ignore[assignment]
            self._publish_status()
        elif family == "sleep-timer/set":
            seconds = _whole(body["seconds"], 0, 24 * 3600, "seconds")
            self.sleep_remaining = float(seconds) if seconds else None
        elif family == "reboot":
            pass
        else:
            raise ValueError(f"unknown command {family}")

    def _start(self, body: dict[str, Any]) -> None:
        uri = body.get("uri")
        if not isinstance(uri, str) or not uri.startswith(CARD_URI_PREFIX):
            raise ValueError("uri must be a yoto.io card link")
        card = self._card(uri.removeprefix(CARD_URI_PREFIX))
        with self._lock:
            self._remember()
            chapter_index, track_index, position = self._where(card, body)
        if card.chapters[chapter_index].tracks[track_index].stream_url is not None:
            card = self._open_stream(card, chapter_index, track_index)
        length = card.chapters[chapter_index].tracks[track_index].length_s
        with self._lock:
            self._remember()
            self.card, self.chapter_index, self.track_index = card, chapter_index, track_index
            self.position = min(position, length) if length is not None else position
            self.playback = "playing"
            self.playback_error = None
            self._streamed = (card.card_id, chapter_index, track_index)
            self._force |= _TRACK_KEYS | _CHAPTER_KEYS

    def _where(self, card: SimCard, body: dict[str, Any]) -> tuple[int, int, float]:
        """(chapter, track, seconds in) a start begins at: a plain one (uri only) where this card was
        left off (Yoto's MQTT page: all but uri optional) or at its first open chapter, a targeted one
        where it says. A chapter not open yet (availableFrom) is refused."""
        if not {"chapterKey", "trackKey", "secondsIn"} & body.keys():
            resume = self._resume.get(card.card_id)
            if resume is not None and self._open(card, resume[0]):
                return resume
            first = self._first_open(card)
            if first is None:
                raise ValueError(f"no chapter of card {card.card_id} is open yet: {self._opens(card, 0)}")
            return first, 0, 0.0
        chapter_index, track_index = 0, 0
        if "chapterKey" in body:
            keys = card.chapter_keys
            if body["chapterKey"] not in keys:
                raise ValueError(f"card has no chapter {body['chapterKey']}")
            chapter_index = keys.index(body["chapterKey"])
        if "trackKey" in body:
            found = [
                (ci, ti)
                for ci, ch in enumerate(card.chapters)
                for ti, tr in enumerate(ch.tracks)
                if tr.key == body["trackKey"] and ("chapterKey" not in body or ci == chapter_index)
            ]
            if not found:
                raise ValueError(f"card has no track {body['trackKey']}")
            chapter_index, track_index = found[0]
        if not self._open(card, chapter_index):
            raise ValueError(self._opens(card, chapter_index))
        return chapter_index, track_index, float(_whole(body.get("secondsIn", 0), 0, None, "secondsIn"))

    def _opens(self, card: SimCard, chapter_index: int) -> str:
        chapter = card.chapters[chapter_index]
        return f"chapter {chapter.key} opens at {iso(chapter.available_from or 0)}, it is {iso(self._now())}"

    # ---------------------------------------------------------------- cards from the cloud

    def _card(self, card_id: str) -> SimCard:
        """A card of the spec's, else the cloud's playable copy read now, its Yoto-hosted audio
        downloaded (or already held). Network happens here, outside the lock."""
        card = self.cards.get(card_id)
        if card is not None:
            return card
        found = None
        if self.spec.cloud is not None:
            try:
                found = self.spec.cloud.card_for_player(card_id, self.spec.account)
            except OSError as exc:
                raise CannotPlay(f"could not read card {card_id} from Yoto: {_why(exc)}") from exc
        if found is None:
            raise ValueError(f"unknown card {CARD_URI_PREFIX}{card_id}")
        chapters = []
        content = found.get("content") or {}
        for chapter in content.get("chapters") or []:
            tracks = tuple(self._cloud_track(card_id, track) for track in chapter.get("tracks") or [])
            if not tracks:
                raise CannotPlay(f"chapter {chapter.get('key')} of card {card_id} has no tracks")
            opens = chapter.get("availableFrom")
            chapters.append(
                SimChapter(
                    str(chapter.get("key", "")),
                    str(chapter.get("title") or ""),
                    tracks,
                    available_from=instant(opens) if opens is not None else None,
                )
            )
        if not chapters:
            raise CannotPlay(f"card {card_id} has nothing to play")
        config = content.get("config") if isinstance(content.get("config"), dict) else {}
        autoadvance = config.get("autoadvance")
        return SimCard(
            card_id,
            str(found.get("title") or card_id),
            tuple(chapters),
            interactive=content.get("playbackType") == "interactive",
            autoadvance=autoadvance if isinstance(autoadvance, str) else None,
            track_nav=config.get("disableTrackNav") is not True,
        )

    def _cloud_track(self, card_id: str, track: dict[str, Any]) -> SimTrack:
        key, title, url = str(track.get("key", "")), str(track.get("title") or ""), track.get("trackUrl")
        where = f"track {key} of card {card_id}"
        events = track.get("events") if isinstance(track.get("events"), dict) else {}
        duration = track.get("duration")
        length = float(duration) if _number(duration) and duration > 0 else None
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            kind = "stream" if track.get("type") == "stream" else "media"
            raise CannotPlay(f"{where} has no {kind} URL to fetch (trackUrl {url!r})")
        if track.get("type") == "stream":
            return SimTrack(key, title, length, stream_url=url, events=events)
        media_key, data = self._download(where, url, track.get("fileSize"))
        if length is None:
            length = audio_seconds(data)
            if length is None:
                raise CannotPlay(f"{where}: the downloaded file is not audio the player can read")
        return SimTrack(key, title, length, media_key=media_key, events=events)

    def _download(self, where: str, url: str, file_size: object) -> tuple[str, bytes]:
        """A Yoto-hosted track's audio, from the cache or its signed URL, checked against the
        declared fileSize and the sha256 its URL names; cached only when it passes."""
        found = SHA256_SEGMENT.search(url.split("?", 1)[0])
        sha256 = found.group(1) if found else None
        key = sha256 or url.split("?", 1)[0]
        declared = file_size if _number(file_size) and not isinstance(file_size, float) else None
        data = self.media.get(key)
        if data is None:
            limit = declared + 1 if declared is not None else MAX_MEDIA_BYTES
            try:
                data = _fetch(url, self.spec.fetch_timeout_s, limit)[2]
            except (OSError, http.client.HTTPException) as exc:
                raise CannotPlay(f"could not download {where}: {_why(exc)}") from exc
        if declared is not None and len(data) != declared:
            raise CannotPlay(f"{where}: downloaded {len(data)} bytes, the card declares fileSize {declared}")
        if sha256 is not None and (got := hashlib.sha256(data).hexdigest()) != sha256:
            raise CannotPlay(f"{where}: the downloaded audio's sha256 is {got}, its URL names {sha256}")
        self.media[key] = data
        return key, data

    def _open_stream(self, card: SimCard, chapter_index: int, track_index: int) -> SimCard:
        """Fetch the first bytes of a stream track as it starts playing (one small Range request);
        its length from them when the card gives none. Returns the card with that length."""
        track = card.chapters[chapter_index].tracks[track_index]
        assert track.stream_url is not None
        where = f"track {track.key} of card {card.card_id}"
        wanted = f"bytes=0-{STREAM_PROBE_BYTES - 1}"
        try:
            status, headers, data = _fetch(track.stream_url, self.spec.fetch_timeout_s, STREAM_PROBE_BYTES, wanted)
        except (OSError, http.client.HTTPException) as exc:
            raise CannotPlay(f"could not stream {where}: {_why(exc)}") from exc
        if not data:
            raise CannotPlay(f"could not stream {where}: the answer was empty")
        if track.length_s is not None:
            return card
        seconds = audio_seconds(data, _total_size(status, headers))
        if seconds is None:
            raise CannotPlay(f"could not stream {where}: not audio the player can read")
        chapter = card.chapters[chapter_index]
        tracks = (*chapter.tracks[:track_index], replace(track, length_s=seconds), *chapter.tracks[track_index + 1 :])
        chapters = list(card.chapters)
        chapters[chapter_index] = replace(chapter, tracks=tracks)
        return replace(card, chapters=tuple(chapters))

    # ---------------------------------------------------------------- what we send

    def _ack(self, family: str, req_body: str, reason: str | None) -> None:
        if not self.acks:
            return
        key = self.spec.ack_keys.get(family, family.split("/", 1)[0])
        status: dict[str, Any] = {key: "FAIL" if reason else "OK", "req_body": req_body}
        if reason:
            status["reason"] = reason
        self._publish(response_topic(self.player_id), json.dumps({"status": status}).encode())

    def _event_fields(self) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "cardId": self.card.card_id if self.card else "none",
            "playbackStatus": self.playback,
            "source": "remote",
            "playbackWait": False,
            "repeatAll": self.repeat_all,
            "streaming": False,
            "volume": self.volume_level,
            "volumeMax": self.volume_max,
            "sleepTimerActive": self.sleep_remaining is not None,
            "sleepTimerSeconds": round(self.sleep_remaining) if self.sleep_remaining else 0,
        }
        if self.playback_error is not None and self.playback == "stopped":
            fields["playbackError"] = self.playback_error  # ours: why it stopped (docs/mqtt.md)
        track = self._track()
        if self.card is not None and track is not None:
            chapter = self.card.chapters[self.chapter_index]
            fields |= {
                "chapterKey": chapter.key,
                "chapterTitle": chapter.title,
                "trackKey": track.key,
                "trackTitle": track.title,
                "trackLength": round(track.length_s) if track.length_s is not None else 0,
                "position": int(min(self.position, track.length_s or self.position)),
            }
        return fields

    def _events_message(self) -> bytes | None:
        """The next events message, under the lock: what changed since the last, the keys a new track
        or chapter carries anyway, or None when nothing is due (or no one asked for events lately)."""
        now = time.monotonic()
        force, self._force = self._force, set()
        if now >= self._events_until or not self.online:
            return None
        fields = self._event_fields()
        changed = {k: v for k, v in fields.items() if k in force or self._sent_events.get(k, object()) != v}
        discrete = {k for k in changed if k not in _CONTINUOUS or k in force}
        if not discrete and (not changed or now - self._continuous_at < self.spec.position_every_s):
            return None
        self._sent_events = fields
        self._continuous_at = now
        return json.dumps({"eventUtc": int(time.time()), **changed}).encode()

    def _send_events(self, body: bytes) -> None:
        self._publish(player_topic(self.player_id, "data/events"), body)
        if self.spec.legacy_events:
            self._publish(player_topic(self.player_id, "events"), body)

    def _publish_events(self) -> None:
        with self._lock:
            body = self._events_message()
        if body is not None:
            self._send_events(body)

    def _volume_percent(self) -> int:
        """The volume on the 0-100 scale (0 under a limit of 0)."""
        return volume_from_device(self.volume_level, self.volume_max) if self.volume_max > 0 else 0

    def _status_fields(self, full: bool) -> dict[str, Any]:
        """Yoto's names and encodings: 0/1 flags, volumes as percentages (`volume`
        the player's maximum, `userVolume` the child's), `freeDisk` in KiB."""
        fields: dict[str, Any] = {
            "statusVersion": 3 if full else 1,
            "fwVersion": "v2.23.2",
            "productType": self.spec.model,
            "batteryLevel": self.battery,
            "charging": 1 if self.charging else 0,
            "headphones": 0,
            "bluetoothHp": 0,
            "activeCard": self.card.card_id if self.card else "none",
            "cardInserted": 2 if self.card else 0,
            "volume": volume_from_device(self.volume_max),
            "userVolume": self._volume_percent(),
            "freeDisk": 6_000_000,
            "day": 1 if self.day else 0,
            "nightlightMode": "0x{:02x}{:02x}{:02x}".format(*self.ambient) if any(self.ambient) else "off",
        }
        if full:
            fields |= {
                "ssid": "simulated",
                "wifiStrength": -50,
                "upTime": int(time.monotonic() - self._started),
                "totalDisk": 7_500_000,
                "battery": 3900,
                "powerSrc": 2 if self.charging else 0,
                "temp": "0:24",
            }
        return fields

    def _legacy_fields(self) -> dict[str, Any]:
        return {**self._status_fields(True), "upTime": int(time.monotonic() - self._started), "shutDown": "nA"}

    def _publish_status(self, *, full: bool = False) -> None:
        with self._lock:
            fields = self._status_fields(full)
        topic = player_topic(self.player_id, "status/full" if full else "data/status")
        self._publish(topic, json.dumps({"status": fields}).encode())
        if self.on_status is not None:
            self.on_status(self.player_id, fields)

    def _publish_legacy_status(self, shut_down: str) -> None:
        with self._lock:
            fields = {**self._legacy_fields(), "shutDown": shut_down}
        self._publish(player_topic(self.player_id, "status"), json.dumps({"status": fields}).encode())

    def _presence(self, online: bool) -> bytes:
        word = "online" if online else "offline"
        if self.spec.presence_format == "text":
            return word.encode()
        if self.spec.presence_format == "online-json":
            return json.dumps({"online": online}).encode()
        return json.dumps({"state": word, "ts": int(time.time() * 1000)}).encode()

    def _publish(self, topic: str, payload: bytes, *, retain: bool = False) -> None:
        transport = self._transport
        if transport is None or not transport.connected:
            return
        with contextlib.suppress(TransportError):  # gone offline meanwhile: a real player loses these too
            transport.publish(topic, payload, qos=1, retain=retain, timeout=None)


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _fetch(url: str, timeout: float, limit: int, byte_range: str | None = None) -> tuple[int, Any, bytes]:
    """(status, headers, at most `limit` bytes of the body) of a GET; HTTPError for 4xx/5xx."""
    request = urllib.request.Request(url, headers={"Range": byte_range} if byte_range else {})
    with _HTTP.open(request, timeout=timeout) as answer:
        return answer.status, answer.headers, answer.read(limit)


def _total_size(status: int, headers: Any) -> int | None:
    """The whole file's size: a 206's Content-Range total, a 200's Content-Length."""
    if status == 206:
        total = str(headers.get("Content-Range", "")).rpartition("/")[2]
        return int(total) if total.isdigit() else None
    length = str(headers.get("Content-Length", ""))
    return int(length) if length.isdigit() else None


def _why(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code}"
    if isinstance(exc, urllib.error.URLError) and isinstance(exc.reason, BaseException):
        exc = exc.reason
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, TimeoutError):
        return "timed out"
    return str(exc) or exc.__class__.__name__


def audio_seconds(data: bytes, total_size: int | None = None) -> float | None:
    """Seconds of audio PyAV decodes from `data`; when `data` is the first bytes of a file of
    `total_size`, scaled to the whole (a bitrate estimate). None when nothing decodes."""
    import av

    seconds = 0.0
    try:
        with av.open(io.BytesIO(data)) as source:
            if not source.streams.audio:
                return None
            for frame in source.decode(source.streams.audio[0]):
                seconds += frame.samples / frame.sample_rate
    except av.error.FFmpegError:
        pass  # a cut-off last frame: what decoded so far counts
    if seconds <= 0:
        return None
    if total_size is not None and total_size > len(data):
        seconds *= total_size / len(data)
    return seconds


def _whole(value: Any, low: int, high: int | None, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise ValueError(f"{name} must be a whole number")
    if value < low or (high is not None and value > high):
        raise ValueError(f"{name} out of range")
    return int(value)


class PlayerFleet:
    """Running simulated players and the one thread that moves their clocks."""

    def __init__(self, players: Iterable[SimulatedPlayer], *, tick_s: float) -> None:
        self.players = {p.player_id: p for p in players}
        self._tick_s = tick_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="simulated-players", daemon=True)
        self._thread.start()

    def __getitem__(self, player_id: str) -> SimulatedPlayer:
        return self.players[player_id]

    def __iter__(self) -> Iterator[SimulatedPlayer]:
        return iter(self.players.values())

    def _run(self) -> None:
        last = time.monotonic()
        while not self._stop.wait(self._tick_s):
            now = time.monotonic()
            for player in list(self.players.values()):
                player.tick(now - last)
            last = now

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for player in self.players.values():
            player.close()

    def __enter__(self) -> PlayerFleet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_players(broker: BrokerConfig, players: Iterable[PlayerSpec | str], *, tick_s: float = 0.1) -> PlayerFleet:
    """Connect one simulated player per spec (a bare string is a player id with
    defaults) and start their clock; use the fleet as a context manager."""
    started: list[SimulatedPlayer] = []
    try:
        for spec in players:
            player = SimulatedPlayer(PlayerSpec(spec) if isinstance(spec, str) else spec, broker)
            player.come_online()
            started.append(player)
    except BaseException:
        for player in started:
            player.close()
        raise
    return PlayerFleet(started, tick_s=tick_s)
