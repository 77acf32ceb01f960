"""Warm in-process request latency of the API, on both adapter sets.

Requests go straight into the ASGI app (httpx's ASGITransport, one event
loop, one request at a time), so what is measured is the app and its
adapters, not a network. For each backend:
- `GET /api/health` (no backend call), and
- `GET /api/audio?limit=200`: an authenticated listing of a 200-item library
  (session lookup + user check + one page of 200 records).
The local set uses SQLite under a temp dir; the AWS set a moto server that
this script starts on 127.0.0.1 (so its figures include moto's own time).

Baseline, in the same run and through the same transport: a trivial FastAPI
endpoint returning a constant. Figures are p50/p99 in milliseconds and the
ratio of each p50 to the baseline's p50.

Run: .venv/bin/python bench/api_latency.py [--runs 300]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ITEMS = 200
USER = ("mum", "correct horse battery staple")
ORIGIN = "http://127.0.0.1:8000"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def timed(app: Any, path: str, runs: int, cookies: dict[str, str] | None = None) -> list[float]:
    import httpx

    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
    async with httpx.AsyncClient(transport=transport, base_url=ORIGIN, cookies=cookies) as client:
        for _ in range(max(10, runs // 10)):  # warm-up: imports, adapters, connections
            assert (await client.get(path)).status_code == 200
        out = []
        for _ in range(runs):
            t0 = time.perf_counter()
            r = await client.get(path)
            out.append((time.perf_counter() - t0) * 1000)
            assert r.status_code == 200, r.text
        return out


def baseline_app() -> Any:
    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/ping")
    def ping() -> dict[str, str]:
        return {"status": "ok"}

    return app


@contextmanager
def aws_env(tmp: Path) -> Iterator[Any]:
    from tests.conftest import AWS_ENV, TEST_SECRET
    from tests.servers import moto_server

    saved = dict(os.environ)
    try:
        with moto_server(tmp) as url:
            os.environ.update(AWS_ENV)
            os.environ["AWS_ENDPOINT_URL"] = url
            from adapters.aws.bootstrap import create_resources
            from core.settings import Settings

            base = Settings(use_aws=True, aws_region=AWS_ENV["AWS_REGION"], data_dir=tmp)
            res = create_resources(base)
            yield res.settings_for(base, session_secret=TEST_SECRET, public_url=ORIGIN)
    finally:
        os.environ.clear()
        os.environ.update(saved)


def seeded_app(settings: Any) -> tuple[Any, dict[str, str]]:
    """The real app over `settings`, a user, 200 items and a session cookie."""
    import app.deps
    from adapters import Adapters
    from app.deps import COOKIE_NAME
    from app.main import create_app
    from core.records import AudioItem, new_id, utcnow
    from services import sessions
    from wiring import root_for

    adapters = Adapters(settings)
    app.deps.get_adapters = lambda: adapters  # type: ignore[assignment]
    adapters.identity.create_user(USER[0], USER[1], is_admin=True)
    now = utcnow()
    for i in range(ITEMS):
        item_id = new_id()
        adapters.records.audio.add(
            AudioItem(
                id=item_id,
                owner=USER[0],
                title=f"Story number {i}",
                storage_key=f"audio/{item_id}.mp3",
                size_bytes=1_000_000 + i,
                duration_s=180.0,
                created_at=now - timedelta(seconds=i),
            )
        )
    _, cookie = sessions.start(
        adapters.records.sessions, root_for(adapters).keys.cookie, USER[0], max_age_s=3600, member_id=USER[0]
    )
    return create_app(), {COOKIE_NAME: cookie}


def measure(backend: str, settings: Any, runs: int) -> list[tuple[str, list[float]]]:
    app, cookies = seeded_app(settings)
    listing = asyncio.run(timed(app, f"/api/audio?limit={ITEMS}", runs, cookies))
    health = asyncio.run(timed(app, "/api/health", runs))
    return [(f"{backend}: GET /api/health", health), (f"{backend}: GET /api/audio?limit={ITEMS}", listing)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=300)
    args = parser.parse_args()

    rows: list[tuple[str, list[float]]] = [("baseline: trivial FastAPI endpoint", [])]
    rows[0] = (rows[0][0], asyncio.run(timed(baseline_app(), "/ping", args.runs)))
    with tempfile.TemporaryDirectory() as tmp:
        from core.settings import Settings
        from tests.conftest import TEST_SECRET

        local = Settings(use_aws=False, data_dir=Path(tmp) / "data", session_secret=TEST_SECRET, public_url=ORIGIN)
        rows += measure("local", local, args.runs)
        with aws_env(Path(tmp)) as aws:
            rows += measure("aws (moto)", aws, args.runs)
    # The baseline again at the end: the machine is shared and noisy.
    rows.append(("baseline (again, after)", asyncio.run(timed(baseline_app(), "/ping", args.runs))))

    base_p50 = statistics.median(rows[0][1] + rows[-1][1])
    print(f"runs per row: {args.runs}; baseline p50 (both baseline rows): {base_p50:.3f} ms\n")
    print("| request | p50 ms | p99 ms | p50 vs baseline |")
    print("|---|---:|---:|---:|")
    for name, values in rows:
        p50, p99 = percentile(values, 0.5), percentile(values, 0.99)
        print(f"| {name} | {p50:.3f} | {p99:.3f} | {p50 / base_p50:.1f}x |")


if __name__ == "__main__":
    main()
