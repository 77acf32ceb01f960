"""The listener's watcher hook (`adapters.yoto.mqtt.listener.Watchers`, fed by the
`StateWriter`): each change of a player's merged state reaches every watcher as
(player, before, after) in arrival order, off the caller's thread; a message that
changes nothing reaches none; a watcher that raises is counted and the others, and
the next change, still arrive."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

from adapters.memory import MemoryRecords
from adapters.yoto.mqtt.listener import StateWriter
from core.records import utcnow
from core.yoto.messages import parse_message
from core.yoto.results import CommandResult
from services import bedtime, listener_health
from tests.waiting import eventually

PLAYER = "p-1"


def events(body: bytes) -> Any:
    return parse_message(f"device/{PLAYER}/data/events", body)


def test_changes_reach_every_watcher_in_order_off_the_writers_thread_and_a_failing_one_is_counted() -> None:
    writer = StateWriter(MemoryRecords().players, batch_s=0.01)
    seen: list[tuple[str, Any, Any, str]] = []
    done = threading.Event()

    def note(player_id: str, before: Any, after: Any) -> None:
        seen.append(
            (
                player_id,
                (before.get("events") or {}).get("trackKey"),
                after["events"].get("trackKey"),
                threading.current_thread().name,
            )
        )
        if after["events"].get("trackKey") == "03":
            done.set()

    def broken(player_id: str, before: Any, after: Any) -> None:
        raise RuntimeError("a watcher's bug")

    writer.watchers.add(broken)
    writer.watchers.add(note)
    writer.write(events(b'{"cardId": "c1", "trackKey": "01", "playbackStatus": "playing"}'))
    writer.write(events(b'{"trackKey": "02"}'))
    writer.write(events(b'{"trackKey": "02"}'))  # the same again within 2 s: a redelivery, no change
    writer.write(events(b'{"trackKey": "03"}'))
    assert done.wait(5)
    assert [(p, a, b) for p, a, b, _ in seen] == [(PLAYER, None, "01"), (PLAYER, "01", "02"), (PLAYER, "02", "03")]
    assert {t for *_, t in seen} == {"mqtt-watchers"}
    eventually(lambda: writer.watchers.counts["watcher_errors"] == 3, 5, 0.01)
    writer.close()
    writer.watchers.close()


def test_after_a_restart_the_first_event_on_another_track_pauses_a_pending_sleep() -> None:
    """The bedtime watcher on a fresh listener's writer: the state it starts from is the
    stored one, so a track that changed while no listener ran still ends the sleep."""
    records = MemoryRecords()
    stored = {"cardId": "c1", "chapterKey": "01", "trackKey": "02", "playbackStatus": "playing"}
    records.players.merge_state(PLAYER, {"events": stored, "online": True})
    listener_health.write_heartbeat(records.settings, {}, mode="always")
    pending = bedtime.Pending(PLAYER, "track", "c1", "01", "02", utcnow() + timedelta(hours=1))
    records.settings.put(bedtime.pending_key(PLAYER), pending.body())
    sent: list[tuple[str, str]] = []
    paused = threading.Event()

    def send(player_id: str, command: Any) -> CommandResult:
        sent.append((player_id, command.family))
        paused.set()
        return CommandResult("ok", elapsed_s=0.01)

    writer = StateWriter(records.players, batch_s=0.01)  # a listener just started
    writer.watchers.add(bedtime.EndOfWatcher(records.settings, send))
    writer.write(events(b'{"position": 40}'))  # still track 02: nothing
    writer.write(events(b'{"trackKey": "03", "position": 1}'))
    assert paused.wait(5)
    assert sent == [(PLAYER, "card/pause")]
    assert bedtime.read_pending(records.settings, PLAYER) is None
    writer.close()
    writer.watchers.close()
