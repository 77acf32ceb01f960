"""`make demo` (scripts/demo.py) as a newcomer runs it: the printed password logs in,
linking a Yoto account works against the fake cloud, a card made there plays on a
simulated player, Ctrl-C stops everything."""

from __future__ import annotations

import re
import selectors
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[2]


def read_until(proc: subprocess.Popen[bytes], marker: str, timeout_s: float = 90.0) -> str:
    assert proc.stdout is not None
    out = b""
    selector = selectors.DefaultSelector()
    selector.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout_s
    while marker.encode() not in out:
        assert time.monotonic() < deadline, f"no {marker!r} in {out.decode(errors='replace')}"
        assert proc.poll() is None, f"the demo exited: {out.decode(errors='replace')}"
        if selector.select(timeout=0.5):
            out += proc.stdout.read1(4096)  # type: ignore[attr-defined]
    return out.decode()


def port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_make_demo_serves_every_part_and_stops_them_all() -> None:
    make = subprocess.run(["make", "-n", "demo"], cwd=ROOT, capture_output=True, text=True, check=True)
    assert "scripts/demo.py --port" in make.stdout

    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "scripts/demo.py", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        text = read_until(proc, "Ctrl-C stops it all")
        password = re.search(r"Log in as:\s+demo / (\S+)", text)
        data_dir = re.search(r"Data dir:\s+(\S+)", text)
        assert password and data_dir, text
        assert len(password.group(1)) >= 12
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, headers={"Origin": base}, timeout=10) as web:
            assert (
                web.post("/api/auth/login", json={"username": "demo", "password": password.group(1)}).status_code == 200
            )
            to_yoto = web.get("/api/yoto/login")
            assert to_yoto.status_code == 302
            consent = httpx.get(to_yoto.headers["location"], timeout=10)
            assert consent.status_code == 302 and consent.headers["location"].startswith(f"{base}/api/yoto/callback")
            back = web.get(consent.headers["location"])
            assert back.status_code == 303 and back.headers["location"] == "/?yoto=linked"
            assert web.get("/api/yoto/status").json()["linked"] is True
            assert web.get("/api/icons", params={"q": "moon"}).json()["items"][0]["title"] == "Moon"
            # the simulated players, live over MQTT through the in-process listener
            deadline = time.monotonic() + 40
            while web.get("/api/health/mqtt").json()["connected_accounts"] != 1:  # the new link, within 15 s
                assert time.monotonic() < deadline
                time.sleep(0.3)
            while True:
                players = web.get("/api/players").json()
                items = players["items"]
                if players["live"] and len(items) == 3 and all(p["online"] and not p["stale"] for p in items):
                    break
                assert time.monotonic() < deadline, players
                time.sleep(0.3)
            # a family of three, a Mini among them, all live and each command answered
            assert {p["name"] for p in items} == {"Bedroom Player", "Kitchen Mini", "Playroom Player"}
            assert all(p["battery_percent"] is not None for p in items)
            for p in items:
                play = web.post(f"/api/players/{p['id']}/commands", json={"action": "play", "card_id": "demo1"})
                assert play.status_code == 200 and play.json()["via"] == "listener", play.text
            mini = next(p["id"] for p in items if p["name"] == "Kitchen Mini")
            for body in (
                {"action": "pause"},
                {"action": "resume"},
                {"action": "stop"},
                {"action": "volume", "volume": 40},
                {"action": "sleep_timer", "minutes": 5},
                {"action": "status"},
            ):
                r = web.post(f"/api/players/{mini}/commands", json=body)
                assert r.status_code == 200, (body, r.text)
            # a card the family makes plays: with no public address its audio goes to the
            # fake cloud's storage first (202 and a run), and the player downloads it from there
            said = web.post("/api/audio/tts", json={"text": "Good night, little one.", "title": "Good night"})
            assert said.status_code == 201, said.text
            made = web.post("/api/cards", json={"title": "Bedtime", "tracks": [{"audio_id": said.json()["id"]}]})
            assert made.status_code == 202, made.text
            run_id, card_id = made.json()["run"]["id"], made.json()["run"]["subject_id"]
            deadline = time.monotonic() + 60
            while (run := web.get(f"/api/runs/{run_id}").json())["status"] in ("queued", "running"):
                assert time.monotonic() < deadline, run
                time.sleep(0.3)
            assert run["status"] == "ok", run
            card = web.get(f"/api/cards/{card_id}").json()
            assert card["storage"] == "yoto"
            yoto_card = card["yoto_card_id"]
            bedroom = next(p["id"] for p in items if p["name"] == "Bedroom Player")
            play = web.post(f"/api/players/{bedroom}/commands", json={"action": "play", "card_id": yoto_card})
            assert play.status_code == 200, play.text
            deadline = time.monotonic() + 20
            while (now := web.get(f"/api/players/{bedroom}").json())["card_id"] != yoto_card:
                assert time.monotonic() < deadline, now
                time.sleep(0.3)
            assert now["playback_status"] == "playing", now
        assert Path(data_dir.group(1)).is_dir()
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=30)
    assert code == 0
    assert not port_open(port)
    assert not Path(data_dir.group(1)).exists()  # the temporary data dir goes with it
