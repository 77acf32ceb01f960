"""What one player command costs with and without a listener's open connection.

A local mosquitto (started here on 127.0.0.1) and one simulated player. Per
transport (TCP, websockets), interleaved rounds of:
- `open`: `send_command` over a connection that stays open (the listener's
  path): publish `volume/set`, wait for the player's ack. The baseline.
- `short-lived`: `send_once`: connect, subscribe to the response topic,
  publish, wait for the ack, disconnect (no listener, e.g. on Lambda).
- over websockets also `open, no TCP_NODELAY`: the baseline with the socket
  option left off, to show why the transport sets it.
Figures: p50/p99 in ms and each p50 as a ratio of the same transport's `open`
p50. A local broker has no network latency: against AWS IoT the short-lived
path adds the TLS and websocket handshakes' round trips on top. Locally the
websockets short-lived case is dominated by mosquitto itself: its
libwebsockets listener answers the HTTP upgrade of a new connection after
~150–200 ms (a raw socket sees the same), so read it as a ceiling.

Run: .venv/bin/python bench/mqtt_command.py [--runs 200]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()

    from adapters.yoto.mqtt import transport
    from adapters.yoto.mqtt.acks import AckWaiters, answer_topics, send_command, send_once
    from core.yoto import payloads
    from core.yoto.messages import parse_message
    from simulator.players import start_players
    from tests.brokers import run_mosquitto

    player = "benchplayer1"
    with (
        tempfile.TemporaryDirectory() as tmp,
        run_mosquitto(Path(tmp)) as broker,
        start_players(broker.config("tcp"), [player], tick_s=1.0),
    ):
        volumes = iter(range(10**9))

        def command() -> payloads.Command:
            return payloads.volume(next(volumes) % 101)

        def open_connection(kind: str, no_delay: bool) -> Callable[[], None]:
            waiters = AckWaiters()
            patch = mock.patch.object(transport, "_no_delay", lambda *a: None)
            if not no_delay:
                patch.start()
            conn = transport.Transport(broker.config(kind), on_message=lambda t, p: waiters.offer(parse_message(t, p)))
            conn.connect()
            if not no_delay:
                patch.stop()
            conn.subscribe(answer_topics(player, command()))

            def once() -> None:
                result = send_command(conn, waiters, player, command())
                assert result.ok, result

            return once

        def short_lived(kind: str) -> Callable[[], None]:
            def once() -> None:
                result = send_once(broker.config(kind), player, command(), token=None)
                assert result.ok, result

            return once

        cases: dict[str, Callable[[], None]] = {}
        for kind in ("tcp", "websockets"):
            cases[f"{kind} open"] = open_connection(kind, no_delay=True)
            cases[f"{kind} short-lived"] = short_lived(kind)
        cases["websockets open, no TCP_NODELAY"] = open_connection("websockets", no_delay=False)

        timings: dict[str, list[float]] = {name: [] for name in cases}
        for run in cases.values():  # warm-up
            for _ in range(3):
                run()
        for _ in range(args.runs):
            for name, run in cases.items():
                t0 = time.perf_counter()
                run()
                timings[name].append((time.perf_counter() - t0) * 1000)

    print(f"one volume/set command to its ack, local mosquitto, {args.runs} interleaved rounds")
    print(f"{'case':34} {'p50 ms':>8} {'p99 ms':>8} {'× open':>7}")
    for name, values in timings.items():
        base = statistics.median(timings[f"{name.split()[0]} open"])
        p50 = statistics.median(values)
        print(f"{name:34} {p50:8.2f} {percentile(values, 0.99):8.2f} {p50 / base:7.1f}")


if __name__ == "__main__":
    main()
