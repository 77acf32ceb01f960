"""The scheduler's entrypoints and their composition: which ports a podcast
refresh and a routine run get, the workers, one tick, one run, the Lambda events.

Both sides run the same code (`services.jobs`). Locally one `FairPool` per
process runs every job (the API's, through `LocalRunQueue`, and the tick
thread's that `make run`'s lifespan starts); on AWS the minute-tick
EventBridge schedule invokes the worker function with `{"yss": "tick"}`, which
runs what it claimed through a pool of its own, and the API hands its jobs to
the worker as `{"yss": "run", "run_id": ...}` (`app.lambda_handler`).

Podcast cards are written through `services.cards` (`ServiceCardWriter`);
routine steps go out through the player commands' service (`PlayerSender`).
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from typing import Any

from adapters import Adapters
from core.errors import DomainError, NotFound
from core.ports import RunQueue
from core.records import Run, User, utcnow
from core.settings import Settings
from core.usernames import name_of
from core.yoto.payloads import Command
from services import jobs, podcasts, routines
from services.ingest import IngestLimits, scratch_base

log = logging.getLogger("yss.scheduled")


def yoto_access(adapters: Adapters) -> tuple[Any, Any]:
    """(the Yoto client, the process's one token service) of an adapter set."""
    from app.yoto_deps import yoto_services

    return adapters.yoto, yoto_services(adapters).tokens


class PlayerSender:
    """Routine steps go out as the player commands route sends them
    (`services.player_commands.send`), with the routine's owner's rights (a player
    kept for another member is unknown to them): the player's own linked account,
    over the listener's connection or a short-lived one; a player known to be
    offline is its `Conflict` before anything is sent."""

    def __init__(self, adapters: Adapters) -> None:
        self._adapters = adapters

    def _who(self, owner: str) -> User:
        from services.members import MemberLookup, Members

        try:
            return MemberLookup(self._adapters.identity, Members(self._adapters.records)).get_user(owner)
        except NotFound:  # a member who has gone: a member's rights at most
            return User(username=name_of(owner), id=owner)

    def send(self, player_id: str, action: str, command: Command, *, owner: str) -> str:
        from app.players_wiring import wiring
        from services import listener_health, player_commands, players

        wired = wiring(self._adapters)
        device, view = players.device_and_view(wired.ports, player_id, who=self._who(owner))
        live = listener_health.is_live(self._adapters.records.settings)
        offline = players.known_offline(view, live=live, now=utcnow())
        timeout = self._adapters.settings.mqtt_command_timeout_s
        return player_commands.send(wired.sender, device, action, command, offline=offline, timeout=timeout).via


def podcast_ports(adapters: Adapters) -> podcasts.PodcastPorts:
    from adapters.web.fetch import SafeFetcher
    from app.yoto_deps import yoto_services
    from services.stream_cards import ServiceCardWriter

    settings = adapters.settings
    records = adapters.records
    allow = settings.allow_private_feeds
    writer = ServiceCardWriter(yoto_services(adapters).cards)
    return podcasts.PodcastPorts(
        podcasts=records.podcasts,
        jobs=records.jobs,
        runs=records.runs,
        audio=records.audio,
        playlists=records.playlists,
        cards=records.cards,
        storage=adapters.storage,
        limits=IngestLimits.of(settings),
        scratch=scratch_base(settings),
        fetch=SafeFetcher.checking(allow_private=allow, max_redirects=settings.podcast_max_redirects),
        writer=writer,
        queue=run_queue(adapters),
        rules=podcasts.PodcastRules.of(settings),
        tz=settings.family_tz,
    )


def routine_ports(adapters: Adapters) -> routines.RoutinePorts:
    from services.players import may_use

    records = adapters.records
    settings = adapters.settings
    return routines.RoutinePorts(
        records.routines,
        records.jobs,
        records.runs,
        PlayerSender(adapters),
        settings.family_tz,
        counters=records.counters,
        queue=run_queue(adapters),
        may_use=lambda who, player_id: may_use(records.settings, who, player_id),
        rules=routines.RoutineRules(settings.routines_per_member, settings.player_commands_per_minute),
    )


# --------------------------------------------------------------------------- the workers


def lanes(settings: Settings) -> dict[str, jobs.Lane]:
    """Routines by due time, one run at a time per player; podcasts by owner in turn."""
    return {
        "routine": jobs.Lane(settings.routine_workers, by_due=True),
        "podcast": jobs.Lane(settings.job_workers, by_due=False),
    }


def key_of(adapters: Adapters, run: Run) -> str:
    """What runs one at a time: a routine's player (two routines never interleave
    their steps on one player), else the podcast."""
    if run.kind == "routine":
        try:
            return "player:" + adapters.records.routines.get(run.subject_id).player_id
        except NotFound:
            pass
    return run.subject_id


def enqueue(adapters: Adapters, pool: jobs.FairPool, run: Run, due: datetime | None = None) -> bool:
    """Hand a run to `pool`; a scheduled one is never refused by the member's cap."""
    return pool.submit(run, key=key_of(adapters, run), due=due, capped=run.trigger != "schedule")


def _pool(adapters: Adapters, *, per_member: int | None, name: str) -> jobs.FairPool:
    runs = adapters.records.runs
    return jobs.FairPool(
        lambda run_id: execute(adapters, run_id),
        lanes(adapters.settings),
        per_member=per_member,
        interrupt=lambda run_id, detail: jobs.interrupt(runs, run_id, detail),
        name=name,
    )


_lock = threading.Lock()
_pools: dict[int, tuple[Adapters, jobs.FairPool]] = {}


def worker_pool(adapters: Adapters) -> jobs.FairPool:
    """The process's workers for this adapter set (made once)."""
    with _lock:
        got = _pools.get(id(adapters))
        if got is None or got[0] is not adapters:
            got = (adapters, _pool(adapters, per_member=adapters.settings.jobs_per_member, name="yss-job"))
            _pools[id(adapters)] = got
        return got[1]


def stop_workers(adapters: Adapters, grace_s: float = 3.0) -> list[str]:
    """The server stops: what is still waiting or running ends as a failed run saying so."""
    with _lock:
        got = _pools.pop(id(adapters), None)
    return got[1].stop(grace_s) if got is not None and got[0] is adapters else []


def run_queue(adapters: Adapters) -> RunQueue:
    """Where the API's jobs go: the adapters' queue, with this process's workers
    behind it where the queue is local (`LocalRunQueue`)."""
    from adapters.local.pool_queue import LocalRunQueue

    queue = adapters.run_queue
    if isinstance(queue, LocalRunQueue) and not queue.attached:
        pool = worker_pool(adapters)
        queue.attach(lambda run: enqueue(adapters, pool, run))
    return queue


def handlers(adapters: Adapters) -> dict[str, jobs.Handler]:
    return {
        "podcast": lambda run: podcasts.run_refresh(podcast_ports(adapters), run),
        "routine": lambda run: routines.run_steps(routine_ports(adapters), run),
    }


def tick(adapters: Adapters, now: datetime | None = None) -> list[jobs.Due]:
    records = adapters.records
    return jobs.claim_due(records.jobs, records.runs, adapters.settings.family_tz, now or utcnow())


def execute(adapters: Adapters, run_id: str) -> Run:
    return jobs.execute(adapters.records.runs, handlers(adapters), run_id)


def _enqueue_due(adapters: Adapters, pool: jobs.FairPool, due: jobs.Due) -> None:
    try:
        enqueue(adapters, pool, due.run, due.due)
    except DomainError as exc:  # the pool is stopping: the claimed run says it did not start
        jobs.interrupt(adapters.records.runs, due.run.id, f"not started: {exc}")


def local_scheduler(adapters: Adapters, **options: Any) -> jobs.LocalScheduler:
    """The tick thread of `make run`; what it claims runs on the process's workers."""
    tick_s = options.pop("tick_s", adapters.settings.scheduler_tick_s)
    pool = worker_pool(adapters)
    return jobs.LocalScheduler(
        lambda now: tick(adapters, now), lambda due: _enqueue_due(adapters, pool, due), tick_s=tick_s, **options
    )


def handle_event(adapters: Adapters, event: dict[str, Any]) -> dict[str, Any]:
    """A scheduled or queued invocation of the worker (not an HTTP event)."""
    kind = event.get("yss")
    if kind == "tick":
        claimed = tick(adapters)
        pool = _pool(adapters, per_member=None, name="yss-tick")
        for due in claimed:  # routines in parallel per player, by due time, owners in turn
            _enqueue_due(adapters, pool, due)
        pool.join()  # the worker has 15 minutes
        return {"ran": [d.run.id for d in claimed]}
    if kind == "run" and isinstance(event.get("run_id"), str):
        done = execute(adapters, event["run_id"])
        return {"run": done.id, "status": done.status}
    raise ValueError(f"unknown scheduled event {kind!r}")
