"""The MQTT handler's command line.

    python -m mqtt                     run until SIGTERM/SIGINT (the ECS task, mqttMode=always)
    python -m mqtt --check             exit 0 while the heartbeat record is fresh (container health check)
    python -m mqtt --max-s 840 --idle  run like the on-demand Lambda: stop at the deadline or when idle

Settings come from the environment (`core.settings`), validated for the `mqtt`
workload: it needs the records and the Yoto client id, never the API's bucket,
user pool or session secret.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from datetime import timedelta

from adapters import get_adapters
from core.errors import ConfigError
from core.records import utcnow
from services import listener_health
from wiring import root_for

EXIT_STALE = 1
EXIT_CONFIG = 2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mqtt", description="Yoto MQTT listener")
    parser.add_argument("--check", action="store_true", help="exit 0 when the heartbeat is fresh, else 1")
    parser.add_argument("--max-s", type=float, default=None, help="stop after this many seconds")
    parser.add_argument("--idle", action="store_true", help="stop when nobody watched the players for MQTT_IDLE_S")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        adapters = get_adapters(workload="mqtt")
    except ConfigError as exc:
        print(f"configuration: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    if args.check:
        health = listener_health.health(adapters.records.settings)
        print(f"mqtt listener {health['status']} (heartbeat {health['age_s']} s old)")
        return 0 if health["live"] else EXIT_STALE
    on_demand = args.max_s is not None or args.idle
    handler = root_for(adapters).listener_runner(
        mode="on-demand" if on_demand else "always",
        ends_at=utcnow() + timedelta(seconds=args.max_s) if args.max_s is not None else None,
        idle_s=adapters.settings.mqtt_idle_s if args.idle else None,
    )

    def stop(signum: int, _frame: object) -> None:
        logging.getLogger(__name__).info("signal %s: stopping the MQTT handler", signum)
        handler.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    handler.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
