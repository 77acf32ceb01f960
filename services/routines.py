"""Routines per player: command steps at a clock time on chosen days, or on demand.

A step is exactly a body of `POST /api/players/{id}/commands` (`{"action":
"volume", "volume": 30}`), checked when the routine is saved by building the
MQTT command it stands for (`mqtt.payloads`), so a routine cannot hold a step
the player endpoint would refuse. `next`/`previous` depend on what is playing
at that moment and are refused in routines.

A run sends the steps in order, each waiting for the player's acknowledgement
(bounded); a step that fails or times out is recorded and the next one still
runs. The run (`Run` record, status ok / partial / failed, one result per
step) is kept with the routine's last runs. No always-on listener is needed:
the sender (`mqtt.sender.MqttSender`, as for the player commands route) uses
the in-process listener's connection when it has the player, else a
short-lived one, as the linked account the player belongs to.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from core.errors import Forbidden, Invalid, NotFound
from core.ports import JobRepository, RoutineRepository, RunRepository
from core.records import Job, Routine, Run, User, new_id, utcnow
from mqtt.payloads import Command
from services import jobs, player_commands
from services.schedule_times import check_days, parse_clock

STEPS_MAX = 20
# What a step may not be: these depend on what is playing at that moment.
LIVE_ONLY = ("next", "previous")


class StepSender(Protocol):
    """Publishes one command to a player, as the linked account that has it, and
    waits for its answer: (outcome "ok" | "failed" | "timeout", reason, how:
    "listener" | "short-lived")."""

    def send(self, player_id: str, command: Command) -> tuple[str, str | None, str]: ...


@dataclass(frozen=True)
class RoutinePorts:
    routines: RoutineRepository
    jobs: JobRepository
    runs: RunRepository
    sender: StepSender
    tz: ZoneInfo


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


def check_steps(steps: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    if not 1 <= len(steps) <= STEPS_MAX:
        raise Invalid(f"a routine has 1 to {STEPS_MAX} steps")
    for n, step in enumerate(steps, start=1):
        try:
            command_of(step)
        except Invalid as exc:
            raise Invalid(f"step {n}: {exc}") from None
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
    try:
        return ports.routines.get(routine_id)
    except NotFound:
        raise NotFound(f"no routine {routine_id}") from None


def _may_change(user: User, routine: Routine) -> None:
    if routine.owner != user.username and not user.is_admin:
        raise Forbidden("only the owner or an admin may change this routine")


def _name(name: str) -> str:
    name = " ".join(name.split())
    if not name:
        raise Invalid("name is empty")
    return name[:100]


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
    at, week = _check_when(at, days)
    now = utcnow()
    routine = Routine(
        id=new_id(),
        owner=user.username,
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
    current = get(ports, routine_id)
    _may_change(user, current)
    at, week = _check_when(at, days)
    changed = replace(
        current, name=_name(name), player_id=player_id, at=at, days=week, steps=check_steps(steps), enabled=enabled
    )
    saved = ports.routines.save(changed, expected_version=current.version)
    jobs.put_job(ports.jobs, _job(saved), ports.tz)
    return saved


def delete(ports: RoutinePorts, user: User, routine_id: str) -> None:
    routine = get(ports, routine_id)
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


def run_now(ports: RoutinePorts, user: User, routine_id: str) -> Run:
    routine = get(ports, routine_id)
    _may_change(user, routine)
    run = jobs.new_run("routine", routine.id, routine.owner, "manual")
    ports.runs.add(run)
    return jobs.execute(ports.runs, {"routine": lambda r: run_steps(ports, r)}, run.id)


def run_steps(ports: RoutinePorts, run: Run) -> jobs.Outcome:
    """The job handler: every step in order, each awaited; failures recorded, never stopping the rest."""
    routine = get(ports, run.subject_id)
    results: list[dict[str, object]] = []
    for n, step in enumerate(routine.steps, start=1):
        started = utcnow()
        try:
            outcome, reason, via = ports.sender.send(routine.player_id, command_of(step))
        except Exception as exc:  # an unreachable broker fails this step, not the routine
            outcome, reason, via = "failed", str(exc) or type(exc).__name__, "none"
        elapsed = round((utcnow() - started).total_seconds() * 1000)
        results.append(
            {
                "step": n,
                "action": step["action"],
                "outcome": outcome,
                "reason": reason,
                "via": via,
                "elapsed_ms": elapsed,
            }
        )
    good = sum(1 for r in results if r["outcome"] == "ok")
    status = "ok" if good == len(results) else ("partial" if good else "failed")
    detail = None if status == "ok" else f"{len(results) - good} of {len(results)} step(s) did not succeed"
    return jobs.Outcome(status, detail, results)
