"""mqttMode under the mock runtime: each mode's resources and least-privilege IAM,
and the handler's image installing only what the handler imports."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from core.settings import Settings
from tests.infra.program import ProgramRun
from tests.infra.test_program import FUNCTION, LOG_GROUP, MQTT_TYPES, ROLE_POLICY, TASK_DEF, lambda_env, statements

ROOT = Path(__file__).resolve().parents[2]
EIP_OR_NAT = ("aws:ec2/eip:Eip", "aws:ec2/natGateway:NatGateway")


def mode_run(runs: dict[str, ProgramRun], mode: str) -> ProgramRun:
    return runs[{"always": "dev-mqtt-on-cf-off", "on-demand": "dev-mqtt-on-demand", "off": "dev-mqtt-off"}[mode]]


def test_always_runs_the_fargate_service_with_a_heartbeat_health_check(runs: dict[str, ProgramRun]) -> None:
    run = mode_run(runs, "always")
    assert run.types() >= MQTT_TYPES
    # the app and the scheduled worker (registration order is the engine's, not ours)
    assert sorted(f.name for f in run.of_type(FUNCTION)) == ["yss-dev-app", "yss-dev-worker"]
    (container,) = json.loads(run.one(TASK_DEF).inputs["containerDefinitions"])
    assert container["healthCheck"]["command"] == ["CMD", "python", "-m", "mqtt", "--check"]
    assert "MQTT_LISTENER_FUNCTION" not in lambda_env(run)


def test_on_demand_is_one_lambda_function_without_a_network(runs: dict[str, ProgramRun]) -> None:
    run = mode_run(runs, "on-demand")
    assert not (run.types() & MQTT_TYPES)
    assert not any(t in run.types() for t in EIP_OR_NAT)
    listener = run.one(FUNCTION, "-listener")
    fn = listener.inputs
    assert fn["handler"] == "mqtt.lambda_handler.handler"
    assert fn["timeout"] == 14 * 60 and fn["memorySize"] == 256
    assert "vpcConfig" not in fn  # no VPC: no NAT, no subnet, no public IPv4
    assert fn["sourceCodeHash"] == run.one(FUNCTION, "-app").inputs["sourceCodeHash"]  # the same package
    env = fn["environment"]["variables"]
    assert set(env) <= {name.upper() for name in Settings.model_fields}
    assert {"S3_AUDIO_BUCKET", "COGNITO_USER_POOL_ID", "SESSION_SECRET"}.isdisjoint(env)
    assert env["MQTT_IDLE_S"] == "300"
    assert env["FAMILY_TIMEZONE"] == "Europe/London"  # quiet hours and "today" on the family's clock
    Settings(**{k.lower(): v for k, v in env.items()}, yoto_client_id="x").validate_for("mqtt")
    retries = run.one("aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig", "-listener").inputs
    assert retries["maximumRetryAttempts"] == 0 and retries["functionName"] == listener.id
    # the listener's role: the table and its own log group, nothing else
    own = {s["Sid"]: s for s in statements(run.one(ROLE_POLICY, "-listener-policy"))}
    assert set(own) == {"Records", "OwnLogs"}
    log = run.one(LOG_GROUP, "-listener-log").inputs["name"]
    assert own["OwnLogs"]["Resource"][0].endswith(f":log-group:{log}:*") and log.endswith("/mqtt")
    # the API may start it (that one function only), and is told its name
    api = lambda_env(run)
    assert api["MQTT_LISTENER_FUNCTION"] == listener.id
    assert api["PLAYERS_STREAM"] == "false"


def test_off_has_no_listener_at_all(runs: dict[str, ProgramRun]) -> None:
    run = mode_run(runs, "off")
    assert not (run.types() & MQTT_TYPES)
    # the app and the scheduled worker (registration order is the engine's, not ours)
    assert sorted(f.name for f in run.of_type(FUNCTION)) == ["yss-dev-app", "yss-dev-worker"]
    assert "MQTT_LISTENER_FUNCTION" not in lambda_env(run)
    assert "StartListener" not in {s["Sid"] for s in statements(run.one(ROLE_POLICY, "-app-policy"))}
    # commands still reach the broker: the API has the connection settings
    assert {"MQTT_HOST", "MQTT_PORT", "MQTT_TRANSPORT", "MQTT_PATH"} <= set(lambda_env(run))


# --------------------------------------------------------------------------- the handler's image


def _names(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name = re.split(r"[<>=!~\[; ]", line, maxsplit=1)[0].lower()
            out[name] = line
    return out


def test_the_image_installs_only_the_handlers_requirements() -> None:
    dockerfile = (ROOT / "mqtt" / "Dockerfile").read_text()
    installs = [line for line in dockerfile.splitlines() if "pip install" in line]
    assert installs == ["RUN pip install --only-binary=:all: -r mqtt-requirements.txt \\"]
    assert "COPY mqtt/requirements.txt mqtt-requirements.txt" in dockerfile
    assert "COPY requirements.txt" not in dockerfile and "COPY app/" not in dockerfile
    assert re.search(r"^USER (?!root)\w+", dockerfile, re.M)
    handler = _names(ROOT / "mqtt" / "requirements.txt")
    project = _names(ROOT / "requirements.txt")
    assert set(handler) == {"paho-mqtt", "pydantic", "pydantic-settings", "httpx", "boto3"}
    assert all(handler[name] == project[name] for name in handler)  # the same bounds as requirements.txt


def test_the_handler_imports_nothing_its_image_lacks() -> None:
    code = (
        "import sys\n"
        "import mqtt.__main__, mqtt.lambda_handler, services.listener_runner, adapters.yoto.mqtt.sender\n"
        "import wiring, adapters.aws.dynamo_records\n"
        "print(sorted({m.split('.')[0] for m in sys.modules}))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    loaded = set(json.loads(proc.stdout.replace("'", '"')))
    for heavy in ("fastapi", "starlette", "av", "sqlalchemy", "pulumi", "pulumi_aws", "gtts", "uvicorn", "mangum"):
        assert heavy not in loaded, heavy


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_stack_files_choose_a_listener_mode(stack: str) -> None:
    from infra.cost import stack_config

    assert stack_config(stack).mqtt_mode == {"dev": "on-demand", "prod": "always"}[stack]
