"""Players over MQTT, end to end: what a command costs through the API, how fast the
listener stores events, and how long a broker restart interrupts commands.

Everything runs here: a local mosquitto (TCP), one simulated player, the fake
Yoto cloud, the app in process (httpx over ASGI, local SQLite records), the
MQTT handler in process.

1. `command`: POST /api/players/{id}/commands {"action": "volume"} until the
   player's ack, p50/p99 in ms. Interleaved rounds of `listener` (the in-process
   listener's open connection: the baseline) and `short-lived` (the API not
   told about the listener, which keeps running so both see the same load: it
   connects, subscribes, publishes, waits, disconnects), each p50 also as a
   ratio of the baseline's; "publish to ack" is the part inside the sender.
2. `ingest`: the listener's per-message work (parse the bytes, merge the state,
   write the state and the history event, batched every 50 ms by the listener's
   `StateWriter`; timed until the last batch is stored) into each records backend: local
   SQLite, in-memory, DynamoDB on the moto server (with --dynamodb; moto is a
   Python server, so its figure is a floor for the code, not DynamoDB's).
   Events per second, median of interleaved rounds; goal >= 1,000/s locally.
3. `restart`: the broker restarts (down 0.5 s); seconds until the first
   command through the API succeeds again (median of --restarts).
4. `family`: a listener started for an account of N players (--family, e.g.
   3 and 11) behind AWS IoT Core's limits (tests.brokers' proxy); seconds
   until every player's state is stored, connections used, what the proxy
   refused (median of --rounds).
5. `proxy`: volume/set to its ack on an open connection straight to mosquitto
   and through the limiting proxy, interleaved (the proxy's cost in every test).

Run: .venv/bin/python bench/players.py [--runs 100] [--events 2000] [--restarts 5] [--family 3,11] [--dynamodb]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PLAYER = "bench-player-1"
ADMIN = ("benchadmin", "bench password for the players figures")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def build_app(tmp: Path, broker: Any, cloud: Any) -> tuple[Any, Any]:
    """The app over local records, one linked account listing the bench player, a logged-in client."""
    from fastapi.testclient import TestClient

    import app.deps
    from adapters import Adapters
    from app.main import create_app
    from core.settings import Settings
    from tests.players.conftest import link

    settings = Settings(
        data_dir=tmp / "data",
        session_secret="bench-session-secret-0123456789-abcdefghijkl",
        yoto_api_url=cloud.url,
        yoto_auth_url=cloud.url,
        yoto_client_id=cloud.client_id,
        mqtt_host="127.0.0.1",
        mqtt_port=broker.tcp_port,
        mqtt_transport="tcp",
        mqtt_tls=False,
    )
    adapters = Adapters(settings)
    app.deps.get_adapters = lambda: adapters  # type: ignore[assignment]
    adapters.identity.create_user(*ADMIN, is_admin=True)
    link(settings, adapters.records, cloud)
    cloud.add_device(PLAYER, "Bench player", account="family")
    client = TestClient(create_app(), base_url="http://127.0.0.1:8000", headers={"Origin": "http://127.0.0.1:8000"})
    assert client.post("/api/auth/login", json={"username": ADMIN[0], "password": ADMIN[1]}).status_code == 200
    return adapters, client


def start_listener(adapters: Any) -> Any:
    from adapters.yoto.mqtt.listener import Backoff
    from wiring import root_for

    root = root_for(adapters)
    listener = root.listener(relist_every_s=1.0, backoff=Backoff(first_s=0.05, cap_s=0.2, settled_s=5))
    root.in_process.start(root.listener_runner(listener, mode="in-process", heartbeat_every_s=1.0))
    deadline = time.monotonic() + 10
    while not listener.can_send(PLAYER):
        if time.monotonic() > deadline:
            raise RuntimeError("the listener did not connect")
        time.sleep(0.02)
    return listener


def bench_commands(client: Any, adapters: Any, runs: int) -> list[str]:
    from wiring import root_for

    in_process = root_for(adapters).in_process

    volumes = iter(range(10**9))

    def once(expect_via: str) -> float:
        started = time.perf_counter()
        r = client.post(f"/api/players/{PLAYER}/commands", json={"action": "volume", "volume": next(volumes) % 101})
        elapsed = (time.perf_counter() - started) * 1000
        if r.status_code != 200 or r.json()["via"] != expect_via:
            raise RuntimeError(f"command failed: {r.status_code} {r.text}")
        inner[expect_via].append(r.json()["elapsed_ms"])
        return elapsed

    times: dict[str, list[float]] = {"listener": [], "short-lived": []}
    inner: dict[str, list[float]] = {"listener": [], "short-lived": []}
    start_listener(adapters)
    running = in_process.handler
    time.sleep(1.0)  # past the first events/status burst
    for _ in range(3):
        once("listener")
    for _ in range(runs):
        times["listener"].append(once("listener"))
        # The same process with the listener still running (same background load),
        # but the API not told about it: it opens its own connection.
        in_process.handler = None
        times["short-lived"].append(once("short-lived"))
        in_process.handler = running
    in_process.stop()
    base = statistics.median(times["listener"])
    return [
        f"command API -> player ack ({runs} interleaved rounds, TCP, local mosquitto)",
        *(
            f"  {name:<12} p50 {statistics.median(v):7.2f} ms  p99 {percentile(v, 0.99):7.2f} ms"
            f"  ({statistics.median(v) / base:5.2f}x listener); publish to ack {statistics.median(inner[name]):6.1f} ms"
            for name, v in times.items()
        ),
    ]


def bench_ingest(events: int, rounds: int, backends: dict[str, Callable[[], Any]]) -> list[str]:
    from adapters.yoto.mqtt.listener import StateWriter
    from core.yoto.messages import parse_message

    payloads = [
        ("device/{p}/data/events", json.dumps({"position": i, "trackKey": f"{i // 50 % 9 + 1:02d}"}).encode())
        for i in range(events)
    ]
    rates: dict[str, list[float]] = {name: [] for name in backends}
    stores = {name: make() for name, make in backends.items()}
    for r in range(rounds):
        for name, records in stores.items():
            writer = StateWriter(records.players)
            player = f"ingest-{r}"
            started = time.perf_counter()
            for topic, body in payloads:
                writer.write(parse_message(topic.format(p=player), body))
            writer.close()  # the last batch is stored before the clock stops
            rates[name].append(events / (time.perf_counter() - started))
            if writer.counts.get("write_errors"):
                raise RuntimeError(f"{name}: {writer.counts['write_errors']} writes failed")
    return [
        f"event ingest (parse + merged state + history event per message; {events} events x {rounds} rounds)",
        *(f"  {name:<12} {statistics.median(v):9,.0f} events/s" for name, v in rates.items()),
    ]


def bench_restart(client: Any, adapters: Any, broker: Any, fleet: Any, restarts: int) -> list[str]:
    from wiring import root_for

    in_process = root_for(adapters).in_process

    start_listener(adapters)
    gaps = []
    for _ in range(restarts):
        broker.restart(down_s=0.5)
        back = time.perf_counter()
        fleet[PLAYER].come_online()
        while True:
            r = client.post(f"/api/players/{PLAYER}/commands", json={"action": "volume", "volume": 40})
            if r.status_code == 200 and r.json()["via"] == "listener":
                break
            time.sleep(0.01)
        gaps.append(time.perf_counter() - back)
    in_process.stop()
    return [
        f"broker restart -> first command through the listener ({restarts} restarts, down 0.5 s each)",
        f"  median {statistics.median(gaps):5.2f} s after the broker was back  (max {max(gaps):5.2f} s)",
    ]


def bench_family(broker: Any, sizes: list[int], rounds: int) -> list[str]:
    from adapters.yoto.mqtt.listener import Backoff, Listener
    from core.errors import NotFound
    from simulator.players import start_players

    out = [f"a family's players live: listener start -> every player's state stored ({rounds} rounds)"]
    for size in sizes:
        took: list[float] = []
        connections = 0
        refused_before = len(broker.refusals)
        for r in range(rounds):
            ids = [f"family{size}-{r}-{i}" for i in range(size)]
            with tempfile.TemporaryDirectory() as data, start_players(broker.config("tcp"), ids, tick_s=1.0):
                from adapters import Adapters
                from core.settings import Settings

                records = Adapters(Settings(data_dir=Path(data), session_secret="x" * 40)).records
                listener = Listener(
                    broker.config("tcp"),
                    accounts=lambda: ["family"],
                    token_for=lambda account, rejected=None: "token",
                    players_for=lambda account, ids=ids: ids,
                    players=records.players,
                    backoff=Backoff(first_s=0.05, cap_s=0.2, settled_s=5),
                )
                started = time.perf_counter()
                import threading

                thread = threading.Thread(target=listener.run, daemon=True)
                thread.start()

                def stored(player: str, players: Any = records.players) -> bool:
                    try:
                        return "status" in players.get_state(player).state
                    except NotFound:
                        return False

                while not all(stored(p) for p in ids):
                    if time.perf_counter() - started > 30:
                        raise RuntimeError(f"{size} players: not all live in 30 s")
                    time.sleep(0.01)
                took.append(time.perf_counter() - started)
                connections = listener.health()["connections"]
                listener.stop()
                thread.join(10)
        refused = broker.refusals[refused_before:]
        out.append(
            f"  {size:>3} players  median {statistics.median(took):5.2f} s  (max {max(took):5.2f} s)"
            f"  connections {connections}  refused by the broker {len(refused)}"
        )
    return out


def bench_proxy(broker: Any, runs: int) -> list[str]:
    from dataclasses import replace

    from adapters.yoto.mqtt.acks import AckWaiters, send_command
    from adapters.yoto.mqtt.transport import Transport
    from core.yoto import payloads
    from core.yoto.messages import parse_message
    from core.yoto.protocol import subscribe_topics
    from simulator.players import start_players

    player = "proxy-bench-1"
    routes = {
        "through the proxy": broker.config("tcp"),
        "mosquitto directly": replace(broker.config("tcp"), port=broker.raw_tcp_port),
    }
    times: dict[str, list[float]] = {name: [] for name in routes}
    with start_players(broker.config("tcp"), [player], tick_s=1.0):
        opened = {}
        for name, config in routes.items():
            waiters = AckWaiters()
            transport = Transport(config, on_message=lambda t, b, w=waiters: w.offer(parse_message(t, b)))
            transport.connect(5)
            transport.subscribe(subscribe_topics(player))
            opened[name] = (transport, waiters)
        for i in range(runs):
            for name, (transport, waiters) in opened.items():
                result = send_command(transport, waiters, player, payloads.volume(i % 101))
                if not result.ok:
                    raise RuntimeError(f"{name}: {result}")
                times[name].append(result.elapsed_s * 1000)
        for transport, _ in opened.values():
            transport.close()
    base = statistics.median(times["mosquitto directly"])
    return [
        f"volume/set -> ack on an open connection ({runs} interleaved rounds, TCP)",
        *(
            f"  {name:<19} p50 {statistics.median(v):6.2f} ms  p99 {percentile(v, 0.99):6.2f} ms"
            f"  ({statistics.median(v) / base:4.2f}x direct)"
            for name, v in times.items()
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--restarts", type=int, default=5)
    parser.add_argument("--family", default="3,11", help="sizes of the families whose players go live")
    parser.add_argument("--dynamodb", action="store_true", help="also DynamoDB on a local moto server")
    args = parser.parse_args()

    import logging

    logging.disable(logging.WARNING)
    from adapters import Adapters
    from adapters.memory import MemoryRecords
    from core.settings import Settings
    from simulator.cloud import start_cloud
    from simulator.players import start_players
    from tests.brokers import run_mosquitto

    with (
        tempfile.TemporaryDirectory() as tmp_dir,
        run_mosquitto(Path(tmp_dir)) as broker,
        start_cloud(seed_devices=False) as cloud,
    ):
        tmp = Path(tmp_dir)
        adapters, client = build_app(tmp, broker, cloud)
        with start_players(broker.config("tcp"), [PLAYER], tick_s=1.0) as fleet:
            out = bench_commands(client, adapters, args.runs)
            out += bench_restart(client, adapters, broker, fleet, args.restarts)
        out += bench_family(broker, [int(n) for n in args.family.split(",") if n], args.rounds)
        out += bench_proxy(broker, args.runs)
        backends: dict[str, Callable[[], Any]] = {
            "sqlite": lambda: Adapters(Settings(data_dir=tmp / "ingest", session_secret="x" * 40)).records,
            "memory": MemoryRecords,
        }
        moto = None
        if args.dynamodb:
            moto = _moto_records(tmp)
            backends["dynamodb-moto"] = lambda: moto[0]
        out += bench_ingest(args.events, args.rounds, backends)
        if moto is not None:
            moto[1].__exit__(None, None, None)
    print("\n".join(out))


def _moto_records(tmp: Path) -> tuple[Any, Any]:
    import os

    from adapters import Adapters
    from adapters.aws.bootstrap import create_resources
    from core.settings import Settings
    from tests.conftest import AWS_ENV
    from tests.servers import moto_server

    (tmp / "moto").mkdir(exist_ok=True)
    server = moto_server(tmp / "moto")
    url = server.__enter__()
    os.environ.update(AWS_ENV, AWS_ENDPOINT_URL=url)
    base = Settings(use_aws=True, aws_region=AWS_ENV["AWS_REGION"], data_dir=tmp)
    settings = create_resources(base).settings_for(base, session_secret="x" * 40, public_url="http://127.0.0.1:8000")
    return Adapters(settings).records, server


if __name__ == "__main__":
    main()
