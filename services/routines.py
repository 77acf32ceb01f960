"""Routines per player: command steps at a clock time on chosen days, or on demand.

A step is exactly a body of `POST /api/players/{id}/commands` (`{"action":
"volume", "volume": 30}`), checked when the routine is saved by building the
MQTT command it stands for (`core.yoto.payloads`), so a routine cannot hold a step
the player endpoint would refuse. `next`/`previous` depend on what is playing
at that moment and are refused in routines.

Two steps are more than one command (`services.bedtime`): `light_ramp` fades
the night light over its minutes within the run (one change per 30 s at most),
and `sleep_timer` with `at_end_of` leaves a sleep for the listener to carry out.

A run sends the steps in order, each waiting for the player's acknowledgement
(bounded). A step the player refuses is recorded and the next one runs; a
player that does not answer, is known to be offline or cannot be reached ends
the run there (the rest are `skipped`), and so does the per-player budget of
commands a minute. Caps: routines per member, steps per routine. Runs go to
the run queue (the scheduler's workers); the `Run` record says how it went.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from core.errors import Conflict, Invalid, NotFound, UpstreamError, UpstreamTimeout
from core.ports import CounterRepository, JobRepository, RoutineRepository, RunQueue, RunRepository
from core.records import Job, Page, Routine, Run, User, new_id, utcnow
from core.usernames import name_of
from core.yoto.payloads import Command, padded_key
from services import access, bedtime, jobs, player_commands, players
from services.library import paged
from services.schedule_times import check_days, parse_clock

STEPS_MAX = 20
PLAYING_WAIT_S = 8.0  # how long a sleep at the end waits for the player to say what it plays
# What a step may not be: these depend on what is playing at that moment.
LIVE_ONLY = ("next", "previous")


class UserLookup(Protocol):
    """Users by member id (`services.members.MemberLookup`): a routine runs with its owner's rights."""

    def get_user(self, owner: str) -> User: ...


@dataclass(frozen=True)
class RoutineRules:
    per_member: int = 25  # ROUTINES_PER_MEMBER
    commands_per_minute: int = 30  # PLAYER_COMMANDS_PER_MINUTE, per player


@dataclass(frozen=True)
class RoutinePorts:
    routines: RoutineRepository
    jobs: JobRepository
    runs: RunRepository
    # the steps go out as the player commands route sends them (`services.player_commands.send_step`)
    commands: player_commands.Commands
    tz: ZoneInfo
    counters: CounterRepository
    queue: RunQueue
    users: UserLookup
    rules: RoutineRules = RoutineRules()
    config: bedtime.ConfigReader | None = None  # the players' config (a light ramp ends on its colour)
    timing: bedtime.Timing = field(default_factory=bedtime.Timing)


# --------------------------------------------------------------------------- steps


def _no_chapters(card_id: str) -> list[str]:
    raise Invalid("a routine cannot skip chapters")


def command_of(step: Mapping[str, Any]) -> Command:
    """The MQTT command a step stands for, built exactly as the player commands
    route builds it (`services.player_commands.build`); `Invalid` with the reason otherwise."""
    if not isinstance(step, Mapping) or not isinstance(step.get("action"), str):
        raise Invalid("a step is a command body with an action")
    action = step["action"]
    if action in LIVE_ONLY:
        raise Invalid(f"{action} depends on what is playing at that moment; a routine cannot hold it")
    fields = {k: v for k, v in step.items() if k != "action"}
    return player_commands.build(action, fields, player={}, chapters=_no_chapters)


def _end_of(step: Mapping[str, Any]) -> str | None:
    return bedtime.end_of(step) if step.get("action") == "sleep_timer" else None


def check_step(step: Mapping[str, Any]) -> None:
    """`Invalid` with the reason for a step the routine cannot hold."""
    if isinstance(step, Mapping) and step.get("action") == "light_ramp":
        bedtime.ramp_of(step)
    elif not isinstance(step, Mapping) or _end_of(step) is None:
        command_of(step)


def check_steps(steps: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    if not 1 <= len(steps) <= STEPS_MAX:
        raise Invalid(f"a routine has 1 to {STEPS_MAX} steps")
    for n, step in enumerate(steps, start=1):
        try:
            check_step(step)
        except Invalid as exc:
            raise Invalid(f"step {n}: {exc}") from None
    bedtime.check_ramps(steps)
    return [dict(s) for s in steps]


# --------------------------------------------------------------------------- templates


@dataclass(frozen=True)
class Template:
    name: str
    description: str
    needs_card: bool

    def steps(self, card_id: str | None) -> list[dict[str, Any]]:
        if self.name == "bedtime":
            if not card_id:
                raise Invalid("the bedtime template needs card_id: the card to play")
            return [
                {"action": "ambient", "hex": "#401a00"},  # a dim, warm night-light
                {"action": "volume", "volume": 30},
                {"action": "play", "card_id": card_id},
                {"action": "sleep_timer", "minutes": 30},
            ]
        return [{"action": "stop"}, {"action": "ambient", "hex": "#000000"}]


TEMPLATES = {
    "bedtime": Template("bedtime", "dim warm light, volume 30 %, a chosen card, sleep timer 30 min", True),
    "quiet_time": Template("quiet_time", "stop playing and turn the night-light off", False),
}


# --------------------------------------------------------------------------- use cases


def _check_when(at: str, days: Sequence[str]) -> tuple[str, tuple[str, ...]]:
    try:
        parse_clock(at)
        return at, check_days(days)
    except ValueError as exc:
        raise Invalid(str(exc)) from None


def _job(routine: Routine) -> Job:
    return Job(
        id=routine.id, owner=routine.owner, kind="routine", at=routine.at, days=routine.days, enabled=routine.enabled
    )


def get(ports: RoutinePorts, routine_id: str) -> Routine:
    return access.found(ports.routines.get, "routine", routine_id)


def visible(ports: RoutinePorts, who: User, routine: Routine) -> bool:
    """Routines are the family's, but one aimed at a player kept for one member
    ("mine only") is seen by its own owner, that member and admins only."""
    return (
        who.is_admin
        or routine.owner == who.owner_id
        or players.may_use(ports.commands.players.settings, who, routine.player_id)
    )


def shown(ports: RoutinePorts, who: User, routine_id: str) -> Routine:
    """The routine as `who` may see it; one they may not reads as missing."""
    routine = get(ports, routine_id)
    if not visible(ports, who, routine):
        raise NotFound(f"no routine {routine_id}")
    return routine


def list_routines(ports: RoutinePorts, who: User, *, mine: bool, limit: int, cursor: str | None) -> Page[Routine]:
    """Newest first: the family's (`mine`: the caller's), those `who` may see."""
    page = paged(lambda: ports.routines.list(owner=who.owner_id if mine else None, limit=limit, cursor=cursor))
    return Page([r for r in page.items if visible(ports, who, r)], page.next_cursor)


def _may_change(user: User, routine: Routine) -> None:
    access.may_change(user, routine.owner, "routine")


def _name(name: str) -> str:
    name = " ".join(name.split())
    if not name:
        raise Invalid("name is empty")
    return name[:100]


def _owned(ports: RoutinePorts, owner: str) -> int:
    count, cursor = 0, None
    while True:
        page = ports.routines.list(owner=owner, limit=200, cursor=cursor)
        count += len(page.items)
        if page.next_cursor is None:
            return count
        cursor = page.next_cursor


def _over_cap(ports: RoutinePorts) -> Conflict:
    cap = ports.rules.per_member
    return Conflict(
        f"a member may have at most {cap} routines (ROUTINES_PER_MEMBER); delete one to make another",
        limit=cap,
    )


def create(
    ports: RoutinePorts,
    user: User,
    *,
    name: str,
    player_id: str,
    at: str,
    days: Sequence[str],
    steps: Sequence[Mapping[str, Any]],
    enabled: bool = True,
) -> Routine:
    """A new routine of the caller's; `Conflict` naming the cap past ROUTINES_PER_MEMBER."""
    at, week = _check_when(at, days)
    if _owned(ports, user.owner_id) >= ports.rules.per_member:
        raise _over_cap(ports)
    now = utcnow()
    routine = Routine(
        id=new_id(),
        owner=user.owner_id,
        name=_name(name),
        player_id=player_id,
        at=at,
        days=week,
        steps=check_steps(steps),
        enabled=enabled,
        created_at=now,
        updated_at=now,
    )
    ports.routines.add(routine)
    try:
        if _owned(ports, user.owner_id) > ports.rules.per_member:  # another request got in meanwhile
            raise _over_cap(ports)
        jobs.put_job(ports.jobs, _job(routine), ports.tz)
    except BaseException:
        ports.routines.delete(routine.id)
        raise
    return routine


def replace_routine(
    ports: RoutinePorts,
    user: User,
    routine_id: str,
    *,
    name: str,
    player_id: str,
    at: str,
    days: Sequence[str],
    steps: Sequence[Mapping[str, Any]],
    enabled: bool = True,
) -> Routine:
    current = shown(ports, user, routine_id)
    _may_change(user, current)
    at, week = _check_when(at, days)
    changed = replace(
        current, name=_name(name), player_id=player_id, at=at, days=week, steps=check_steps(steps), enabled=enabled
    )
    saved = ports.routines.save(changed, expected_version=current.version)
    jobs.put_job(ports.jobs, _job(saved), ports.tz)
    return saved


def delete(ports: RoutinePorts, user: User, routine_id: str) -> None:
    routine = shown(ports, user, routine_id)
    _may_change(user, routine)
    jobs.drop_job(ports.jobs, routine.id)
    ports.routines.delete(routine.id)
    for run in ports.runs.recent(routine.id, limit=jobs.RUNS_KEPT + 20):
        with contextlib.suppress(NotFound):
            ports.runs.delete(run.id)


def next_run_at(ports: RoutinePorts, routine_id: str) -> Any:
    try:
        return ports.jobs.get(routine_id).next_run_at
    except NotFound:
        return None


def run_now(ports: RoutinePorts, user: User, routine_id: str) -> tuple[Run, bool]:
    """(the run, queued): handed to the run queue, or (no queue) run here and done.
    `Conflict` while the routine already has a run waiting or running; the
    queue's `RateLimited` past the member's cap of jobs."""
    routine = shown(ports, user, routine_id)
    _may_change(user, routine)
    busy = jobs.active_run(ports.runs, routine.id)
    if busy is not None:
        raise Conflict(f"this routine is {busy.status} already (run {busy.id}); wait for it to end", run_id=busy.id)
    run = jobs.new_run("routine", routine.id, routine.owner, "manual")
    if jobs.start(ports.runs, ports.queue, run):
        return run, True
    return jobs.execute(ports.runs, {"routine": lambda r: run_steps(ports, r)}, run.id), False


def _result(n: int, action: str, outcome: str, reason: str | None, via: str, elapsed_ms: int) -> dict[str, object]:
    return {"step": n, "action": action, "outcome": outcome, "reason": reason, "via": via, "elapsed_ms": elapsed_ms}


def _ramp(ports: RoutinePorts, who: User, player_id: str, step: Mapping[str, Any]) -> bedtime.RampResult:
    def send(command: Command) -> str:
        if not _within_budget(ports, player_id):
            cap = ports.rules.commands_per_minute
            raise Conflict(f"over {cap} commands a minute to this player (PLAYER_COMMANDS_PER_MINUTE)")
        return player_commands.send_step(ports.commands, who, player_id, "ambient", command).via

    ramp_ports = bedtime.RampPorts(ports.commands.players, ports.config, ports.tz, ports.timing)
    return bedtime.run_ramp(ramp_ports, who, player_id, bedtime.ramp_of(step), send)


def _started(step: Mapping[str, Any], at: datetime) -> bedtime.Expected:
    """What a play step starts, as the player's events will name it."""
    chapter, track = step.get("chapter"), step.get("track")
    return bedtime.Expected(
        str(step.get("card_id")),
        padded_key(chapter) if isinstance(chapter, int) else None,
        padded_key(track) if isinstance(track, int) else None,
        at,
    )


def _sleep_at_end(
    ports: RoutinePorts, who: User, player_id: str, at_end_of: str, playing: bedtime.Expected | None
) -> player_commands.Sent:
    """After a play step the player's events take a moment: wait (bounded) until it says it plays that."""
    timing = ports.timing
    deadline = timing.clock() + PLAYING_WAIT_S
    while True:
        try:
            return player_commands.sleep_at_end(ports.commands, who, player_id, at_end_of, playing)
        except Conflict as exc:
            if exc.extra.get("playing") is not False or timing.clock() >= deadline:
                raise
        timing.sleep(0.25)


def _within_budget(ports: RoutinePorts, player_id: str) -> bool:
    """One more command to this player this minute (a fixed window shared by every routine and worker)."""
    return ports.counters.add(f"routine-commands:{player_id}", 1, ttl_s=60) <= ports.rules.commands_per_minute


def _owner(ports: RoutinePorts, owner: str) -> User:
    """The routine's owner, whose rights its steps go out with (a player kept for
    another member is unknown to them); one who has gone has a member's rights at most."""
    try:
        return ports.users.get_user(owner)
    except NotFound:
        return User(username=name_of(owner), id=owner)


def serial_key(routines: RoutineRepository, run: Run) -> str:
    """What runs one at a time: a routine's player (two routines never interleave
    their steps on one player), else the run's subject (a podcast)."""
    if run.kind == "routine":
        try:
            return "player:" + routines.get(run.subject_id).player_id
        except NotFound:
            pass
    return run.subject_id


def run_steps(ports: RoutinePorts, run: Run) -> jobs.Outcome:
    """The job handler: the steps in order, each awaited. A refused step is recorded
    and the next one runs; silence, an offline or unreachable player, or the
    player's command budget end the run there (the rest are `skipped`)."""
    routine = get(ports, run.subject_id)
    who = _owner(ports, routine.owner)
    results: list[dict[str, object]] = []
    stopped: str | None = None  # why the run stopped, once it has
    playing: bedtime.Expected | None = None  # what the last play step started
    for n, step in enumerate(routine.steps, start=1):
        action = step["action"]
        if stopped is None and not _within_budget(ports, routine.player_id):
            cap = ports.rules.commands_per_minute
            stopped = f"stopped at step {n}: over {cap} commands a minute to this player (PLAYER_COMMANDS_PER_MINUTE)"
        if stopped is not None:
            results.append(_result(n, action, "skipped", f"not sent: {stopped}", "none", 0))
            continue
        started = utcnow()
        outcome, reason, via = "ok", None, "none"
        extra: dict[str, object] = {}
        try:
            if action == "light_ramp":
                ramp = _ramp(ports, who, routine.player_id, step)
                outcome, reason, via = ramp.outcome, ramp.reason, ramp.via
                extra = {"sent": len(ramp.sent), "ended_on": ramp.ended_on}
                if ramp.stop:
                    stopped = f"stopped at step {n}: {reason}"
            elif (at_end_of := _end_of(step)) is not None:
                via = _sleep_at_end(ports, who, routine.player_id, at_end_of, playing).via
            else:
                if action == "play":
                    playing = _started(step, started)
                via = player_commands.send_step(ports.commands, who, routine.player_id, action, command_of(step)).via
        except Conflict as exc:
            outcome, reason = "failed", str(exc)
            if exc.extra.get("available") is not False and exc.extra.get("playing") is not False:
                stopped = f"stopped at step {n}: {reason}"  # offline: the rest cannot reach it either
        except UpstreamError as exc:
            via = str(exc.extra.get("via", "none"))
            outcome, reason = ("timeout" if isinstance(exc, UpstreamTimeout) else "failed"), str(exc)
            if exc.extra.get("outcome") == "failed":  # the player said no: the next step may still work
                reason = str(exc.extra.get("reason") or exc)
            else:
                stopped = f"stopped at step {n}: {reason}"
        except Exception as exc:  # offline (Conflict), not found, link or broker gone, or a bug
            outcome, reason = "failed", str(exc) or type(exc).__name__
            stopped = f"stopped at step {n}: {reason}"
        elapsed = round((utcnow() - started).total_seconds() * 1000)
        results.append({**_result(n, action, outcome, reason, via, elapsed), **extra})
    good = sum(1 for r in results if r["outcome"] == "ok")
    status = "ok" if good == len(results) else ("partial" if good else "failed")
    detail = None if status == "ok" else f"{len(results) - good} of {len(results)} step(s) did not succeed"
    if stopped is not None:
        detail = f"{detail}; {stopped}"
    return jobs.Outcome(status, detail, results)
