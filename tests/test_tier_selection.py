"""`make test-fast` selects the unit tier and nothing else, as tests/tiers.py assigns it by path."""

from __future__ import annotations

import shlex
import socket
import subprocess
import sys
from collections import Counter

import pytest

from tests.tiers import AWS_ONLY, LOCAL_ONLY, TESTS, TIER_NAMES, runs_on_aws, tier_of

ROOT = TESTS.parent


def _recipe_args(target: str) -> list[str]:
    """The pytest arguments of one Makefile target's recipe, as make expands them (`make -n`)."""
    proc = subprocess.run(["make", "-s", "-n", target], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    line = next((line for line in proc.stdout.splitlines() if "-m pytest" in line), None)
    assert line, f"make {target} runs no pytest: {proc.stdout}"
    return shlex.split(line.split("-m pytest", 1)[1])


def _collect(*args: str) -> list[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return [line for line in proc.stdout.splitlines() if "::" in line]


def _file(nodeid: str) -> str:
    return nodeid.split("::", 1)[0].removeprefix("tests/")


def test_make_test_fast_selects_exactly_the_unit_files() -> None:
    everything = _collect()
    fast = _collect(*[a for a in _recipe_args("test-fast") if a != "-q"])
    per_tier = Counter(tier_of(_file(n)) for n in everything)
    assert set(per_tier) == set(TIER_NAMES), per_tier
    assert sorted(fast) == sorted(n for n in everything if tier_of(_file(n)) == "unit")
    assert {_file(n) for n in fast} >= {str(p.relative_to(TESTS)) for p in (TESTS / "services").glob("test_*.py")}, (
        "a services test is missing from the fast tier"
    )


def test_the_local_only_suites_keep_exactly_the_named_aws_variants() -> None:
    collected = [n.removeprefix("tests/") for n in _collect(*(f"tests/{d}" for d in LOCAL_ONLY))]
    on_aws = [n for n in collected if "[aws" in n]
    assert on_aws and all(runs_on_aws(n) for n in on_aws)
    assert any("[local" in n for n in collected)
    for entry in AWS_ONLY:
        assert any(n == entry or n.startswith(entry + "[aws") or n.startswith(entry + "::") for n in on_aws), (
            f"{entry} names no [aws] test"
        )


def test_make_test_runs_everything_on_two_workers() -> None:
    args = _recipe_args("test")
    assert args[:2] == ["-n", "2"] and "loadgroup" in args
    assert "-m" not in args and not [a for a in args if a.startswith("tests")], "make test runs every tier"


def test_an_integration_test_is_not_under_the_unit_guard(request: pytest.FixtureRequest) -> None:
    assert request.node.get_closest_marker("integration") is not None
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        assert s.getsockname()[1] > 0
