"""Fixtures for the Pulumi program tests: a small prebuilt Lambda zip and one recorded run per configuration.

Building the real Lambda package means pip downloads for Lambda's platform, so
the mock-runtime runs use the program's `lambdaPackageZip` key with a tiny
zip; `test_lambda_package.py` builds the real thing.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from tests.infra.program import ProgramRun, run_program


def pytest_configure(config: pytest.Config) -> None:
    # pulumi_aws warns about its own deprecated classes while importing; not ours to fix.
    config.addinivalue_line("filterwarnings", "ignore::DeprecationWarning:pulumi_aws")


# The four configurations the issue names, plus the dev one without MQTT.
CONFIGS: dict[str, tuple[str, dict[str, str]]] = {
    "dev-mqtt-on-cf-off": ("dev", {}),
    "dev-mqtt-off": ("dev", {"enableMqttHandler": "false"}),
    "prod-mqtt-on-cf-on": ("prod", {}),
    "prod-cf-off": ("prod", {"enableCloudFront": "false"}),
}


@pytest.fixture(scope="session")
def small_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("lambda") / "package.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("app/lambda_handler.py", "def handler(event, context):\n    return {}\n")
    return path


@pytest.fixture(scope="session")
def runs(small_zip: Path) -> dict[str, ProgramRun]:
    """Each configuration run once per session (the mock runtime is process-global, so sequentially)."""
    return {
        cid: run_program(stack, {**overrides, "lambdaPackageZip": str(small_zip)})
        for cid, (stack, overrides) in CONFIGS.items()
    }


@pytest.fixture(params=list(CONFIGS))
def run(request: pytest.FixtureRequest, runs: dict[str, ProgramRun]) -> ProgramRun:
    return runs[request.param]


@pytest.fixture(params=[cid for cid, (_, o) in CONFIGS.items() if o.get("enableMqttHandler") != "false"])
def mqtt_run(request: pytest.FixtureRequest, runs: dict[str, ProgramRun]) -> ProgramRun:
    """The configurations that run the MQTT handler."""
    return runs[request.param]
