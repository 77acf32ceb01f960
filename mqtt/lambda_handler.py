"""The on-demand listener (mqttMode=on-demand): the same handler loop in a Lambda function.

The API invokes it asynchronously when someone opens the players page and no
listener is live (`services.listener_health.wake`). It runs until nobody has
looked for `MQTT_IDLE_S`, or until shortly before its own timeout (at most
15 minutes; the stack gives it 14), writing the heartbeat with its end so the
API starts a successor in time while viewers remain. It needs no VPC, NAT or
public IPv4: a Lambda function reaches Yoto's broker over AWS's own egress.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from core.records import utcnow

# Stop this long before Lambda's own timeout, to disconnect and clear the heartbeat.
MARGIN_S = 20.0


def handler(event: dict[str, Any] | None, context: Any) -> dict[str, Any]:
    from adapters import get_adapters
    from wiring import root_for

    logging.getLogger().setLevel(logging.INFO)
    adapters = get_adapters(workload="mqtt")
    remaining_s = context.get_remaining_time_in_millis() / 1000 if context is not None else 840.0
    run_s = max(5.0, remaining_s - MARGIN_S)
    if isinstance(event, dict) and isinstance(event.get("max_s"), int | float):
        run_s = min(run_s, float(event["max_s"]))
    started = utcnow()
    loop = root_for(adapters).listener_runner(
        mode="on-demand",
        ends_at=started + timedelta(seconds=run_s),
        idle_s=adapters.settings.mqtt_idle_s,
    )
    why = loop.run()
    return {"stopped": why, "ran_s": round((utcnow() - started).total_seconds(), 1), "health": loop.listener.health()}
