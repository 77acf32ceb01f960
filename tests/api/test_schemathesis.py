"""The OpenAPI document is the truth, checked against the running app.

schemathesis (`st run`, all checks, every phase: examples, coverage,
fuzzing and the stateful phase that chains operations through the links it
infers) fuzzes every operation of `/api/openapi.json` served by a real
uvicorn on 127.0.0.1, signed in as an admin (`schemathesis_hooks.py`), with a
bounded number of examples and a fixed seed, so a run is reproducible and
its length bounded. A route added later is in the document, so it is fuzzed
without a line here; a route kept out of the document fails
`test_every_route_is_in_the_document`.

What the settings let through, and why, is in `schemathesis.toml`.
Environment: YSS_FUZZ_EXAMPLES (per operation, default 25) and
YSS_FUZZ_SEED (an integer, or "random" to explore).
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from adapters import Adapters
from core.settings import Settings
from tests.live_server import live_app

ROOT = Path(__file__).resolve().parents[2]
CONFIG = Path(__file__).with_name("schemathesis.toml")
EXAMPLES = int(os.environ.get("YSS_FUZZ_EXAMPLES", "25"))
# The AWS set (every call a round trip to moto) runs the generated phases
# only, with fewer examples, to keep the pair within a few minutes; the local
# run has every phase. YSS_FUZZ_AWS_FULL=1 runs the AWS set like the local one.
AWS_FULL = os.environ.get("YSS_FUZZ_AWS_FULL") == "1"
SEED = os.environ.get("YSS_FUZZ_SEED", "20261201")
RUN_TIMEOUT_S = 900

# Limits that would turn the fuzzer's own traffic into 429s.
FUZZ_LIMITS: dict[str, Any] = {
    "login_max_failures": 1_000_000,
    "login_max_failures_per_address": 1_000_000,
    "tts_daily_chars": 100_000_000,
    "max_upload_mb": 2,
}
HTTP_METHODS = {"GET", "PUT", "POST", "DELETE", "OPTIONS", "HEAD", "PATCH", "TRACE"}
# Served but not operations of the API: the document itself and its viewer,
# the web UI's pages and files (and its feature list), and the players' event
# stream (SSE: an answer that never ends, which a fuzzer cannot read to its end;
# tests/api and tests/mqtt test it).
NOT_OPERATIONS = {
    *("/api/openapi.json", "/api/docs", "/api/docs/start.js", "/api/docs/{asset}"),
    *("/", "/index.html", "/manifest.webmanifest", "/assets/{relative}", "/api/ui/features"),
    "/api/players/stream",
}
# pydantic's own names for bounds, which it writes into a schema where it
# cannot place a constraint (a bound on `int | SkipJsonSchema[None]`, or
# placed after a BeforeValidator): no JSON Schema reader knows them.
PYTHON_BOUNDS = {"ge", "gt", "le", "lt"}


def documented_operations(doc: dict[str, Any]) -> set[str]:
    return {f"{m.upper()} {path}" for path, ops in doc["paths"].items() for m in ops if m.upper() in HTTP_METHODS}


def test_every_route_is_in_the_document() -> None:
    """A route missing from the document would never be fuzzed. HEAD may be
    left out where GET of the same path is documented (it answers the same
    without the body)."""
    from fastapi.routing import iter_route_contexts

    from app.main import create_app

    app = create_app()
    documented = documented_operations(app.openapi())
    served = {
        f"{method} {context.path_format}"
        for context in iter_route_contexts(app.routes)
        if context.path_format not in NOT_OPERATIONS
        for method in context.methods or ()
    }
    assert not _python_bounds(app.openapi()), f"constraints JSON Schema cannot read: {_python_bounds(app.openapi())}"
    missing = {op for op in served - documented if not (op.startswith("HEAD ") and f"GET {op[5:]}" in documented)}
    assert not missing, f"routes the OpenAPI document does not list: {sorted(missing)}"
    assert documented <= served


def _python_bounds(node: Any, where: str = "#") -> list[str]:
    if isinstance(node, dict):
        found = [f"{where}/{k}" for k in PYTHON_BOUNDS & node.keys() if not isinstance(node[k], dict)]
        return found + [hit for k, v in node.items() for hit in _python_bounds(v, f"{where}/{k}")]
    if isinstance(node, list):
        return [hit for i, v in enumerate(node) for hit in _python_bounds(v, f"{where}/{i}")]
    return []


def _junit_results(path: Path) -> tuple[set[str], list[str]]:
    """(operations tested, "label: message" of each failure or error)."""
    tested: set[str] = set()
    problems: list[str] = []
    for case in ET.parse(path).getroot().iter("testcase"):
        name = case.get("name", "")
        tested.add(name)
        for bad in (*case.findall("failure"), *case.findall("error")):
            problems.append(f"{name}: {(bad.get('message') or bad.text or '').strip()[:300]}")
    return tested, problems


def test_the_running_api_keeps_its_openapi_contract(backend_settings: Settings, tmp_path: Path) -> None:
    settings = backend_settings.model_copy(update=FUZZ_LIMITS)
    admin, spare = ("fuzzer", secrets.token_urlsafe(18)), ("spare-admin", secrets.token_urlsafe(18))
    adapters = Adapters(settings)
    adapters.identity.create_user(*admin, is_admin=True)
    adapters.identity.create_user(*spare, is_admin=True)
    junit = tmp_path / "schemathesis-junit.xml"
    output = tmp_path / "schemathesis.txt"
    with live_app(settings, tmp_path) as base:
        import httpx

        doc = httpx.get(f"{base}/api/openapi.json", timeout=30).json()
        seed = str(secrets.randbits(64)) if SEED == "random" else SEED
        full = not settings.use_aws or AWS_FULL
        phases = "examples,coverage,fuzzing,stateful" if full else "fuzzing,stateful"
        examples = EXAMPLES if full else max(1, EXAMPLES * 2 // 5)
        cmd = [
            *(sys.executable, "-m", "schemathesis.cli", "--config-file", str(CONFIG), "--no-color", "run"),
            f"{base}/api/openapi.json",
            *("--checks", "all", "--phases", phases),
            *("--max-examples", str(examples), "--seed", seed, "--header", f"Origin: {base}"),
            *("--request-timeout", "60", "--report", "junit", "--report-junit-path", str(junit)),
        ]
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "SCHEMATHESIS_HOOKS": "tests.api.schemathesis_hooks",
            "YSS_FUZZ_BASE": base,
            "YSS_FUZZ_USER": admin[0],
            "YSS_FUZZ_PASSWORD": admin[1],
            "YSS_FUZZ_SPARE": spare[0],
            "YSS_FUZZ_BACKEND": "aws" if settings.use_aws else "local",
        }
        with output.open("w") as out:
            run = subprocess.run(cmd, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, timeout=RUN_TIMEOUT_S)
    text = output.read_text()
    assert junit.exists(), text[-5000:]
    tested, problems = _junit_results(junit)
    assert documented_operations(doc) <= tested, f"not fuzzed: {sorted(documented_operations(doc) - tested)}"
    assert run.returncode == 0 and not problems, (
        f"seed {seed}; {len(problems)} problem(s):\n" + "\n".join(problems) + "\n\n" + text[-15000:]
    )
