"""A `RunQueue` with no worker: the caller runs the job in the request.

What the factory hands out on AWS when the stack has no worker function
(`WORKER_FUNCTION` unset); `make run` uses `pool_queue.LocalRunQueue`."""

from __future__ import annotations

from core.records import Run


class InlineRunQueue:
    def submit(self, run: Run) -> bool:
        return False
