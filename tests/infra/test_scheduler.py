"""The scheduled-work resources under the mock runtime: the worker function, its
minute tick, and least-privilege roles around them (infra/scheduler.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from adapters.aws.permissions import DYNAMODB_ACTIONS, LAMBDA_INVOKE_ACTIONS, S3_OBJECT_ACTIONS
from core.settings import Settings
from infra.scheduler import TICK_EXPRESSION, WORKER_TIMEOUT_S
from tests.infra.program import ProgramRun, Registered
from tests.infra.test_program import FUNCTION, ROLE_POLICY, lambda_env, settings_from_env, statements

SCHEDULE = "aws:scheduler/schedule:Schedule"
ROLE = "aws:iam/role:Role"


def worker(run: ProgramRun) -> Registered:
    return run.one(FUNCTION, "-worker")


def arn_of(run: ProgramRun, fn: Registered) -> str:
    return f"arn:aws:lambda:eu-west-2:123456789012:function:{fn.id}"


def test_one_minute_tick_invokes_only_the_worker(run: ProgramRun) -> None:
    schedule = run.one(SCHEDULE).inputs
    assert schedule["scheduleExpression"] == TICK_EXPRESSION == "rate(1 minute)"
    assert schedule["flexibleTimeWindow"] == {"mode": "OFF"}
    target = schedule["target"]
    assert target["arn"] == arn_of(run, worker(run))
    assert json.loads(target["input"]) == {"yss": "tick"}
    assert target["retryPolicy"]["maximumRetryAttempts"] == 0
    role = run.one(ROLE, "-worker-tick-role")
    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert [s["Principal"] for s in trust] == [{"Service": "scheduler.amazonaws.com"}]
    assert target["roleArn"].endswith(role.id)
    (stmt,) = statements(run.one(ROLE_POLICY, "-worker-tick-policy"))
    assert stmt["Action"] == list(LAMBDA_INVOKE_ACTIONS) and stmt["Resource"] == [arn_of(run, worker(run))]


def test_worker_function_runs_the_same_package_with_its_own_timeout(run: ProgramRun) -> None:
    w, api = worker(run).inputs, run.one(FUNCTION, "-app").inputs
    assert w["timeout"] == WORKER_TIMEOUT_S == 900 and api["timeout"] == 30
    assert w["handler"] == api["handler"] == "app.lambda_handler.handler"
    assert w["sourceCodeHash"] == api["sourceCodeHash"]
    assert w["name"] == f"yss-{run.stack}-worker"
    assert lambda_env(run)["WORKER_FUNCTION"] == w["name"]
    invoke = run.one("aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig", "-worker").inputs
    assert invoke["maximumRetryAttempts"] == 0


def test_worker_environment_loads_as_the_app_settings(run: ProgramRun, monkeypatch: pytest.MonkeyPatch) -> None:
    env: dict[str, Any] = worker(run).inputs["environment"]["variables"]
    assert set(env) <= {n.upper() for n in Settings.model_fields} | {"CLIENT_ADDRESS_FROM", "ORIGIN_SECRET"}
    assert "ORIGIN_SECRET" not in env
    settings = settings_from_env(env, monkeypatch)
    settings.validate_backend()
    assert settings.public_url == lambda_env(run)["PUBLIC_URL"]
    assert "/environment" in worker(run).secret_paths
    # a card's upload gives up on Yoto's transcode well before the worker's 900 s end
    assert settings.yoto_transcode_wait_s == 780 < worker(run).inputs["timeout"]


def test_roles_are_least_privilege(run: ProgramRun) -> None:
    by_sid = {s["Sid"]: s for s in statements(run.one(ROLE_POLICY, "-worker-policy"))}
    assert set(by_sid) == {"Records", "AudioObjects", "OwnLogs"}  # no Cognito, no Polly, no bucket listing
    assert by_sid["Records"]["Action"] == list(DYNAMODB_ACTIONS)
    assert by_sid["AudioObjects"]["Action"] == list(S3_OBJECT_ACTIONS)
    log = run.one("aws:cloudwatch/logGroup:LogGroup", "-worker-log").inputs["name"]
    assert by_sid["OwnLogs"]["Resource"] == [f"arn:aws:logs:eu-west-2:123456789012:log-group:{log}:*"]
    (invoke,) = statements(run.one(ROLE_POLICY, "-app-invoke-worker"))
    assert invoke["Action"] == ["lambda:InvokeFunction"] and invoke["Resource"] == [arn_of(run, worker(run))]
    api_role = run.one(ROLE, "-app-role")
    assert run.one(ROLE_POLICY, "-app-invoke-worker").inputs["role"] == api_role.id


def test_the_minute_tick_is_priced_in_the_cost_model() -> None:
    from dataclasses import replace

    from infra.config import parse_stack_config
    from infra.cost import FAMILY, PRICES, estimate, ticks_per_month
    from tests.infra.program import stack_file_config

    config = parse_stack_config("dev", stack_file_config("dev"))
    lines = {line.service: line for line in estimate(config)}
    tick = lines["EventBridge Scheduler"]
    assert f"{ticks_per_month():,} invocations" in tick.detail and ticks_per_month() == 43_800
    assert tick.usd == 0.0  # inside the 14M free invocations
    worker = lines["Lambda (scheduled worker)"]
    assert worker.usd == 0.0  # API + worker together stay inside Lambda's free tier
    # Without free tiers the scheduler's whole month is still a few cents.
    no_free = replace(PRICES, scheduler_free_invocations=0, lambda_free_requests=0, lambda_free_gb_s=0)
    priced = {line.service: line.usd for line in estimate(config, FAMILY, no_free)}
    assert priced["EventBridge Scheduler"] == ticks_per_month() / 1e6 * 1.00
    assert 0.05 < priced["Lambda (scheduled worker)"] < 0.25
