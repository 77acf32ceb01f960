"""Stack configuration: defaults in one place, and bad values stop the program with the key's name."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

import infra.config
from core.settings import Settings
from infra.config import (
    KEYS,
    LAMBDA_HANDLER_FILE,
    MQTT_ENTRY_MODULE,
    StackConfigError,
    is_production_stack,
    missing_entry_modules,
    parse_stack_config,
)
from infra.cost import stack_config
from tests.infra.program import run_program

ROOT = Path(__file__).resolve().parents[2]


def test_defaults() -> None:
    dev = parse_stack_config("dev", {})
    assert (dev.enable_mqtt_handler, dev.enable_cloudfront) == (True, False)
    assert (dev.lambda_architecture, dev.lambda_memory_mb, dev.log_retention_days) == ("arm64", 1024, 7)
    assert dev.mqtt_capacity_provider == "FARGATE_SPOT" and dev.mqtt_image is None
    assert dev.force_destroy and not dev.production and not dev.budget_enabled
    assert (dev.mqtt_host, dev.mqtt_port, dev.mqtt_path) == (Settings().mqtt_host, 443, "/mqtt")
    prod = parse_stack_config("prod", {})
    assert prod.production and not prod.force_destroy and prod.log_retention_days == 30


def test_production_is_decided_by_stack_name() -> None:
    assert is_production_stack("prod") and is_production_stack("prod-eu")
    assert not is_production_stack("dev") and not is_production_stack("production-test")


def test_values_are_parsed() -> None:
    cfg = parse_stack_config(
        "dev",
        {
            "enableMqttHandler": "false",
            "allowedOrigins": json.dumps(["https://a.example.org/", "http://localhost:5173"]),
            "monthlyBudgetUsd": "7.5",
            "alertEmail": "x@example.org",
            "logRetentionDays": "14",
        },
    )
    assert cfg.enable_mqtt_handler is False
    assert cfg.allowed_origins == ("https://a.example.org", "http://localhost:5173")
    assert cfg.budget_enabled and cfg.monthly_budget_usd == 7.5
    assert cfg.log_retention_days == 14


@pytest.mark.parametrize(
    ("values", "key"),
    [
        ({"lambdaArchitecture": "sparc"}, "lambdaArchitecture"),
        ({"lambdaMemoryMb": "64"}, "lambdaMemoryMb"),
        ({"lambdaMemoryMb": "lots"}, "lambdaMemoryMb"),
        ({"logRetentionDays": "8"}, "logRetentionDays"),
        ({"enableCloudFront": "maybe"}, "enableCloudFront"),
        ({"allowedOrigins": json.dumps(["https://a.example.org/app"])}, "allowedOrigins"),
        ({"allowedOrigins": json.dumps(["http://family.example.org"])}, "allowedOrigins"),
        ({"allowedOrigins": json.dumps({"a": 1})}, "allowedOrigins"),
        ({"monthlyBudgetUsd": "10"}, "alertEmail"),
        ({"monthlyBudgetUsd": "-1", "alertEmail": "x@example.org"}, "monthlyBudgetUsd"),
        ({"alertEmail": "not-an-address"}, "alertEmail"),
        ({"mqttCapacityProvider": "EC2"}, "mqttCapacityProvider"),
        ({"mqttTransport": "udp"}, "mqttTransport"),
        ({"pollyEngine": "generative"}, "pollyEngine"),
        ({"familyTimezone": "Mars/Olympus"}, "familyTimezone"),
        ({"lambdaPackageZip": "/nonexistent/package.zip"}, "lambdaPackageZip"),
    ],
)
def test_bad_values_name_the_key(values: dict[str, str], key: str) -> None:
    with pytest.raises(StackConfigError, match=f"yoto-smart-stream:{key}"):
        parse_stack_config("dev", values)


def test_every_key_is_documented() -> None:
    doc = (ROOT / "docs" / "infra.md").read_text()
    missing = [key for key in (*KEYS, "sessionSecret") if f"`{key}`" not in doc]
    assert missing == []


def test_bad_config_stops_the_program_before_any_resource(small_zip: Path) -> None:
    with pytest.raises(Exception, match="lambdaArchitecture"):
        run_program("dev", {"lambdaPackageZip": str(small_zip), "lambdaArchitecture": "sparc"})


# --------------------------------------------------------------------------- entry modules

REAL_MQTT_ENTRY = ROOT / "mqtt" / "__main__.py"


def test_stack_files_deploy_only_workloads_whose_entry_module_exists(monkeypatch: pytest.MonkeyPatch) -> None:
    """As committed, neither stack file may start a task that has nothing to run (today: no MQTT handler)."""
    monkeypatch.setattr(infra.config, "MQTT_ENTRY_FILE", REAL_MQTT_ENTRY)
    for stack in ("dev", "prod"):
        config = stack_config(stack)
        assert missing_entry_modules(config) == [], stack
        if not REAL_MQTT_ENTRY.is_file():
            assert config.enable_mqtt_handler is False, f"Pulumi.{stack}.yaml enables a handler that does not exist"


def test_mqtt_handler_without_its_module_stops_the_program(
    small_zip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(infra.config, "MQTT_ENTRY_FILE", tmp_path / "mqtt" / "__main__.py")
    with pytest.raises(Exception, match=r"enableMqttHandler is true but mqtt/__main__\.py"):
        run_program("dev", {"lambdaPackageZip": str(small_zip), "enableMqttHandler": "true"})
    # The same configuration with the handler off deploys.
    run = run_program("dev", {"lambdaPackageZip": str(small_zip), "enableMqttHandler": "false"})
    assert not run.of_type("aws:ecs/service:Service")
    assert run.of_type("aws:lambda/function:Function")


def test_package_without_the_handler_stops_the_program(tmp_path: Path) -> None:
    package = tmp_path / "package.zip"
    with zipfile.ZipFile(package, "w") as zf:
        zf.writestr("app/main.py", "app = None\n")
    with pytest.raises(Exception, match=r"lambdaPackageZip=.* has no app/lambda_handler\.py"):
        run_program("dev", {"lambdaPackageZip": str(package)})


def test_entry_modules_match_what_the_workloads_run() -> None:
    assert LAMBDA_HANDLER_FILE == "app/lambda_handler.py" and (ROOT / LAMBDA_HANDLER_FILE).is_file()
    cmd = next(line for line in (ROOT / "mqtt" / "Dockerfile").read_text().splitlines() if line.startswith("CMD"))
    assert json.loads(cmd.removeprefix("CMD").strip()) == ["python", "-m", MQTT_ENTRY_MODULE]
    assert REAL_MQTT_ENTRY == ROOT / MQTT_ENTRY_MODULE / "__main__.py"
