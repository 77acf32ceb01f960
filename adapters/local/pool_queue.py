"""The local `RunQueue`: the scheduler's worker threads of this process, not the request.

`app.scheduled` attaches the process's `services.jobs.FairPool` (bounded,
fair by owner, one run at a time per routine player) when it first composes
the jobs; `submit` hands a run to it. Before one is attached (a script that
has no app) it answers False and the caller runs the job itself."""

from __future__ import annotations

import threading
from collections.abc import Callable

from core.records import Run


class LocalRunQueue:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._submit: Callable[[Run], bool] | None = None

    @property
    def attached(self) -> bool:
        return self._submit is not None

    def attach(self, submit: Callable[[Run], bool]) -> None:
        with self._lock:
            if self._submit is None:
                self._submit = submit

    def submit(self, run: Run) -> bool:
        submit = self._submit
        return submit(run) if submit is not None else False
