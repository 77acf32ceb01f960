"""What became of one command sent to a player: ok, the player's FAIL, or silence.

A player may never answer, so `timeout` is a result, not an error; the services
turn each outcome into the domain error a caller sees (docs/mqtt.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class CommandResult:
    outcome: Literal["ok", "failed", "timeout"]
    reason: str | None = None
    elapsed_s: float = 0.0

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"
