"""`make demo`: the whole service on this machine, wired to the fake Yoto cloud.

For a newcomer without a Yoto account: every page works, linking included
(the simulator's consent approves at once). It starts

1. the fake Yoto cloud (`simulator.cloud`, in this process, on 127.0.0.1);
2. a local mosquitto behind AWS IoT Core's subscription limits and simulated
   Yoto players (`simulator.players`): a family of three (the fake cloud's two
   seeded players, a Mini among them, and a third), online over MQTT, each with
   a sample card `demo1` (3 chapters) to play, each keeping its device shadow
   in the fake cloud up to date as a real player does;
3. the service under uvicorn with the local adapters, a data dir of its own
   (a fresh temporary one unless `--data-dir` is given) and the Yoto settings
   pointing at the simulator; PUBLIC_URL is a laptop's http://127.0.0.1, so
   cards keep their audio in the fake cloud's storage (docs/cards.md) and the
   players play them with the service stopped;
4. an admin `demo` with a generated password, printed once.

The service runs the MQTT listener in-process (MQTT_ENABLED), so once an
account is linked the players page shows live state and commands go over its
connection. Each part is a `Part` (start → the lines to print, stop). Ctrl-C or SIGTERM stops every part,
in reverse order, by the handle it started.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ADMIN = "demo"


@dataclass
class Demo:
    """What the parts share: the options, and the environment the service gets."""

    port: int
    sim_port: int
    data_dir: Path
    env: dict[str, str] = field(default_factory=dict)
    cloud: Any = None  # the running fake cloud (`simulator.cloud.RunningCloud`)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Part:
    name: str
    start: Callable[[Demo], list[str]]
    stop: Callable[[], None] = lambda: None


def _wait_for(url: str, timeout_s: float = 30.0) -> None:
    """Until `url` answers 200 (the service is up), or RuntimeError."""
    import httpx

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout_s:.0f} s")


# --------------------------------------------------------------------------- the parts


def yoto_cloud_part() -> Part:
    from simulator.cloud import RunningCloud, start_cloud

    running: list[RunningCloud] = []

    def start(demo: Demo) -> list[str]:
        cloud = start_cloud(demo.sim_port)
        running.append(cloud)
        demo.cloud = cloud
        demo.env.update(cloud.env())
        return [f"Fake Yoto cloud:  {cloud.url}  (test controls under {cloud.url}/_sim/, docs/simulator.md)"]

    def stop() -> None:
        for cloud in running:
            cloud.stop()

    return Part("yoto cloud", start, stop)


# The family: the fake cloud's seeded players and one more (id, name, model).
THIRD_PLAYER = ("yoto-player-2b7d", "Playroom Player", "v2")


def players_part() -> Part:
    """mosquitto on free ports and one simulated player per device of the family."""
    from contextlib import ExitStack

    stack = ExitStack()

    def start(demo: Demo) -> list[str]:
        from simulator.cloud import DEFAULT_DEVICES
        from simulator.players import PlayerSpec, sample_card, start_players
        from tests.brokers import run_mosquitto

        broker_dir = Path(tempfile.mkdtemp(prefix="yss-demo-mqtt-"))
        stack.callback(shutil.rmtree, broker_dir, True)
        broker = stack.enter_context(run_mosquitto(broker_dir))
        device_id, name, model = THIRD_PLAYER
        demo.cloud.add_device(device_id, name, device_type=model)
        family = [*DEFAULT_DEVICES, THIRD_PLAYER]
        card = sample_card("demo1", chapters=3, tracks=2, length_s=180)
        specs = [PlayerSpec(device_id, cards=[card], cloud=demo.cloud, model=model) for device_id, _, model in family]
        fleet = stack.enter_context(start_players(broker.config("tcp"), specs))
        for player in fleet:
            player.on_status = _shadow_writer(demo.cloud)
            player.set_battery(player.battery)  # publishes status: the shadow has it from the start
        demo.env.update(
            MQTT_ENABLED="true",
            MQTT_HOST=broker.host,
            MQTT_PORT=str(broker.tcp_port),
            MQTT_TRANSPORT="tcp",
            MQTT_TLS="false",
        )
        names = ", ".join(name for _, name, _ in family)
        return [f"Simulated players: {names} on mosquitto 127.0.0.1:{broker.tcp_port} (demo1 and the family's cards)"]

    return Part("players", start, stack.close)


def _shadow_writer(cloud: Any) -> Callable[[str, dict[str, Any]], None]:
    """A player's reported status into its device shadow (what `/config` serves as `device.status`)."""

    def write(player_id: str, status: dict[str, Any]) -> None:
        try:
            cloud.set_device_status(player_id, dict(status))
        except Exception as exc:  # a device the cloud no longer lists: the shadow is not ours to keep
            print(f"device shadow of {player_id}: {exc}", file=sys.stderr)

    return write


def admin_part() -> Part:
    def start(demo: Demo) -> list[str]:
        from adapters import Adapters
        from core.settings import Settings

        password = secrets.token_urlsafe(15)
        adapters = Adapters(Settings(use_aws=False, data_dir=demo.data_dir))
        if any(u.username == ADMIN for u in adapters.identity.list_users()):
            adapters.identity.update_user(ADMIN, password=password, is_admin=True, disabled=False)
        else:
            adapters.identity.create_user(ADMIN, password, is_admin=True)
        adapters.records.close()  # type: ignore[attr-defined]
        return [f"Log in as:        {ADMIN} / {password}   (shown once; a new one each start)"]

    return Part("admin", start)


def service_part() -> Part:
    procs: list[subprocess.Popen[bytes]] = []

    def start(demo: Demo) -> list[str]:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "YOTO_", "MQTT_"))},
            "USE_AWS": "false",
            "DATA_DIR": str(demo.data_dir),
            "PUBLIC_URL": demo.url,
            "TTS_ENGINE": os.environ.get("TTS_ENGINE", "espeak"),
            "MQTT_ENABLED": "false",  # the players part turns it on with its broker
            **demo.env,
        }
        command = [sys.executable, "-m", "uvicorn", "app.main:app", "--host", "127.0.0.1", "--port", str(demo.port)]
        procs.append(subprocess.Popen([*command, "--no-server-header"], cwd=ROOT, env=env))
        _wait_for(f"{demo.url}/api/health")
        return [f"The service:      {demo.url}"]

    def stop() -> None:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()

    return Part("service", start, stop)


def parts() -> list[Part]:
    """In start order; each part may add to `Demo.env` for the ones after it."""
    return [yoto_cloud_part(), players_part(), admin_part(), service_part()]


# --------------------------------------------------------------------------- running


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make demo", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    parser.add_argument("--sim-port", type=int, default=0, help="the fake Yoto cloud's port (0: any free one)")
    parser.add_argument("--data-dir", type=Path, default=None, help="kept after the demo (default: a temporary one)")
    args = parser.parse_args(argv)

    temporary = args.data_dir is None
    data_dir = Path(tempfile.mkdtemp(prefix="yss-demo-")) if temporary else args.data_dir
    demo = Demo(port=args.port, sim_port=args.sim_port, data_dir=data_dir)
    stopped = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopped.set())

    started: list[Part] = []
    lines: list[str] = []
    try:
        for part in parts():
            lines += part.start(demo)
            started.append(part)
        print("\n".join(["", "yoto-smart-stream demo", *lines, f"Data dir:         {data_dir}", ""]), flush=True)
        print("Link a Yoto account from the UI: the fake cloud approves at once. Ctrl-C stops it all.", flush=True)
        stopped.wait()
    finally:
        for part in reversed(started):
            try:
                part.stop()
            except Exception as exc:  # keep stopping the others
                print(f"stopping {part.name} failed: {exc}", file=sys.stderr)
        if temporary:
            shutil.rmtree(data_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
