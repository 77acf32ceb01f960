"""One migration run: survey, copy, verify (and, when asked, repair).

The source is only ever read. Every write to the target is one atomic step
through a port (an object, then the record that names it; a migration record,
then the user it belongs to), and before each one the run looks at what the
target already holds, so a run killed at any point (SIGKILL included) is
finished by the next one without duplicates, and a run with nothing left to do
copies nothing and changes nothing ("0 copied, N already there").

Verification reads both sides again at the end: every source record must be
on the target with the same fields (users: admin flag and disabled state), and
every audio object must have the same SHA-256 on both sides. Records the
target has beyond the source are counted, not failed (the family may already
use the new side). Differences are listed by key; with `repair`, objects that
differ or are missing are copied again, checked again and named as repaired.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from core.errors import AlreadyExists, NotFound
from core.ports import AudioStorage, Identity, Records, SecretHasher
from core.records import AudioItem, ObjectInfo, User
from services.migration import accounts, objects
from services.migration.kinds import AUDIO, COPIED, NOT_COPIED, RecordKind, differing_fields

Direction = Literal["to-aws", "to-local"]
USERS = "users"
OBJECTS = "audio objects"


class Progress(Protocol):
    """Where a run reports as it goes (a progress bar on a terminal, plain lines otherwise)."""

    def begin(self, phase: str, *, items: int, total_bytes: int) -> None: ...

    def advance(self, *, items: int = 1, done_bytes: int = 0) -> None: ...

    def say(self, line: str) -> None: ...

    def end(self) -> None: ...


class Silent:
    def begin(self, phase: str, *, items: int, total_bytes: int) -> None:
        pass

    def advance(self, *, items: int = 1, done_bytes: int = 0) -> None:
        pass

    def say(self, line: str) -> None:
        pass

    def end(self) -> None:
        pass


@dataclass(frozen=True)
class Side:
    """One side of the move, as its ports."""

    records: Records
    storage: AudioStorage
    identity: Identity
    label: str


@dataclass(frozen=True)
class Options:
    direction: Direction
    dry_run: bool = False
    repair: bool = False
    fallback_days: int = 90


@dataclass
class Tally:
    """What happened to one kind of record in this run."""

    copied: int = 0
    there: int = 0
    copied_bytes: int = 0
    pending_bytes: int = 0  # a dry run: what would be copied

    def line(self, name: str, dry_run: bool) -> str:
        size = f" ({human_bytes(self.pending_bytes if dry_run else self.copied_bytes)})" if name == OBJECTS else ""
        verb = "to copy" if dry_run else "copied"
        return f"{name}: {self.copied} {verb}{size}, {self.there} already there"


@dataclass(frozen=True)
class Check:
    """One line of the verification: how many source records were found equal on the target."""

    name: str
    source: int
    matching: int
    target_only: int

    @property
    def ok(self) -> bool:
        return self.matching == self.source


@dataclass
class Report:
    direction: Direction
    dry_run: bool
    tallies: dict[str, Tally] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)
    differences: list[str] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)
    aligned: list[str] = field(default_factory=list)
    reset_codes: dict[str, str] = field(default_factory=dict)
    total_bytes: int = 0

    def tally(self, name: str) -> Tally:
        return self.tallies.setdefault(name, Tally())

    @property
    def copied(self) -> int:
        return sum(t.copied for t in self.tallies.values())

    @property
    def there(self) -> int:
        return sum(t.there for t in self.tallies.values())

    @property
    def ok(self) -> bool:
        return not self.differences

    def summary(self) -> list[str]:
        lines = [t.line(name, self.dry_run) for name, t in self.tallies.items()]
        verb = "to copy" if self.dry_run else "copied"
        lines.append(f"in all: {self.copied} {verb}, {self.there} already there")
        for check in self.checks:
            extra = f", {check.target_only} only on the target" if check.target_only else ""
            mark = "ok" if check.ok else "DIFFERS"
            lines.append(f"verified {check.name}: {check.matching} of {check.source} match{extra} [{mark}]")
        lines += [f"repaired: {r}" for r in self.repaired]
        lines += [f"brought in line with the source: {a}" for a in self.aligned]
        lines += [f"difference: {d}" for d in self.differences]
        return lines


def human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


# --------------------------------------------------------------------------- survey


@dataclass
class _Survey:
    users: list[User]
    target_users: dict[str, User]
    records: dict[str, list[Any]]
    present: dict[str, dict[str, Any]]  # kind -> key -> the target's copy (absent: not there)
    infos: dict[str, ObjectInfo]  # audio item id -> its source object


def _present(kind: RecordKind[Any], target: Records, key: str) -> Any | None:
    try:
        return kind.get(target, key)
    except NotFound:
        return None


def _survey(source: Side, target: Side | None, report: Report) -> _Survey:
    people = source.identity.list_users()
    target_users = {u.username: u for u in target.identity.list_users()} if target else {}
    records: dict[str, list[Any]] = {}
    present: dict[str, dict[str, Any]] = {}
    for kind in COPIED:
        records[kind.name] = list(kind.list_all(source.records))
        present[kind.name] = {}
        if target is not None:
            for record in records[kind.name]:
                found = _present(kind, target.records, kind.key(record))
                if found is not None:
                    present[kind.name][kind.key(record)] = found
    infos: dict[str, ObjectInfo] = {}
    for item in records[AUDIO.name]:
        try:
            infos[item.id] = source.storage.head(item.storage_key)
        except NotFound:
            report.differences.append(f"audio item {item.id}: its object {item.storage_key} is missing on the source")
    return _Survey(people, target_users, records, present, infos)


# --------------------------------------------------------------------------- the run


def migrate(
    source: Side,
    target: Side | None,
    hasher: SecretHasher | None,
    options: Options,
    *,
    progress: Progress | None = None,
    on_reset_code: Callable[[str, str], None] | None = None,
) -> Report:
    """Copy everything `COPIED` names (and the users) from `source` to `target`, then verify.

    `target` may be None for a dry run onto a side that does not exist yet (an
    empty target). `on_reset_code(username, code)` is called the moment a code
    exists (to-local): show it at once, it is not stored anywhere readable."""
    shown = progress or Silent()
    report = Report(options.direction, options.dry_run)
    survey = _survey(source, target, report)
    _plan(survey, report)
    if options.dry_run:
        for name, reason in NOT_COPIED.items():
            shown.say(f"not copied: {name} ({reason})")
        return report
    if target is None or hasher is None:
        raise ValueError("a migration that is not a dry run needs a target and a hasher")
    report.tallies = {}

    def tell(username: str, code: str) -> None:
        report.reset_codes[username] = code
        if on_reset_code is not None:
            on_reset_code(username, code)

    todo_items = len(survey.users) + sum(len(v) for v in survey.records.values()) + len(survey.infos)
    todo_bytes = sum(i.size for i in survey.infos.values())
    shown.begin("copy", items=todo_items, total_bytes=todo_bytes)
    users_target = accounts.UserTarget(target.identity, target.records.sessions, target.records.fallbacks, hasher)
    _copy_users(source, users_target, survey, options, report, shown, tell)
    _copy_records(source, target, survey, report, shown)
    shown.end()
    _verify(source, target, users_target, options, report, shown)
    return report


def _plan(survey: _Survey, report: Report) -> None:
    """The counts a dry run shows (and the totals a real run starts from)."""
    users = report.tally(USERS)
    for user in survey.users:
        if user.username in survey.target_users:
            users.there += 1
        else:
            users.copied += 1
    for kind in COPIED:
        tally = report.tally(kind.name)
        for record in survey.records[kind.name]:
            if kind.key(record) in survey.present[kind.name]:
                tally.there += 1
            else:
                tally.copied += 1
    objects_tally = report.tally(OBJECTS)
    for item_id, info in survey.infos.items():
        report.total_bytes += info.size
        if item_id in survey.present[AUDIO.name]:
            objects_tally.there += 1
        else:
            objects_tally.copied += 1
            objects_tally.pending_bytes += info.size


def _copy_users(
    source: Side,
    target: accounts.UserTarget,
    survey: _Survey,
    options: Options,
    report: Report,
    shown: Progress,
    tell: Callable[[str, str], None],
) -> None:
    tally = report.tally(USERS)
    for user in accounts.in_copy_order(survey.users):
        there = survey.target_users.get(user.username)
        if there is None:
            try:
                accounts.create(
                    source.identity, target, user, options.direction, days=options.fallback_days, on_reset_code=tell
                )
                tally.copied += 1
            except AlreadyExists:
                tally.there += 1
        else:
            tally.there += 1
            if not accounts.same_flags(user, there) and accounts.migration_owned(
                target, user.username, options.direction
            ):
                accounts.align(target, user)
                report.aligned.append(f"user {user.username} ({accounts.flag_text(user)})")
        shown.advance()


def _copy_records(source: Side, target: Side, survey: _Survey, report: Report, shown: Progress) -> None:
    objects_tally = report.tally(OBJECTS)
    for kind in COPIED:
        tally = report.tally(kind.name)
        for record in survey.records[kind.name]:
            key = kind.key(record)
            if key in survey.present[kind.name]:
                tally.there += 1
                if kind is AUDIO and key in survey.infos:
                    objects_tally.there += 1
                    shown.advance(items=2)
                else:
                    shown.advance()
                continue
            if kind is AUDIO:
                info = survey.infos.get(key)
                if info is None:
                    shown.advance()
                    continue  # its object is missing on the source: listed as a difference, not copied
                written = _object_onto(source.storage, target.storage, record, info)
                objects_tally.copied += 1
                objects_tally.copied_bytes += written
                shown.advance(done_bytes=info.size)
            try:
                kind.add(target.records, record)
                tally.copied += 1
            except AlreadyExists:
                tally.there += 1
            shown.advance()


def _object_onto(source: AudioStorage, target: AudioStorage, item: AudioItem, info: ObjectInfo) -> int:
    """Copy an item's object unless the target already holds one of the same size
    (a run killed after the object but before its record); returns the bytes written."""
    try:
        if target.head(item.storage_key).size == info.size:
            return 0
    except NotFound:
        pass
    return objects.copy(source, target, item.storage_key, info)


# --------------------------------------------------------------------------- verification


def _verify(
    source: Side, target: Side, users: accounts.UserTarget, options: Options, report: Report, shown: Progress
) -> None:
    source_users = source.identity.list_users()
    target_users = {u.username: u for u in target.identity.list_users()}
    records = {kind.name: list(kind.list_all(source.records)) for kind in COPIED}
    items: list[AudioItem] = records[AUDIO.name]
    total = len(source_users) + sum(len(v) for v in records.values()) + len(items)
    shown.begin("verify", items=total, total_bytes=2 * sum(i.size_bytes for i in items))

    matching = 0
    for user in source_users:
        there = target_users.get(user.username)
        if there is None:
            report.differences.append(f"user {user.username}: missing on the target")
        elif not accounts.same_flags(user, there):
            report.differences.append(
                f"user {user.username}: {accounts.flag_text(there)} on the target, {accounts.flag_text(user)} here"
            )
        else:
            matching += 1
        shown.advance()
    extra_users = len(set(target_users) - {u.username for u in source_users})
    report.checks.append(Check(USERS, len(source_users), matching, extra_users))

    for kind in COPIED:
        matching = 0
        keys = set()
        for record in records[kind.name]:
            key = kind.key(record)
            keys.add(key)
            found = _present(kind, target.records, key)
            if found is None:
                report.differences.append(f"{kind.name} {key}: missing on the target")
            elif found != record:
                fields = ", ".join(differing_fields(record, found)) or "value"
                report.differences.append(f"{kind.name} {key}: differs on the target ({fields})")
            else:
                matching += 1
            shown.advance()
        target_only = sum(1 for r in kind.list_all(target.records) if kind.key(r) not in keys)
        report.checks.append(Check(kind.name, len(records[kind.name]), matching, target_only))

    matching = 0
    for item in items:
        key = item.storage_key
        try:
            want = objects.sha256(source.storage, key)
        except NotFound:
            shown.advance()
            continue  # reported by the survey
        got = _target_digest(target.storage, key)
        if got != want and options.repair:
            info = source.storage.head(key)
            objects.copy(source.storage, target.storage, key, info)
            got = _target_digest(target.storage, key)
            if got == want:
                report.repaired.append(f"audio object {key} (copied again, SHA-256 now matches)")
        if got == want:
            matching += 1
        elif got is None:
            report.differences.append(f"audio object {key}: missing on the target")
        else:
            report.differences.append(f"audio object {key}: SHA-256 differs (source {want[:12]}…, target {got[:12]}…)")
        shown.advance(done_bytes=2 * item.size_bytes)
    report.checks.append(Check(OBJECTS, len(items), matching, 0))
    shown.end()


def _target_digest(storage: AudioStorage, key: str) -> str | None:
    try:
        return objects.sha256(storage, key)
    except NotFound:
        return None
