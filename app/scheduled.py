"""The scheduler's entrypoints: one tick, the tick thread of `make run`, and the
worker Lambda's events. What a run gets (its ports, the workers) is the
composition root's (`wiring.Root`); the rules are `services.jobs`.

Locally one pool of workers per process runs every job (the API's, through
`LocalRunQueue`, and the tick thread's); on AWS the minute-tick EventBridge
schedule invokes the worker function with `{"yss": "tick"}`, which runs what it
claimed through a pool of its own, and the API hands its jobs to the worker as
`{"yss": "run", "run_id": ...}` (`app.lambda_handler`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from core.errors import DomainError
from core.records import utcnow
from services import jobs
from wiring import Root


def tick(root: Root, now: datetime | None = None) -> list[jobs.Due]:
    records = root.records
    return jobs.claim_due(records.jobs, records.runs, root.settings.family_tz, now or utcnow())


def _enqueue_due(root: Root, pool: jobs.FairPool, due: jobs.Due) -> None:
    try:
        root.enqueue(pool, due.run, due.due)
    except DomainError as exc:  # the pool is stopping: the claimed run says it did not start
        jobs.interrupt(root.records.runs, due.run.id, f"not started: {exc}")


def local_scheduler(root: Root, **options: Any) -> jobs.LocalScheduler:
    """The tick thread of `make run`; what it claims runs on the process's workers."""
    tick_s = options.pop("tick_s", root.settings.scheduler_tick_s)
    pool = root.workers
    return jobs.LocalScheduler(
        lambda now: tick(root, now), lambda due: _enqueue_due(root, pool, due), tick_s=tick_s, **options
    )


def handle_event(root: Root, event: dict[str, Any]) -> dict[str, Any]:
    """A scheduled or queued invocation of the worker (not an HTTP event)."""
    kind = event.get("yss")
    if kind == "tick":
        claimed = tick(root)
        pool = root.pool(per_member=None, name="yss-tick")
        for due in claimed:  # routines in parallel per player, by due time, owners in turn
            _enqueue_due(root, pool, due)
        pool.join()  # the worker has 15 minutes
        return {"ran": [d.run.id for d in claimed]}
    if kind == "run" and isinstance(event.get("run_id"), str):
        done = root.execute(event["run_id"])
        return {"run": done.id, "status": done.status}
    raise ValueError(f"unknown scheduled event {kind!r}")
