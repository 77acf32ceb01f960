"""The kinds of record the migration copies, in the order it copies them, and
the kinds it leaves behind on purpose (with the reason, for the report).

Each copied kind says how to list every record on one side, name it, read one
by name and add one, all through the records port; comparing two copies is
field by field over the record's dataclass (`core.codec.record_fields`), so a
field added to a record is copied and verified with no change here. A new
kind of record (podcasts, routines, stories) is one more entry in `COPIED`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from core.codec import record_fields
from core.ports import Records
from core.records import Page

R = TypeVar("R")
PAGE = 200


@dataclass(frozen=True)
class Setting:
    """A settings entry as a record, so it is copied and compared like the others."""

    key: str
    value: Any


@dataclass(frozen=True)
class PlayerSnapshot:
    """A player's last-known state; `updated_at` is the store's own, so not compared."""

    player_id: str
    state: dict[str, Any]


@dataclass(frozen=True)
class RecordKind(Generic[R]):
    name: str  # plural, for the report: "audio items"
    repository: str  # the `Records` attribute it lives in
    list_all: Callable[[Records], Iterator[R]]
    key: Callable[[R], str]
    get: Callable[[Records, str], R]  # NotFound when absent
    add: Callable[[Records, R], None]  # AlreadyExists when present


def pages(fetch: Callable[[str | None], Page[R]]) -> Iterator[R]:
    """Every record of a newest-first listing, page after page."""
    cursor: str | None = None
    while True:
        page = fetch(cursor)
        yield from page.items
        cursor = page.next_cursor
        if cursor is None:
            return


def differing_fields(a: Any, b: Any) -> list[str]:
    """The names of the fields whose values differ between two records of one type."""
    return [f.name for f in record_fields(type(a)) if getattr(a, f.name) != getattr(b, f.name)]


def _settings(records: Records) -> Iterator[Setting]:
    for key in records.settings.list_keys():
        yield Setting(key, records.settings.get(key))


def _players(records: Records) -> Iterator[PlayerSnapshot]:
    for state in records.players.list_states():
        yield PlayerSnapshot(state.player_id, state.state)


def _player(records: Records, player_id: str) -> PlayerSnapshot:
    return PlayerSnapshot(player_id, records.players.get_state(player_id).state)


AUDIO: RecordKind[Any] = RecordKind(
    "audio items",
    "audio",
    lambda r: pages(lambda c: r.audio.list(limit=PAGE, cursor=c)),
    lambda a: a.id,
    lambda r, k: r.audio.get(k),
    lambda r, a: r.audio.add(a),
)

# After the audio they point at; cards after the playlists they follow.
COPIED: tuple[RecordKind[Any], ...] = (
    AUDIO,
    RecordKind(
        "playlists",
        "playlists",
        lambda r: pages(lambda c: r.playlists.list(limit=PAGE, cursor=c)),
        lambda p: p.id,
        lambda r, k: r.playlists.get(k),
        lambda r, p: r.playlists.add(p),
    ),
    RecordKind(
        "cards",
        "cards",
        lambda r: pages(lambda c: r.cards.list(limit=PAGE, cursor=c)),
        lambda c: c.id,
        lambda r, k: r.cards.get(k),
        lambda r, c: r.cards.add(c),
    ),
    *(
        RecordKind(
            label,
            attr,
            lambda r, attr=attr: pages(lambda c: getattr(r, attr).list(limit=PAGE, cursor=c)),
            lambda x: x.id,
            lambda r, k, attr=attr: getattr(r, attr).get(k),
            lambda r, x, attr=attr: getattr(r, attr).add(x),
        )
        # Podcasts, routines and stories after the cards they write; the scheduled
        # jobs with them, so they keep running on the new side.
        for label, attr in (
            ("podcasts", "podcasts"),
            ("routines", "routines"),
            ("stories", "stories"),
            ("scheduled jobs", "jobs"),
        )
    ),
    RecordKind(
        "Yoto tokens",
        "tokens",
        lambda r: (r.tokens.get(a) for a in r.tokens.list_accounts()),
        lambda t: t.account,
        lambda r, k: r.tokens.get(k),
        lambda r, t: r.tokens.create(t),
    ),
    RecordKind(
        "settings",
        "settings",
        _settings,
        lambda s: s.key,
        lambda r, k: Setting(k, r.settings.get(k)),
        lambda r, s: r.settings.put(s.key, s.value),
    ),
    RecordKind(
        "player states",
        "players",
        _players,
        lambda p: p.player_id,
        _player,
        lambda r, p: r.players.merge_state(p.player_id, p.state),
    ),
)

# What stays behind, by `Records` attribute, and why (printed by `--dry-run`; docs/migration.md).
NOT_COPIED: dict[str, str] = {
    "runs": "the log of past podcast refreshes and routine runs: history, not state",
    "sessions": "signed with the side's own secret; everyone signs in again on the new side",
    "counters": "login throttling and quota windows of minutes and days, meaningless elsewhere",
    "uploads": "upload forms live at most minutes, and their staged objects are swept",
    "players": "player events (the states are copied): a history that expires within days",
    "fallbacks": "migration records are made by the migration itself, on the target",
}
