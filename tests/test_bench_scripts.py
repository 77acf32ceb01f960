"""The benchmark scripts still run against today's code.

Not a performance test (figures are read from bench/RESULTS.md, never
asserted here): each script runs once with the smallest parameters, so an
API change that breaks a script fails the suite instead of the next person
who wants figures. The streaming one starts its own uvicorn on 127.0.0.1.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

SMALL_RUNS = {
    "import_cost.py": ["--runs", "1"],
    "api_latency.py": ["--runs", "5"],
    "lambda_warm.py": ["--runs", "5"],
    "streaming.py": ["--clients", "2", "--duration", "1"],
    "transcode.py": ["--seconds", "2", "--repeat", "1"],
    "cold_start.py": ["--runs", "1"],
    "mqtt_command.py": ["--runs", "2"],
    "podcast_episode.py": ["--minutes", "0.05", "--rounds", "1"],
    "migrate.py": ["--objects", "2", "--size-kb", "16", "--rounds", "1"],
    "players.py": ["--runs", "2", "--events", "50", "--rounds", "1", "--restarts", "1", "--family", "2"],
    "ingest_vs_lame.py": ["--runs", "1", "--seconds", "2"],
    "yoto_upload.py": ["--seconds", "2", "--delays", "0.1", "--rounds", "1"],
    "split_long.py": ["--minutes", "1.2", "--pause-at", "0.85", "--limit-minutes", "1"],
}


def test_every_bench_script_is_covered() -> None:
    assert sorted(p.name for p in (ROOT / "bench").glob("*.py")) == sorted(SMALL_RUNS)


@pytest.mark.parametrize("script", sorted(SMALL_RUNS))
def test_bench_script_runs(script: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["TMPDIR"] = str(tmp_path)
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), *SMALL_RUNS[script]],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip(), "the script printed no figures"
