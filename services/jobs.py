"""Scheduled jobs and their runs: when a job is due, claiming it, running it once.

The schedule lives in the records store (`Job`), not in a process, so both
sides share one rule set and a restart loses nothing:

- `tick(now)` lists the jobs, and for each enabled one whose `next_run_at` has
  come, claims it by compare-and-swap on its version, moving `next_run_at` to
  the next slot strictly after *now*. A missed slot therefore runs once on
  wake-up, and two schedulers (two Lambda ticks, two `make run`s on one
  database) never both run it: the loser's save is a `VersionConflict`.
- each claimed job becomes a `Run` record, handed to `start` (locally a worker
  thread; on AWS the tick's own invocation, which has the worker's timeout).
- `execute(run)` marks it running, calls the handler for its kind and records
  the outcome. A handler's exception is the run's `failed` detail, never the
  scheduler's crash.

Who runs `tick`: the local scheduler thread (`LocalScheduler`, started by
`make run`'s lifespan) and, on AWS, the minute-tick EventBridge schedule that
invokes the worker function (`app.lambda_handler`).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime
from zoneinfo import ZoneInfo

from core.errors import DomainError, NotFound, VersionConflict
from core.ports import JobRepository, RunRepository
from core.records import Job, Run, new_id, utcnow
from services.schedule_times import next_interval, next_weekly

log = logging.getLogger("yss.jobs")

RUNS_KEPT = 20  # per podcast or routine
# Routines first: a tick that finds both due must not make bedtime wait for a download.
KIND_ORDER = {"routine": 0, "podcast": 1}


@dataclass(frozen=True)
class Outcome:
    status: str  # ok | partial | failed
    detail: str | None = None
    results: list[dict[str, object]] | None = None


Handler = Callable[[Run], Outcome]


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


def claim_due(jobs: JobRepository, runs: RunRepository, tz: ZoneInfo, now: datetime) -> list[Run]:
    """Claim every due job (see the module docstring); returns their new runs, routines first."""
    claimed: list[Run] = []
    for job in sorted(all_jobs(jobs), key=lambda j: KIND_ORDER.get(j.kind, 9)):
        if not job.enabled or job.next_run_at is None or job.next_run_at > now:
            continue
        run = new_run(job.kind, job.id, job.owner, "schedule")
        try:
            moved = replace(job, last_run_at=now, last_run_id=run.id)
            jobs.save(replace(moved, next_run_at=next_due(moved, tz, now)), expected_version=job.version)
        except (VersionConflict, NotFound):
            continue  # another scheduler has it, or it was deleted meanwhile
        runs.add(run)
        claimed.append(run)
    return claimed


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
    saved = runs.save(done, expected_version=run.version)
    _prune(runs, run.subject_id)
    return saved


def _prune(runs: RunRepository, subject_id: str) -> None:
    for old in runs.recent(subject_id, limit=RUNS_KEPT + 20)[RUNS_KEPT:]:
        with contextlib.suppress(NotFound):
            runs.delete(old.id)


class LocalScheduler:
    """The in-process scheduler of `make run`: a thread that ticks every `tick_s`
    seconds, and one worker thread per kind, so a long podcast download never
    delays a routine. `clock` is injectable; `tick_now()` runs one tick at once."""

    def __init__(
        self,
        tick: Callable[[datetime], list[Run]],
        run: Callable[[str], object],
        *,
        tick_s: float = 20.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._tick = tick
        self._run = run
        self._tick_s = tick_s
        self._clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._workers = {kind: ThreadPoolExecutor(1, thread_name_prefix=f"yss-{kind}") for kind in KIND_ORDER}

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="yss-scheduler", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        for pool in self._workers.values():
            pool.shutdown(wait=False, cancel_futures=True)

    def tick_now(self) -> list[Run]:
        runs = self._tick(self._clock())
        for run in runs:
            self._workers.get(run.kind, self._workers["podcast"]).submit(self._safe_run, run.id)
        return runs

    def _safe_run(self, run_id: str) -> None:
        try:
            self._run(run_id)
        except Exception:
            log.exception("run %s could not be executed", run_id)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick_now()
            except Exception:
                log.exception("scheduler tick failed; trying again at the next one")
            self._stop.wait(self._tick_s)
