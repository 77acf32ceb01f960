"""Lambda cold start: a fresh process imports the handler and serves its first event.

What runs is the real Lambda package (`infra.lambda_package`, host
architecture, CPython 3.12 when this machine has it), unpacked and started as
`python3.12 -I -S -B`: only the package on sys.path and no bytecode written,
as on Lambda where /var/task is read-only (so with no .pyc shipped, every
cold start compiles every module it imports).

Cases, interleaved round by round so machine noise hits them alike:
- baseline: a hello-world FastAPI + Mangum app (imported from the same
  package dir) answering `GET /api/health`;
- app health: `app.lambda_handler` answering `GET /api/health`;
- app listing: `app.lambda_handler` answering an authenticated
  `GET /api/audio?limit=200` (moto server, 200 items, session cookie), which
  also pays for boto3 and the first clients;
- app stream redirect: `app.lambda_handler` answering a player's first
  `GET /s/{token}.mp3` with its 302 to a presigned S3 URL (moto: one DynamoDB
  read; the presigning is computed, no round trip), the path a player hits first;
- the baseline and app health again from a package built without .pyc
  (`precompile=False`), which is what the ahead-of-time bytecode saves.

Reported per case: median of in-process time (import + first event) and of
process wall time, and the ratio to the baseline. Then the top 10 of
`python -X importtime` for `import app.lambda_handler`.

Run: .venv/bin/python bench/cold_start.py [--runs 10]
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

LAMBDA_PYTHON = Path("/root/.pyenv/versions/3.12.1/bin/python3.12")

CHILD = r"""
import time
t0 = time.perf_counter()
import json, sys
package, mode = sys.argv[1], sys.argv[2]
sys.path.insert(0, package)
if mode == "hello":
    from fastapi import FastAPI
    from mangum import Mangum
    app = FastAPI()
    @app.get("/api/health")
    def health():
        return {"status": "ok"}
    handler = Mangum(app, lifespan="off")
else:
    from app.lambda_handler import handler
t1 = time.perf_counter()
class Context:
    aws_request_id = "bench"
    function_name = "bench"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:eu-west-2:123456789012:function:bench"
    def get_remaining_time_in_millis(self):
        return 29000
event = json.loads(sys.stdin.read())
response = handler(event, Context())
t2 = time.perf_counter()
print(json.dumps({"import_ms": (t1 - t0) * 1000, "first_ms": (t2 - t1) * 1000, "total_ms": (t2 - t0) * 1000,
                  "status": response["statusCode"], "boto3": "boto3" in sys.modules}))
"""


def interpreter() -> tuple[str, str]:
    if LAMBDA_PYTHON.exists():
        return str(LAMBDA_PYTHON), "3.12"
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    print(f"note: {LAMBDA_PYTHON} missing; using the host's CPython {version}", file=sys.stderr)
    return sys.executable, version


def run_child(
    python: str, package: Path, mode: str, event: dict[str, Any], env: dict[str, str], expect: int = 200
) -> dict[str, Any]:
    started = time.perf_counter()
    proc = subprocess.run(
        [python, "-I", "-S", "-B", "-c", CHILD, str(package), mode],
        input=json.dumps(event),
        capture_output=True,
        text=True,
        env=env,
        cwd=package,
        timeout=120,
    )
    wall = (time.perf_counter() - started) * 1000
    if proc.returncode != 0:
        raise RuntimeError(f"{mode} child failed:\n{proc.stderr[-3000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    if out["status"] != expect:
        raise RuntimeError(f"{mode} answered {out['status']}:\n{proc.stderr[-2000:]}")
    out["wall_ms"] = wall
    return out


def import_top10(python: str, package: Path, env: dict[str, str]) -> tuple[list[str], list[str]]:
    code = f"import sys; sys.path.insert(0, {str(package)!r}); import app.lambda_handler"
    proc = subprocess.run(
        [python, "-I", "-S", "-B", "-X", "importtime", "-c", code], capture_output=True, text=True, env=env
    )
    rows: list[tuple[int, int, str]] = []
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, cum_us, name = line.removeprefix("import time:").split("|")
        rows.append((int(self_us), int(cum_us), name.rstrip()))
    # Packages (no dot in the name) outside the project, by their cumulative import time.
    packages = [r for r in rows if "." not in r[2].strip() and r[2].strip() not in ("app", "adapters")]
    top_level = sorted(packages, key=lambda r: -r[1])[:10]
    by_self = sorted(rows, key=lambda r: -r[0])[:10]
    fmt = [f"{cum / 1000:8.1f} ms  {name.strip()}" for _, cum, name in top_level]
    fmt_self = [f"{s / 1000:8.1f} ms  {name.strip()}" for s, _, name in by_self]
    return fmt, fmt_self


def stream_path(env: dict[str, str]) -> str:
    """The player URL path of one more item added to the seeded table."""
    from adapters import Adapters
    from core.records import AudioItem, new_id
    from core.settings import load_settings
    from services.streams import make_token
    from wiring import root_for

    saved = dict(os.environ)
    try:
        os.environ.update(env)
        adapters = Adapters(load_settings())
        item_id = new_id()
        item = AudioItem(
            id=item_id, owner="bench", title="Lullaby", storage_key=f"audio/{item_id}.mp3", size_bytes=1, duration_s=1
        )
        adapters.records.audio.add(item)
        return f"/s/{make_token(root_for(adapters).keys.stream, item)}.mp3"
    finally:
        os.environ.clear()
        os.environ.update(saved)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Lambda cold start against a hello-world baseline")
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args(argv)

    from lambda_warm import seeded_moto

    from infra.lambda_package import build_lambda_package

    apigw = importlib.import_module("tests.lambda.apigw")
    python, version = interpreter()
    load_before = os.getloadavg()
    result = build_lambda_package(platform.machine(), python_version=version)
    with tempfile.TemporaryDirectory() as tmp:
        plain = Path(tmp) / "task"
        with zipfile.ZipFile(result.zip_path) as zf:
            zf.extractall(plain)
        no_pyc = Path(tmp) / "task-no-pyc"
        source_only = build_lambda_package(platform.machine(), python_version=version, precompile=False)
        with zipfile.ZipFile(source_only.zip_path) as zf:
            zf.extractall(no_pyc)
        with seeded_moto() as seeded:
            env = {
                **seeded.env,
                "AWS_LAMBDA_FUNCTION_NAME": "bench",
                "AWS_CONFIG_FILE": str(Path(tmp) / "none"),
                "AWS_SHARED_CREDENTIALS_FILE": str(Path(tmp) / "none"),
                "HOME": tmp,
                "TMPDIR": tmp,
                "PATH": "/usr/bin:/bin",
            }
            health = apigw.http_event("GET", "/api/health")
            listing = apigw.http_event("GET", "/api/audio", query=[("limit", "200")], cookies=[seeded.cookie])
            stream = apigw.http_event("GET", stream_path(seeded.env))
            cases = {
                "baseline hello-world health": (plain, "hello", health, 200),
                "app health": (plain, "app", health, 200),
                "app listing (200 items)": (plain, "app", listing, 200),
                "app stream redirect (302)": (plain, "app", stream, 302),
                "baseline, no .pyc": (no_pyc, "hello", health, 200),
                "app health, no .pyc": (no_pyc, "app", health, 200),
            }
            samples: dict[str, list[dict[str, Any]]] = {name: [] for name in cases}
            for _ in range(args.runs):
                for name, (package, mode, event, expect) in cases.items():
                    samples[name].append(run_child(python, package, mode, event, env, expect))
            top_cum, top_self = import_top10(python, plain, env)

    base = statistics.median(s["total_ms"] for s in samples["baseline hello-world health"])
    base_wall = statistics.median(s["wall_ms"] for s in samples["baseline hello-world health"])
    print(f"package {result.zip_path.name}: {result.zipped_bytes / 2**20:.1f} MiB zipped, .pyc {result.precompiled}")
    print(f"interpreter {python} (-I -S -B), runs={args.runs}, medians, interleaved")
    print(f"load average (1/5/15 min): before {_load(load_before)}, after {_load(os.getloadavg())}")
    print(
        f"{'case':<30} {'import ms':>9} {'1st event':>9} {'total ms':>9} {'ratio':>7} {'wall ms':>8} {'wall ratio':>10}"
    )
    for name, rows in samples.items():
        imp = statistics.median(r["import_ms"] for r in rows)
        first = statistics.median(r["first_ms"] for r in rows)
        total = statistics.median(r["total_ms"] for r in rows)
        wall = statistics.median(r["wall_ms"] for r in rows)
        print(
            f"{name:<30} {imp:>9.0f} {first:>9.0f} {total:>9.0f} {total / base:>6.2f}x {wall:>8.0f} "
            f"{wall / base_wall:>9.2f}x"
        )
    print("\ntop 10 packages of -X importtime for `import app.lambda_handler` (cumulative):")
    print("\n".join(top_cum))
    print("\ntop 10 by self time:")
    print("\n".join(top_self))
    return 0


def _load(avg: tuple[float, float, float]) -> str:
    return "/".join(f"{x:.2f}" for x in avg)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
