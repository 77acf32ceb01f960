"""`python -m simulator`: run the fake Yoto cloud on its own until interrupted.

It prints the settings that point the service at it. Port from `--port`,
else `YOTO_SIM_PORT`, else 8787 (0 picks a free one).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading

from simulator.cloud import DEFAULT_CLIENT_ID, start_cloud


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m simulator", description="A fake Yoto cloud on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=int(os.environ.get("YOTO_SIM_PORT", "8787")))
    parser.add_argument("--client-id", default=os.environ.get("YOTO_SIM_CLIENT_ID", DEFAULT_CLIENT_ID))
    parser.add_argument(
        "--access-ttl", type=float, default=float(os.environ.get("YOTO_SIM_ACCESS_TTL", "86400")), help="seconds"
    )
    parser.add_argument(
        "--device-interval",
        type=float,
        default=float(os.environ.get("YOTO_SIM_DEVICE_INTERVAL", "5")),
        help="device-code polling interval, seconds",
    )
    parser.add_argument("--no-devices", action="store_true", help="start without the two seeded players")
    args = parser.parse_args(argv)

    cloud = start_cloud(
        args.port,
        args.client_id,
        args.access_ttl,
        seed_devices=not args.no_devices,
        device_interval_s=args.device_interval,
    )
    stopped = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopped.set())
    print(f"Yoto simulator listening on {cloud.url}", flush=True)
    for name, value in cloud.env().items():
        print(f"{name}={value}", flush=True)
    print(f"Test control under {cloud.url}/_sim/ (see docs/simulator.md)", flush=True)
    stopped.wait()
    cloud.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
