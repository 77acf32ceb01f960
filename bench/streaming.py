"""Concurrent streaming of one 30 MB item through the app under uvicorn.

Two servers, each a uvicorn process on 127.0.0.1 measured one after the other
with the same load in the same run:
- the app (`app.main:app`, local backend) serving the player stream URL
  `/s/{token}.mp3` (token check, record lookup, then the file with Range);
- baseline: a bare Starlette `StaticFiles` app serving the same file (same
  Range code underneath, nothing else).
The load: CLIENTS concurrent clients (asyncio + httpx, one process), each
looping for DURATION seconds over random `Range` requests of CHUNK bytes and
checking every byte against the file. Reported: requests, errors (non-206 or
wrong bytes), p50/p99 time to first byte (response headers), throughput.

Client and servers share this machine's cores, so absolute figures are low;
the ratio against the baseline is what the numbers are for.

Run: .venv/bin/python bench/streaming.py [--clients 200] [--duration 15] [--chunk 262144]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SIZE = 30 * 1024 * 1024
SECRET = "bench-session-secret-not-for-production-0123456789"


def static_app() -> Any:
    """The baseline server (`uvicorn --factory bench.streaming:static_app`)."""
    from starlette.applications import Starlette
    from starlette.routing import Mount
    from starlette.staticfiles import StaticFiles

    return Starlette(routes=[Mount("/static", StaticFiles(directory=os.environ["BENCH_STATIC_DIR"]))])


@dataclass
class Result:
    ttfb_ms: list[float] = field(default_factory=list)
    errors: int = 0
    error_kinds: dict[str, int] = field(default_factory=dict)
    bytes: int = 0
    seconds: float = 0.0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else float("nan")


async def client_loop(client: Any, url: str, data: bytes, chunk: int, until: float, seed: int, out: Result) -> None:
    import httpx

    rng = random.Random(seed)
    while time.perf_counter() < until:
        start = rng.randrange(SIZE - chunk)
        end = start + chunk - 1
        t0 = time.perf_counter()
        try:
            async with client.stream("GET", url, headers={"Range": f"bytes={start}-{end}"}) as r:
                ttfb = (time.perf_counter() - t0) * 1000
                body = await r.aread()
            if r.status_code != 206 or body != data[start : end + 1]:
                kind = f"status {r.status_code}" if r.status_code != 206 else "wrong bytes"
                out.errors += 1
                out.error_kinds[kind] = out.error_kinds.get(kind, 0) + 1
                continue
            out.ttfb_ms.append(ttfb)
            out.bytes += len(body)
        except httpx.HTTPError as exc:
            out.errors += 1
            out.error_kinds[type(exc).__name__] = out.error_kinds.get(type(exc).__name__, 0) + 1


async def load(url: str, data: bytes, clients: int, duration: float, chunk: int) -> Result:
    import httpx

    out = Result()
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:
        started = time.perf_counter()
        until = started + duration
        await asyncio.gather(*(client_loop(client, url, data, chunk, until, i, out) for i in range(clients)))
        out.seconds = time.perf_counter() - started
    return out


def serve(args: list[str], env: dict[str, str], log: Path, ready_url: str) -> subprocess.Popen[bytes]:
    from tests.servers import stop, wait_http

    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", *args, "--host", "127.0.0.1", "--no-access-log", "--log-level", "warning"],
        env=env,
        cwd=ROOT,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    try:
        wait_http(ready_url)
    except BaseException:
        stop(proc)
        raise
    return proc


def report(name: str, res: Result) -> str:
    total = len(res.ttfb_ms) + res.errors
    mb_s = res.bytes / res.seconds / 1e6
    return (
        f"| {name} | {total} | {res.errors} | {percentile(res.ttfb_ms, 0.5):.1f} | "
        f"{percentile(res.ttfb_ms, 0.99):.1f} | {total / res.seconds:.0f} | {mb_s:.0f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--duration", type=float, default=15.0)
    parser.add_argument("--chunk", type=int, default=256 * 1024)
    args = parser.parse_args()

    from adapters import Adapters
    from app.keys import keys_for
    from core.records import AudioItem, new_id
    from core.settings import Settings
    from services.streams import make_token
    from tests.servers import free_port, stop

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        app_port, static_port = free_port(), free_port()
        settings = Settings(
            use_aws=False, data_dir=tmp / "data", session_secret=SECRET, public_url=f"http://127.0.0.1:{app_port}"
        )
        adapters = Adapters(settings)
        data = os.urandom(SIZE)
        item_id = new_id()
        key = f"audio/{item_id}.mp3"
        adapters.storage.put_bytes(key, data, "audio/mpeg")
        item = AudioItem(id=item_id, owner="mum", title="big", storage_key=key, size_bytes=SIZE, duration_s=1966.0)
        adapters.records.audio.add(item)
        app_url = f"http://127.0.0.1:{app_port}/s/{make_token(keys_for(adapters).stream, item)}.mp3"
        static_dir = tmp / "static"
        static_dir.mkdir()
        (static_dir / "big.mp3").write_bytes(data)
        static_url = f"http://127.0.0.1:{static_port}/static/big.mp3"

        env = {**os.environ, "USE_AWS": "false", "DATA_DIR": str(settings.data_dir), "SESSION_SECRET": SECRET}
        env["PUBLIC_URL"] = settings.public_url
        env["BENCH_STATIC_DIR"] = str(static_dir)
        env.pop("AWS_ENDPOINT_URL", None)

        rows = []
        for name, server_args, url in (
            ("baseline: Starlette StaticFiles", ["--factory", "bench.streaming:static_app"], static_url),
            ("app: /s/{token}.mp3 (local)", ["app.main:app"], app_url),
        ):
            port = str(static_port if "static" in url else app_port)
            proc = serve([*server_args, "--port", port], env, tmp / f"{port}.log", url)
            try:
                asyncio.run(load(url, data, min(args.clients, 20), 2.0, args.chunk))  # warm-up
                res = asyncio.run(load(url, data, args.clients, args.duration, args.chunk))
            finally:
                stop(proc)
            rows.append((name, res))

    print(f"{args.clients} clients, {args.duration:.0f} s each run, Range requests of {args.chunk} bytes")
    print("\n| server | requests | errors | p50 TTFB ms | p99 TTFB ms | req/s | MB/s |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, res in rows:
        print(report(name, res))
        if res.error_kinds:
            print(f"<!-- {name} errors: {res.error_kinds} -->")
    base, app = rows[0][1], rows[1][1]
    p99_ratio = percentile(app.ttfb_ms, 0.99) / percentile(base.ttfb_ms, 0.99)
    tput_ratio = (app.bytes / app.seconds) / (base.bytes / base.seconds)
    print(f"\napp vs baseline: p99 TTFB {p99_ratio:.2f}x, throughput {tput_ratio:.2f}x")


if __name__ == "__main__":
    main()
