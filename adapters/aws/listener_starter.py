"""Starts the on-demand MQTT listener: an asynchronous invoke of its Lambda function.

`InvocationType=Event` returns as soon as Lambda has queued the run (HTTP 202),
so a players page poll is not held up by the listener's start. Lambda's own
retries of an async invoke are switched off by the stack (maximum retry
attempts 0): a listener that fails is started again by the next poll.
"""

from __future__ import annotations

import json
from functools import cached_property
from typing import Any

from adapters.aws.clients import client
from core.settings import Settings


class LambdaListenerStarter:
    def __init__(self, settings: Settings) -> None:
        if not settings.mqtt_listener_function:
            raise ValueError("MQTT_LISTENER_FUNCTION is not set")
        self._settings = settings
        self.function = settings.mqtt_listener_function

    @cached_property
    def _lambda(self) -> Any:
        return client(self._settings, "lambda")

    def start(self) -> None:
        self._lambda.invoke(FunctionName=self.function, InvocationType="Event", Payload=json.dumps({}).encode())
