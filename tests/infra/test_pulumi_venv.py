"""`pulumi up`'s own virtualenv: built from requirements.txt alone, it runs the program under the mock runtime.

The first run builds the venv (pip, with its cache); later runs reuse it
until requirements.txt changes (`tests/infra/fresh_venv.py`).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.infra.fresh_venv import ROOT, clean_env, requirements_venv

RUNNER_TIMEOUT_S = 300


@pytest.fixture(scope="module")
def venv() -> Path:
    return requirements_venv(ROOT / "requirements.txt")


@pytest.fixture(scope="module")
def report(venv: Path, small_zip: Path, stub_mqtt_entry_module: Path) -> dict[str, Any]:
    proc = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "tests.infra.venv_program", str(small_zip), str(stub_mqtt_entry_module)],
        cwd=ROOT,  # as Pulumi runs the program: from the project directory
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=RUNNER_TIMEOUT_S,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_the_venv_holds_only_what_requirements_txt_installs(venv: Path, report: dict[str, Any]) -> None:
    assert Path(report["prefix"]) == venv
    assert (venv / "pyvenv.cfg").read_text().count("include-system-site-packages = false") == 1
    for module, path in report["sdk_files"].items():
        assert path and Path(path).is_relative_to(venv), f"{module} came from {path}, not the fresh venv"
    assert report["dev_only_importable"] == []
    frozen = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "freeze"], capture_output=True, text=True, env=clean_env()
    ).stdout.lower()
    for name in ("pulumi==", "pulumi-aws==", "pulumi-random==", "pulumi-docker-build==", "fastapi==", "uvicorn=="):
        assert name in frozen.replace("_", "-"), name
    assert "pytest==" not in frozen and "moto==" not in frozen


def test_the_program_runs_as_the_dev_stack_file_says(report: dict[str, Any]) -> None:
    run = report["runs"]["dev-stack-file"]
    assert run["violations"] == {}
    assert {"aws:lambda/function:Function", "aws:dynamodb/table:Table", "aws:apigatewayv2/api:Api"} <= set(run["types"])
    assert "aws:ecs/service:Service" not in run["types"]  # the handler is off until it lands
    assert "aws:cloudfront/distribution:Distribution" not in run["types"]
    assert "lambda_function_name" in run["outputs"] and "mqtt_service_name" not in run["outputs"]
    assert {"USE_AWS", "DYNAMODB_TABLE", "SESSION_SECRET"} <= set(run["lambda_env_keys"])


def test_the_program_runs_prod_with_every_component(report: dict[str, Any]) -> None:
    """Prod with the handler on imports every SDK the program can use (docker-build included)."""
    run = report["runs"]["prod-mqtt-on"]
    assert run["violations"] == {}
    assert {
        "aws:cloudfront/distribution:Distribution",
        "aws:ecs/service:Service",
        "docker-build:index:Image",
        "random:index/randomPassword:RandomPassword",
    } <= set(run["types"])
    assert {"cloudfront_domain", "mqtt_service_name"} <= set(run["outputs"])
