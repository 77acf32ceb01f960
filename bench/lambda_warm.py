"""Warm Lambda invocations: p50/p99 of the handler called in-process.

One "container" (this process) answers API Gateway v2 events through
`app.lambda_handler.handler`, after one warm-up call, for:
- `GET /api/health` (no backend call at all), and
- `GET /api/audio?limit=200`, an authenticated listing of a 200-item library
  in DynamoDB (moto server on 127.0.0.1).

Baseline, measured in the same run: a hello-world FastAPI + Mangum app
answering the same health event. Moto's own share is the time spent inside
botocore's HTTP send (the round trips to moto), timed with a wrapper around
`botocore.endpoint.Endpoint._send`; on AWS that part would be the latency of
DynamoDB and Cognito instead (the session check reads DynamoDB, the user
check asks Cognito).

Run: .venv/bin/python bench/lambda_warm.py [--runs 300]
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

USERNAME = "mum"
PASSWORD = "correct horse battery staple"
ITEMS = 200


@dataclass
class Seeded:
    env: dict[str, str]  # the function's environment (moto endpoint included)
    cookie: str  # "yss_session=..." of a logged-in user
    moto_url: str


@contextmanager
def seeded_moto(items: int = ITEMS) -> Iterator[Seeded]:
    """A moto server with the app's resources, one user, `items` library items
    and a session cookie; the process environment points at it meanwhile."""
    from adapters import Adapters, reset_adapters
    from adapters.aws.bootstrap import create_resources
    from core.records import AudioItem, new_id
    from core.settings import Settings
    from tests.conftest import AWS_ENV, TEST_SECRET
    from tests.servers import moto_server

    apigw = importlib.import_module("tests.lambda.apigw")
    settings_env = importlib.import_module("tests.lambda.conftest").settings_env
    saved = dict(os.environ)
    with tempfile.TemporaryDirectory() as tmp, moto_server(Path(tmp)) as url:
        try:
            os.environ.update(AWS_ENV)
            os.environ["AWS_ENDPOINT_URL"] = url
            base = Settings(use_aws=True, aws_region=AWS_ENV["AWS_REGION"], data_dir=Path(tmp))
            res = create_resources(base, prefix="bench")
            settings = res.settings_for(base, session_secret=TEST_SECRET, public_url=f"https://{apigw.DOMAIN}")
            env = {**AWS_ENV, **settings_env(settings), "AWS_ENDPOINT_URL": url}
            os.environ.update(env)
            adapters = Adapters(settings)
            adapters.identity.create_user(USERNAME, PASSWORD, is_admin=True)
            for i in range(items):
                item_id = new_id()
                adapters.records.audio.add(
                    AudioItem(
                        id=item_id,
                        owner=USERNAME,
                        title=f"Bedtime story {i:03d}",
                        storage_key=f"audio/{item_id}.mp3",
                        size_bytes=1_000_000 + i,
                        duration_s=300.0 + i,
                    )
                )
            reset_adapters()
            from app.lambda_handler import handler

            login = apigw.http_event(
                "POST",
                "/api/auth/login",
                headers={"content-type": "application/json", "origin": f"https://{apigw.DOMAIN}"},
                body=json.dumps({"username": USERNAME, "password": PASSWORD}),
            )
            response = handler(login, apigw.LambdaContext())
            if response["statusCode"] != 200:
                raise RuntimeError(f"bench login failed: {response}")
            cookie = next(c for c in response["cookies"] if c.startswith("yss_session=")).split(";", 1)[0]
            reset_adapters()
            yield Seeded(env=env, cookie=cookie, moto_url=url)
        finally:
            reset_adapters()
            os.environ.clear()
            os.environ.update(saved)


class MotoClock:
    """Total time spent in botocore's HTTP send (round trips to moto)."""

    def __init__(self) -> None:
        from botocore.endpoint import Endpoint

        self.total = 0.0
        self.calls = 0
        original = Endpoint._send
        clock = self

        def timed_send(endpoint: Any, request: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(endpoint, request)
            finally:
                clock.total += time.perf_counter() - started
                clock.calls += 1

        Endpoint._send = timed_send  # type: ignore[method-assign]


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


def measure(call: Callable[[], dict[str, Any]], runs: int, clock: MotoClock | None) -> dict[str, float]:
    call()  # warm-up: builds adapters and clients once, as the first request of a container does
    times: list[float] = []
    moto_before = clock.total if clock else 0.0
    calls_before = clock.calls if clock else 0
    for _ in range(runs):
        started = time.perf_counter()
        response = call()
        times.append(time.perf_counter() - started)
        if response["statusCode"] != 200:
            raise RuntimeError(f"unexpected response: {response['statusCode']} {response.get('body', '')[:200]}")
    out = {
        "p50_ms": percentile(times, 50) * 1000,
        "p99_ms": percentile(times, 99) * 1000,
        "mean_ms": statistics.fmean(times) * 1000,
    }
    if clock:
        out["moto_ms_per_call"] = (clock.total - moto_before) / runs * 1000
        out["aws_calls_per_call"] = (clock.calls - calls_before) / runs
    return out


def hello_handler() -> Any:
    from fastapi import FastAPI
    from mangum import Mangum

    hello = FastAPI()

    @hello.get("/api/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return Mangum(hello, lifespan="off")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="warm Lambda handler latency")
    parser.add_argument("--runs", type=int, default=300)
    args = parser.parse_args(argv)
    apigw = importlib.import_module("tests.lambda.apigw")
    ctx = apigw.LambdaContext()
    with seeded_moto() as seeded:
        clock = MotoClock()
        from app.lambda_handler import handler

        baseline = hello_handler()
        health = apigw.http_event("GET", "/api/health")
        listing = apigw.http_event("GET", "/api/audio", query=[("limit", "200")], cookies=[seeded.cookie])
        first = handler(listing, ctx)
        count = len(json.loads(first["body"])["items"])
        if count != ITEMS:
            raise RuntimeError(f"expected {ITEMS} items in the listing, got {count}")
        results = {
            "baseline hello-world health": measure(lambda: baseline(health, ctx), args.runs, None),
            "app health": measure(lambda: handler(health, ctx), args.runs, clock),
            f"app listing ({ITEMS} items)": measure(lambda: handler(listing, ctx), max(20, args.runs // 3), clock),
        }
    base = results["baseline hello-world health"]["p50_ms"]
    print(f"python {sys.version.split()[0]}, runs={args.runs} (listing: {max(20, args.runs // 3)})")
    print(f"{'case':<30} {'p50 ms':>8} {'p99 ms':>8} {'p50 / baseline':>15} {'moto ms':>8} {'AWS calls':>9}")
    for name, r in results.items():
        moto = f"{r['moto_ms_per_call']:.2f}" if "moto_ms_per_call" in r else "-"
        calls = f"{r['aws_calls_per_call']:.1f}" if "aws_calls_per_call" in r else "-"
        print(f"{name:<30} {r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f} {r['p50_ms'] / base:>14.2f}x {moto:>8} {calls:>9}")
    listing_r = results[f"app listing ({ITEMS} items)"]
    print(
        f"listing without moto's round trips: ~{listing_r['mean_ms'] - listing_r['moto_ms_per_call']:.1f} ms "
        f"of {listing_r['mean_ms']:.1f} ms mean"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
