"""Fixtures for the Pulumi program tests: a small prebuilt Lambda zip and one recorded run per configuration.

Building the real Lambda package means pip downloads for Lambda's platform, so
the mock-runtime runs use the program's `lambdaPackageZip` key with a tiny
zip; `test_lambda_package.py` builds the real thing.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import infra.config
from tests.infra.program import ProgramRun, run_program, stack_file_config


def pytest_configure(config: pytest.Config) -> None:
    # pulumi_aws warns about its own deprecated classes while importing; not ours to fix.
    config.addinivalue_line("filterwarnings", "ignore::DeprecationWarning:pulumi_aws")


# The four configurations the issue names, each stack file as it stands, and the
# three listener modes (issue 11).
CONFIGS: dict[str, tuple[str, dict[str, str]]] = {
    "dev-mqtt-on-cf-off": ("dev", {"enableMqttHandler": "true"}),
    "dev-stack-file": ("dev", {}),
    "prod-mqtt-on-cf-on": ("prod", {"enableMqttHandler": "true"}),
    "prod-cf-off": ("prod", {"enableCloudFront": "false", "enableMqttHandler": "true"}),
    "prod-stack-file": ("prod", {}),
    "dev-mqtt-on-demand": ("dev", {"mqttMode": "on-demand"}),
    "dev-mqtt-off": ("dev", {"mqttMode": "off"}),
}


def mqtt_mode(stack: str, overrides: dict[str, str]) -> str:
    """The configuration's mqttMode: the override, else the stack file, else the default
    (`enableMqttHandler`, the older key, stands for always/off when mqttMode is absent)."""
    values = {**{k.split(":", 1)[1]: v for k, v in stack_file_config(stack).items()}, **overrides}
    raw = values.get("enableMqttHandler")
    if raw is not None:
        return "always" if json.loads(raw) else "off"
    return values.get("mqttMode") or "always"


def mqtt_enabled(stack: str, overrides: dict[str, str]) -> bool:
    """Whether a configuration runs the always-on MQTT handler (the ECS service)."""
    return mqtt_mode(stack, overrides) == "always"


@pytest.fixture(scope="session", autouse=True)
def stub_mqtt_entry_module(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The MQTT-on configurations describe the stack once the handler lands; until
    `mqtt/__main__.py` exists a stub stands in for it (the program checks only that
    the entry module exists). `test_config.py` checks the real tree."""
    stub = tmp_path_factory.mktemp("mqtt-entry") / "__main__.py"
    stub.write_text("raise SystemExit('stub for the tests')\n")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(infra.config, "MQTT_ENTRY_FILE", stub)
        yield stub


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


@pytest.fixture(params=[cid for cid, (stack, o) in CONFIGS.items() if mqtt_enabled(stack, o)])
def mqtt_run(request: pytest.FixtureRequest, runs: dict[str, ProgramRun]) -> ProgramRun:
    """The configurations that run the MQTT handler."""
    return runs[request.param]
