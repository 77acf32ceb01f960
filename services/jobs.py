"""Scheduled jobs and their runs: when a job is due, claiming it, running it once, fairly.

The schedule lives in the records store (`Job`), not in a process, so both
sides share one rule set and a restart loses nothing:

- `claim_due(now)` claims each enabled job whose `next_run_at` has come by
  compare-and-swap on its version, moving `next_run_at` to the next slot
  strictly after *now* (a missed slot runs once; of two schedulers only one
  wins the save). Each claimed job becomes a queued `Run`.
- `execute(run)` marks it running, calls the handler for its kind and records
  the outcome; a handler's exception is the run's `failed` detail.
- `FairPool` runs them: a small bounded set of worker threads per kind, one
  run at a time per key (a routine's player), by due time, then owners in
  turn. Locally it is the process's run queue (API jobs and the tick's); on
  AWS the minute tick runs its claimed runs through one. Rules in
  docs/scheduling.md.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from core.errors import BackendUnavailable, DomainError, NotFound, RateLimited, VersionConflict
from core.ports import JobRepository, RunQueue, RunRepository
from core.records import Job, Run, User, new_id, utcnow
from services import access
from services.schedule_times import next_interval, next_weekly

log = logging.getLogger("yss.jobs")

RUNS_KEPT = 20  # per podcast or routine
# Routines first: a tick that finds both due must not make bedtime wait for a download.
KIND_ORDER = {"routine": 0, "podcast": 1}
ACTIVE = ("queued", "running")
RETRY_AFTER_S = 10  # what a member over the cap is told
STALE_AFTER = timedelta(hours=1)  # a queued or running run older than this was lost (a crash)


@dataclass(frozen=True)
class Outcome:
    status: str  # ok | partial | failed
    detail: str | None = None
    results: list[dict[str, object]] | None = None


Handler = Callable[[Run], Outcome]


@dataclass(frozen=True)
class Due:
    """A claimed run and the slot its job was due at."""

    run: Run
    due: datetime


def next_due(job: Job, tz: ZoneInfo, after: datetime) -> datetime:
    if job.every_s:
        return next_interval(job.every_s, after, job.last_run_at)
    if job.at and job.days:
        return next_weekly(job.at, job.days, tz, after)
    raise ValueError(f"job {job.id} has neither an interval nor a time and days")


def put_job(jobs: JobRepository, job: Job, tz: ZoneInfo, now: datetime | None = None) -> Job:
    """Create or replace a subject's job, due at its next slot after now."""
    now = now or utcnow()
    job = replace(job, next_run_at=next_due(job, tz, now) if job.enabled else None)
    try:
        current = jobs.get(job.id)
    except NotFound:
        jobs.add(job)
        return job
    return jobs.save(
        replace(job, last_run_at=current.last_run_at, last_run_id=current.last_run_id), expected_version=current.version
    )


def drop_job(jobs: JobRepository, job_id: str) -> None:
    with contextlib.suppress(NotFound):
        jobs.delete(job_id)


def all_jobs(jobs: JobRepository) -> Iterator[Job]:
    cursor: str | None = None
    while True:
        page = jobs.list(limit=200, cursor=cursor)
        yield from page.items
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


def new_run(kind: str, subject_id: str, owner: str, trigger: str) -> Run:
    return Run(id=new_id(), owner=owner, subject_id=subject_id, kind=kind, trigger=trigger)


def claim_due(jobs: JobRepository, runs: RunRepository, tz: ZoneInfo, now: datetime) -> list[Due]:
    """Claim every due job (see the module docstring); their new runs in `fair_order`."""
    claimed: list[Due] = []
    for job in all_jobs(jobs):
        if not job.enabled or job.next_run_at is None or job.next_run_at > now:
            continue
        run = new_run(job.kind, job.id, job.owner, "schedule")
        try:
            moved = replace(job, last_run_at=now, last_run_id=run.id)
            jobs.save(replace(moved, next_run_at=next_due(moved, tz, now)), expected_version=job.version)
        except (VersionConflict, NotFound):
            continue  # another scheduler has it, or it was deleted meanwhile
        runs.add(run)
        claimed.append(Due(run, job.next_run_at))
    return fair_order(claimed)


def _slot(moment: datetime) -> datetime:
    """Due times compare by the minute: runs due in the same minute take turns by owner."""
    return moment.replace(second=0, microsecond=0)


def fair_order(items: Sequence[Due]) -> list[Due]:
    """Routines before podcasts; then by due minute; within one minute, owners in
    turn (each owner's runs in their own order)."""
    groups: dict[tuple[int, datetime], dict[str, list[Due]]] = {}
    for item in items:
        key = (KIND_ORDER.get(item.run.kind, 9), _slot(item.due))
        groups.setdefault(key, {}).setdefault(item.run.owner, []).append(item)
    out: list[Due] = []
    for key in sorted(groups):
        by_owner = groups[key]
        for turn in itertools.zip_longest(*(by_owner[o] for o in sorted(by_owner))):
            out.extend(d for d in turn if d is not None)
    return out


def execute(runs: RunRepository, handlers: Mapping[str, Handler], run_id: str) -> Run:
    """Run a queued run once and record how it went (a run already started is left alone)."""
    run = runs.get(run_id)
    if run.status != "queued":
        return run
    try:
        run = runs.save(replace(run, status="running", started_at=utcnow()), expected_version=run.version)
    except VersionConflict:
        return runs.get(run_id)  # someone else started it
    try:
        outcome = handlers[run.kind](run)
    except DomainError as exc:
        outcome = Outcome("failed", str(exc) or type(exc).__name__)
    except Exception as exc:  # a bug must not take the scheduler down; the run says what happened
        log.exception("run %s (%s %s) failed", run.id, run.kind, run.subject_id)
        outcome = Outcome("failed", f"internal error: {type(exc).__name__}")
    done = replace(
        run, status=outcome.status, detail=outcome.detail, results=outcome.results or [], finished_at=utcnow()
    )
    for _ in range(5):
        try:
            saved = runs.save(done, expected_version=run.version)
        except VersionConflict:
            run = runs.get(run_id)
            if run.status != "running":
                return run  # ended meanwhile (interrupted at shutdown): that record stands
            done = replace(done, version=run.version)  # only its progress moved (`report`)
            continue
        except NotFound:
            return done  # deleted with its podcast or routine while it ran
        _prune(runs, run.subject_id)
        return saved
    return runs.get(run_id)


def report(runs: RunRepository, run_id: str, results: list[dict[str, object]]) -> None:
    """A running run's progress so far (its `results`); a run that ended meanwhile is left alone."""
    for _ in range(5):
        try:
            run = runs.get(run_id)
            if run.status != "running":
                return
            runs.save(replace(run, results=results), expected_version=run.version)
            return
        except VersionConflict:
            continue
        except NotFound:
            return


def interrupt(runs: RunRepository, run_id: str, detail: str) -> Run | None:
    """End a run that is still queued or running as `failed` with `detail` (the server stops)."""
    for _ in range(5):
        try:
            run = runs.get(run_id)
        except NotFound:
            return None
        if run.status not in ACTIVE:
            return run
        try:
            return runs.save(
                replace(run, status="failed", detail=detail, finished_at=utcnow()), expected_version=run.version
            )
        except VersionConflict:
            continue
    return None


# Runs of what the whole family sees (podcasts, routines); the rest are their owner's and admins'.
FAMILY_KINDS = frozenset({"podcast", "routine"})


def shown_run(runs: RunRepository, who: User, run_id: str) -> Run:
    """A run of a family podcast or routine for anyone signed in; any other run (an import,
    a card upload, a story's card, an announcement) for its owner or an admin, else missing."""
    run = access.found(runs.get, "run", run_id)
    if run.kind not in FAMILY_KINDS:
        access.visible(who, run.owner, "run", run_id)
    return run


def active_run(runs: RunRepository, subject_id: str, now: datetime | None = None) -> Run | None:
    """The podcast's or routine's run that is queued or running, if any (one
    left so by a crash stops counting after `STALE_AFTER`)."""
    now = now or utcnow()
    for run in runs.recent(subject_id, limit=3):
        if run.status in ACTIVE and now - (run.started_at or run.created_at) < STALE_AFTER:
            return run
    return None


def start(runs: RunRepository, queue: RunQueue, run: Run) -> bool:
    """Record `run` and hand it to `queue`: True when queued, False when the caller
    must run it itself. A refusal (the member's cap) leaves no record behind."""
    runs.add(run)
    try:
        return queue.submit(run)
    except BaseException:
        with contextlib.suppress(NotFound):
            runs.delete(run.id)
        raise


def _prune(runs: RunRepository, subject_id: str) -> None:
    for old in runs.recent(subject_id, limit=RUNS_KEPT + 20)[RUNS_KEPT:]:
        with contextlib.suppress(NotFound):
            runs.delete(old.id)


# --------------------------------------------------------------------------- the workers


@dataclass(frozen=True)
class Lane:
    """Worker threads for one kind of run. `by_due`: an earlier due minute goes
    first (routines); otherwise owners only take turns (podcasts)."""

    workers: int
    by_due: bool = True

    @property
    def per_owner(self) -> int:
        """What one owner may hold at once: all but one worker, so another owner always gets one."""
        return max(1, self.workers - 1)


@dataclass
class _Item:
    run_id: str
    owner: str
    key: str
    slot: datetime | None
    seq: int


@dataclass
class _LaneState:
    rule: Lane
    queued: list[_Item] = field(default_factory=list)
    running: dict[str, _Item] = field(default_factory=dict)
    served: dict[str, int] = field(default_factory=dict)  # owner -> when last picked
    live: int = 0  # worker threads

    def eligible(self) -> list[_Item]:
        keys = {i.key for i in self.running.values()}
        held: dict[str, int] = {}
        for i in self.running.values():
            held[i.owner] = held.get(i.owner, 0) + 1
        return [i for i in self.queued if i.key not in keys and held.get(i.owner, 0) < self.rule.per_owner]


class FairPool:
    """Bounded, fair worker threads for runs (see the module docstring).

    `submit` never blocks: the run waits in its lane until a worker takes it.
    Threads are started as work arrives and end when none is left (daemon
    threads: a stopping server is never held by one). `per_member` caps the
    runs a member may have waiting or running; the one past it is a
    `RateLimited` with Retry-After. `stop` ends what is left through
    `interrupt(run_id, detail)`."""

    def __init__(
        self,
        execute: Callable[[str], object],
        lanes: Mapping[str, Lane],
        *,
        per_member: int | None = None,
        interrupt: Callable[[str, str], object] = lambda run_id, detail: None,
        name: str = "yss-jobs",
    ) -> None:
        self._execute = execute
        self._lanes = {kind: _LaneState(rule) for kind, rule in lanes.items()}
        self._per_member = per_member
        self._interrupt = interrupt
        self._name = name
        self._cond = threading.Condition()
        self._seq = itertools.count()
        self._stopping = False

    def _lane(self, kind: str) -> _LaneState:
        return self._lanes.get(kind) or next(iter(self._lanes.values()))

    def pending(self, owner: str | None = None) -> int:
        """Runs waiting or running (of one owner, or all)."""
        with self._cond:
            return sum(
                1
                for lane in self._lanes.values()
                for i in itertools.chain(lane.queued, lane.running.values())
                if owner is None or i.owner == owner
            )

    def submit(self, run: Run, *, key: str | None = None, due: datetime | None = None, capped: bool = True) -> bool:
        """Queue `run`; `key` runs one at a time (default: its subject); `capped`:
        counts against the member's cap (scheduled runs are never refused)."""
        with self._cond:
            if self._stopping:
                raise BackendUnavailable("the server is stopping; try again in a moment", headers={"Retry-After": "5"})
            if capped and self._per_member is not None:
                mine = sum(
                    1
                    for lane in self._lanes.values()
                    for i in itertools.chain(lane.queued, lane.running.values())
                    if i.owner == run.owner
                )
                if mine >= self._per_member:
                    raise RateLimited(
                        f"you already have {mine} jobs waiting or running, the most a member may have at once "
                        f"(JOBS_PER_MEMBER = {self._per_member}); try again when one is done",
                        headers={"Retry-After": str(RETRY_AFTER_S)},
                    )
            lane = self._lane(run.kind)
            slot = _slot(due or utcnow()) if lane.rule.by_due else None
            lane.queued.append(_Item(run.id, run.owner, key or run.subject_id, slot, next(self._seq)))
            self._spawn(lane)
        return True

    def _spawn(self, lane: _LaneState) -> None:
        if lane.live < lane.rule.workers and lane.eligible():
            lane.live += 1
            threading.Thread(target=self._work, args=(lane,), name=self._name, daemon=True).start()

    def _pick(self, lane: _LaneState) -> _Item | None:
        if self._stopping:
            return None
        choices = lane.eligible()
        if not choices:
            return None
        # Earliest due minute, then the owner served longest ago, then the order they came in.
        item = min(choices, key=lambda i: (i.slot.timestamp() if i.slot else 0.0, lane.served.get(i.owner, -1), i.seq))
        lane.queued.remove(item)
        lane.running[item.run_id] = item
        lane.served[item.owner] = next(self._seq)
        return item

    def _work(self, lane: _LaneState) -> None:
        while True:
            with self._cond:
                item = self._pick(lane)
                if item is None:
                    lane.live -= 1
                    self._cond.notify_all()
                    return
                self._spawn(lane)  # more eligible work than workers: one more, up to the bound
            try:
                self._execute(item.run_id)
            except NotFound:
                log.info("run %s was deleted (with its podcast or routine) before it ran", item.run_id)
            except Exception:
                log.exception("run %s could not be executed", item.run_id)
            finally:
                with self._cond:
                    lane.running.pop(item.run_id, None)
                    self._cond.notify_all()

    def join(self, timeout: float | None = None) -> bool:
        """Wait until nothing is waiting or running; False if `timeout` came first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while any(lane.queued or lane.running for lane in self._lanes.values()):
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def stop(self, grace_s: float = 5.0) -> list[str]:
        """Take no more work; runs still waiting end as not started, and those
        running after `grace_s` as interrupted. Returns the ids so ended."""
        with self._cond:
            self._stopping = True
            waiting = [i.run_id for lane in self._lanes.values() for i in lane.queued]
            for lane in self._lanes.values():
                lane.queued.clear()
            self._cond.notify_all()
            deadline = time.monotonic() + grace_s
            while any(lane.running for lane in self._lanes.values()):
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            still = [run_id for lane in self._lanes.values() for run_id in lane.running]
        for run_id in waiting:
            self._interrupt(run_id, "not started: the server stopped first; run it again")
        for run_id in still:
            self._interrupt(run_id, "interrupted: the server stopped while it ran; run it again")
        return waiting + still


class LocalScheduler:
    """The tick thread of `make run`: every `tick_s` seconds it claims what is
    due and hands each run to `submit` (the process's `FairPool`). `clock` is
    injectable; `tick_now()` runs one tick at once."""

    def __init__(
        self,
        tick: Callable[[datetime], list[Due]],
        submit: Callable[[Due], object],
        *,
        tick_s: float = 20.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._tick = tick
        self._submit = submit
        self._tick_s = tick_s
        self._clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="yss-scheduler", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def tick_now(self) -> list[Run]:
        claimed = self._tick(self._clock())
        for due in claimed:
            self._submit(due)
        return [d.run for d in claimed]

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick_now()
            except Exception:
                log.exception("scheduler tick failed; trying again at the next one")
            self._stop.wait(self._tick_s)
