"""Stack configuration: defaults in one place, and bad values stop the program with the key's name."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.settings import Settings
from infra.config import KEYS, StackConfigError, is_production_stack, parse_stack_config
from tests.infra.program import run_program


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
        ({"lambdaPackageZip": "/nonexistent/package.zip"}, "lambdaPackageZip"),
    ],
)
def test_bad_values_name_the_key(values: dict[str, str], key: str) -> None:
    with pytest.raises(StackConfigError, match=f"yoto-smart-stream:{key}"):
        parse_stack_config("dev", values)


def test_every_key_is_documented() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "infra.md").read_text()
    missing = [key for key in (*KEYS, "sessionSecret") if f"`{key}`" not in doc]
    assert missing == []


def test_bad_config_stops_the_program_before_any_resource(small_zip: Path) -> None:
    with pytest.raises(Exception, match="lambdaArchitecture"):
        run_program("dev", {"lambdaPackageZip": str(small_zip), "lambdaArchitecture": "sparc"})
