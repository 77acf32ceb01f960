"""Jobs off the request threads, over real HTTP: uvicorn on 127.0.0.1 and a
feed host that holds every request open.

- One member fires 41 podcast jobs at feeds that never answer; another
  member's ordinary requests stay well under a second (p50/p99 printed with
  `-s`, see docs/security.md) and their own job gets a worker at once.
- `make run`'s uvicorn stops on SIGTERM with jobs in flight, and those jobs end
  as failed runs that say the server stopped (not left queued or running)."""

from __future__ import annotations

import os
import signal
import statistics
import threading
import time
from pathlib import Path

import httpx
import pytest

from adapters import Adapters
from core.settings import Settings
from tests.api.conftest import ADMIN, MEMBER
from tests.conftest import TEST_SECRET
from tests.live_server import live_app
from tests.scheduled.conftest import HeldFeeds
from tests.uvicorn_server import make_run_server
from tests.waiting import eventually

HOSTILE = ("eve", "a long enough password for eve")
FEED_WAIT_S = 15  # PODCAST_FEED_TIMEOUT_S: how long one held fetch keeps its worker


def _login(base: str, who: tuple[str, str]) -> httpx.Client:
    c = httpx.Client(base_url=base, headers={"Origin": base}, timeout=60)
    r = c.post("/api/auth/login", json={"username": who[0], "password": who[1]})
    assert r.status_code == 200, r.text
    return c


def _family(data_dir: Path) -> Settings:
    settings = Settings(use_aws=False, data_dir=data_dir, session_secret=TEST_SECRET, tts_engine="espeak")
    identity = Adapters(settings).identity
    identity.create_user(ADMIN[0], ADMIN[1], is_admin=True)
    identity.create_user(MEMBER[0], MEMBER[1])
    identity.create_user(*HOSTILE)
    return settings


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@pytest.mark.parametrize("per_member", [None, 50], ids=["default-cap", "all-41-queued"])
def test_ordinary_requests_stay_fast_while_41_hostile_jobs_run(
    tmp_path: Path, held: HeldFeeds, per_member: int | None
) -> None:
    settings = _family(tmp_path / "data").model_copy(
        update={"allow_private_feeds": True, "podcast_feed_timeout_s": FEED_WAIT_S, "mqtt_enabled": False}
    )
    if per_member is not None:
        settings = settings.model_copy(update={"jobs_per_member": per_member})
    with live_app(settings, tmp_path) as base:
        eve, kid = _login(base, HOSTILE), _login(base, MEMBER)
        answers: list[int] = []
        go = threading.Barrier(42)

        def hostile(n: int) -> None:
            with httpx.Client(base_url=base, headers={"Origin": base}, cookies=eve.cookies, timeout=120) as c:
                go.wait()
                r = c.post("/api/podcasts", json={"feed_url": f"{held.url}/drip{n}.xml", "episodes": 25})
                answers.append(r.status_code)

        threads = [threading.Thread(target=hostile, args=(n,), daemon=True) for n in range(41)]
        for t in threads:
            t.start()
        go.wait()
        took: list[float] = []
        deadline = time.monotonic() + 4
        while time.monotonic() < deadline:
            for path in ("/api/auth/me", "/api/podcasts", "/api/audio"):
                started = time.perf_counter()
                assert kid.get(path).status_code == 200
                took.append(time.perf_counter() - started)
        for t in threads:
            t.join(60)
        queued = answers.count(202)
        p50, p99 = statistics.median(took), _pct(took, 0.99)
        print(
            f"\n[{per_member or 'default'}] 41 hostile POSTs: {queued} queued, {answers.count(429)} refused (429); "
            f"{len(took)} ordinary requests of another member: p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, "
            f"max {max(took) * 1000:.1f} ms"
        )
        # Their own job meanwhile: a worker takes it at once although eve's jobs wait on every other one.
        started = time.perf_counter()
        own = kid.post("/api/podcasts", json={"feed_url": f"{held.url}/kid.xml", "episodes": 1})
        assert own.status_code == 202, own.text
        eventually(lambda: held.waiting >= 2, 5)
        to_worker = time.perf_counter() - started
        print(f"their own job on a worker after {to_worker * 1000:.0f} ms")
        assert sorted(set(answers)) == ([202] if per_member else [202, 429]), answers
        assert queued == (41 if per_member else settings.jobs_per_member)
        assert p99 < 1.0, (p50, p99, max(took))
        assert to_worker < 1.0
        assert held.waiting == 2  # eve holds one of the two workers, never both
        held.release()
        for c in (eve, kid):
            c.close()


def test_sigterm_with_jobs_in_flight_stops_cleanly_and_ends_them(tmp_path: Path, held: HeldFeeds) -> None:
    settings = _family(tmp_path / "data")
    env = {"ALLOW_PRIVATE_FEEDS": "true", "SESSION_SECRET": TEST_SECRET, "MQTT_ENABLED": "false"}
    with make_run_server(settings.data_dir, env) as server:
        mum = _login(server.url, ADMIN)
        made = []
        for n in range(3):
            r = mum.post("/api/podcasts", json={"feed_url": f"{held.url}/feed{n}.xml", "episodes": 1})
            assert r.status_code == 202, r.text
            made.append(r.json())
        eventually(lambda: held.waiting == 1, 5)  # one fetching (one worker is hers at most), two waiting
        mum.close()
        started = time.monotonic()
        os.kill(server.pid, signal.SIGTERM)

        def exited() -> bool:
            status = Path(f"/proc/{server.pid}/status")
            return not status.exists() or "\nState:\tZ" in status.read_text()

        eventually(exited, 10, every=0.05)
        stopped_in = time.monotonic() - started
    print(f"\nSIGTERM with 1 job running and 2 waiting: stopped in {stopped_in:.2f} s")
    assert stopped_in < 8, stopped_in
    log = server.log.read_text()
    assert "Application shutdown complete" in log and "Traceback" not in log, log[-3000:]
    runs = Adapters(settings).records.runs
    ended = [runs.get(p["last_run"]["id"]) for p in made]
    assert {r.status for r in ended} == {"failed"}
    details = sorted(r.detail or "" for r in ended)
    assert details[0].startswith("interrupted: the server stopped while it ran"), details
    assert all(d.startswith("not started: the server stopped first") for d in details[1:]), details
    assert all(r.finished_at is not None for r in ended)
