"""Concurrent streaming of one 30 MB item through the app under uvicorn.

Servers, each a uvicorn process on 127.0.0.1, all started at once and loaded
one at a time with the same load, in interleaved rounds (the order reversed
every round), so a change in the machine's load hits every server alike:
- baseline: a bare Starlette `StaticFiles` app serving the same file (the same
  Range code underneath, nothing else);
- the app (`app.main:app`, local backend) serving the player stream URL
  `/s/{token}.mp3` (token check, record lookup, then the file with Range);
- with `--before DIR`: the app of another checkout (e.g. `git archive <commit>`
  unpacked in DIR), over the same data, for before/after figures from one run.
The load: CLIENTS concurrent clients (asyncio + httpx, one process), each
looping for DURATION seconds over random `Range` requests of CHUNK bytes and
checking every byte against the file. Per round and server: requests, errors
(non-206 or wrong bytes), p50/p99 time to first byte (response headers),
throughput, and the server process's CPU time per request (from /proc: the
least noisy figure on a shared machine, since other processes' load stretches
wall time but not the CPU a request costs). Reported: the median of each over the rounds, and the median of the
per-round ratios against the baseline (each ratio from one round, so from
neighbouring minutes).

Client and servers share this machine's cores, so absolute figures are low;
the ratios are what the numbers are for. The load average is printed before
and after.

Run: .venv/bin/python bench/streaming.py [--clients 10] [--duration 5] [--rounds 5]
     [--chunk 262144] [--before DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
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
    server_cpu_s: float = 0.0


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


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def serve(args: list[str], env: dict[str, str], log: Path, ready_url: str, cwd: Path) -> subprocess.Popen[bytes]:
    from tests.servers import stop, wait_http

    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", *args, "--host", "127.0.0.1", "--no-access-log", "--log-level", "warning"],
        env={**env, "PYTHONPATH": str(cwd)},
        cwd=cwd,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    try:
        wait_http(ready_url)
    except BaseException:
        stop(proc)
        raise
    return proc


@dataclass(frozen=True)
class Server:
    name: str
    args: list[str]
    url: str
    cwd: Path


def figures(res: Result) -> dict[str, float]:
    total = len(res.ttfb_ms) + res.errors
    return {
        "requests": total,
        "errors": res.errors,
        "p50": percentile(res.ttfb_ms, 0.5),
        "p99": percentile(res.ttfb_ms, 0.99),
        "req_s": total / res.seconds,
        "mb_s": res.bytes / res.seconds / 1e6,
        "cpu_us": res.server_cpu_s / max(len(res.ttfb_ms), 1) * 1e6,
    }


def median_of(rows: list[dict[str, float]], key: str) -> float:
    return statistics.median(r[key] for r in rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds of load per server and round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--chunk", type=int, default=256 * 1024)
    parser.add_argument("--before", type=Path, help="a checkout whose app.main:app is measured too")
    args = parser.parse_args()

    from adapters import Adapters
    from core.records import AudioItem, new_id
    from core.settings import Settings
    from services.streams import make_token
    from tests.servers import free_port, stop
    from wiring import root_for

    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        app_port, static_port, before_port = free_port(), free_port(), free_port()
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
        token_path = f"/s/{make_token(root_for(adapters).keys.stream, item)}.mp3"
        static_dir = tmp / "static"
        static_dir.mkdir()
        (static_dir / "big.mp3").write_bytes(data)

        env = {**os.environ, "USE_AWS": "false", "DATA_DIR": str(settings.data_dir), "SESSION_SECRET": SECRET}
        env["PUBLIC_URL"] = settings.public_url
        env["BENCH_STATIC_DIR"] = str(static_dir)
        env.pop("AWS_ENDPOINT_URL", None)

        servers = [
            Server(
                "baseline: Starlette StaticFiles",
                ["--factory", "bench.streaming:static_app", "--port", str(static_port)],
                f"http://127.0.0.1:{static_port}/static/big.mp3",
                ROOT,
            ),
            Server(
                "app: /s/{token}.mp3 (local)",
                ["app.main:app", "--port", str(app_port)],
                f"http://127.0.0.1:{app_port}{token_path}",
                ROOT,
            ),
        ]
        if args.before is not None:
            servers.append(
                Server(
                    f"before ({args.before.name}): /s/{{token}}.mp3 (local)",
                    ["app.main:app", "--port", str(before_port)],
                    f"http://127.0.0.1:{before_port}{token_path}",
                    args.before.resolve(),
                )
            )
        procs = []
        results: dict[str, list[Result]] = {s.name: [] for s in servers}
        try:
            for server in servers:
                procs.append(serve(server.args, env, tmp / f"server-{len(procs)}.log", server.url, server.cwd))
            for server in servers:  # warm-up
                asyncio.run(load(server.url, data, min(args.clients, 20), 2.0, args.chunk))
            pids = {server.name: proc.pid for server, proc in zip(servers, procs, strict=True)}
            for r in range(args.rounds):
                for server in servers if r % 2 == 0 else servers[::-1]:
                    cpu0 = cpu_seconds(pids[server.name])
                    res = asyncio.run(load(server.url, data, args.clients, args.duration, args.chunk))
                    res.server_cpu_s = cpu_seconds(pids[server.name]) - cpu0
                    results[server.name].append(res)
        finally:
            for proc in procs:
                stop(proc)
    load_after = os.getloadavg()

    print(
        f"{args.clients} clients, {args.rounds} interleaved rounds of {args.duration:g} s per server, "
        f"Range requests of {args.chunk} bytes"
    )
    print(f"load average (1/5/15 min): before {_load(load_before)}, after {_load(load_after)}")
    print("\nMedians over the rounds:\n")
    print(
        "| server | requests/round | errors (all rounds) | p50 TTFB ms | p99 TTFB ms | req/s | MB/s "
        "| server CPU us/request |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    per_server = {name: [figures(res) for res in runs] for name, runs in results.items()}
    for name, rows in per_server.items():
        errors = sum(int(r["errors"]) for r in rows)
        print(
            f"| {name} | {median_of(rows, 'requests'):.0f} | {errors} | {median_of(rows, 'p50'):.1f} | "
            f"{median_of(rows, 'p99'):.1f} | {median_of(rows, 'req_s'):.0f} | {median_of(rows, 'mb_s'):.0f} "
            f"| {median_of(rows, 'cpu_us'):.0f} |"
        )
        kinds: dict[str, int] = {}
        for res in results[name]:
            for kind, n in res.error_kinds.items():
                kinds[kind] = kinds.get(kind, 0) + n
        if kinds:
            print(f"<!-- {name} errors: {kinds} -->")
    base = per_server[servers[0].name]
    print()
    for server in servers[1:]:
        rows = per_server[server.name]
        tput = [row["mb_s"] / b["mb_s"] for row, b in zip(rows, base, strict=True)]
        p99 = [row["p99"] / b["p99"] for row, b in zip(rows, base, strict=True)]
        cpu = [row["cpu_us"] / b["cpu_us"] for row, b in zip(rows, base, strict=True)]
        print(
            f"{server.name} vs baseline (median of per-round ratios): throughput {statistics.median(tput):.2f}x "
            f"(rounds {_span(tput)}), p99 TTFB {statistics.median(p99):.2f}x (rounds {_span(p99)}), "
            f"server CPU per request {statistics.median(cpu):.2f}x (rounds {_span(cpu)})"
        )


def _load(avg: tuple[float, float, float]) -> str:
    return "/".join(f"{x:.2f}" for x in avg)


def _span(values: list[float]) -> str:
    return f"{min(values):.2f}-{max(values):.2f}"


if __name__ == "__main__":
    main()
