"""The AWS `RunQueue`: an asynchronous invocation of the worker function.

The worker is the same package as the API with its own, longer timeout
(`infra/scheduler.py`), so a podcast refresh that fetches and normalises
episodes runs outside API Gateway's 30 s. `InvocationType=Event` returns at
once (202 from Lambda); Lambda retries a failed async invocation itself, and
the run record says how it went.
"""

from __future__ import annotations

import json
from typing import Any

from core.records import Run
from core.settings import Settings


class LambdaRunQueue:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._function = settings.worker_function
        self._client: Any = None

    def submit(self, run: Run) -> bool:
        if not self._function:
            return False
        if self._client is None:
            from adapters.aws.clients import client

            self._client = client(self._settings, "lambda")
        payload = json.dumps({"yss": "run", "run_id": run.id}).encode()
        self._client.invoke(FunctionName=self._function, InvocationType="Event", Payload=payload)
        return True
