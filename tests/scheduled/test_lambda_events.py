"""The worker's invocations on the AWS side (DynamoDB on moto): the minute tick
and a queued run reach `app.scheduled` through the real Lambda handler, not
Mangum; the API hands a refresh to the worker and answers 202."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from adapters import Adapters
from app import lambda_handler
from core.records import Job, Routine, Run, utcnow
from core.settings import Settings
from services.jobs import new_run
from tests.api.conftest import make_api
from tests.servers import free_port


@pytest.fixture
def aws_adapters(aws_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Adapters:
    # No broker listens on this port: every routine step fails fast, which the run records.
    settings = aws_settings.model_copy(
        update={"mqtt_host": "127.0.0.1", "mqtt_port": free_port(), "mqtt_transport": "tcp", "mqtt_tls": False}
    )
    adapters = Adapters(settings)
    monkeypatch.setattr(lambda_handler, "get_adapters", lambda: adapters, raising=False)
    import adapters as factory

    monkeypatch.setattr(factory, "get_adapters", lambda *a, **k: adapters)
    return adapters


def test_the_tick_claims_due_jobs_and_runs_them(aws_adapters: Adapters) -> None:
    records = aws_adapters.records
    routine = Routine(id="r1", owner="mum", name="Bedtime", player_id="p1", at="19:30", days=("mon",),
                      steps=[{"action": "volume", "volume": 30}, {"action": "stop"}])  # fmt: skip
    records.routines.add(routine)
    records.jobs.add(Job(id="r1", owner="mum", kind="routine", at="19:30", days=("mon",), next_run_at=utcnow()))
    records.jobs.add(Job(id="later", owner="mum", kind="routine", at="19:30", days=("mon",),
                         next_run_at=utcnow() + timedelta(hours=1)))  # fmt: skip
    ticked = utcnow()
    answer = lambda_handler.handler({"yss": "tick"}, None)
    (run_id,) = answer["ran"]
    run = records.runs.get(run_id)
    assert (run.subject_id, run.trigger, run.status) == ("r1", "schedule", "failed")
    # no linked account has the player: the first step fails, the rest are not tried, and the tick goes on
    assert [r["outcome"] for r in run.results] == ["failed", "skipped"]
    assert "'p1'" in run.results[0]["reason"] and "stopped at step 1" in run.detail
    # moved on to its next Monday 19:30, which may be later today (not an hour from now, as assumed before)
    moved = records.jobs.get("r1").next_run_at
    assert ticked < moved <= ticked + timedelta(days=7) and (moved.minute, moved.second) == (30, 0)
    assert lambda_handler.handler({"yss": "tick"}, None) == {"ran": []}  # claimed once


def test_a_queued_run_is_executed_once(aws_adapters: Adapters) -> None:
    records = aws_adapters.records
    records.routines.add(Routine(id="r2", owner="mum", name="Quiet", player_id="p1", at="13:00", days=("sat",),
                                 steps=[{"action": "stop"}]))  # fmt: skip
    run = new_run("routine", "r2", "mum", "manual")
    records.runs.add(run)
    assert lambda_handler.handler({"yss": "run", "run_id": run.id}, None)["status"] == "failed"
    again = lambda_handler.handler({"yss": "run", "run_id": run.id}, None)
    assert again["status"] == "failed" and records.runs.get(run.id).version == 3  # not run a second time
    with pytest.raises(ValueError):
        lambda_handler.handler({"yss": "launch"}, None)


def test_refresh_on_aws_is_queued_for_the_worker_with_202(
    aws_settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    """With WORKER_FUNCTION set the API hands the run to the worker (an asynchronous
    Invoke, on moto's Lambda) and answers 202 with the queued run; its status is readable."""
    import io
    import zipfile

    from adapters.aws.clients import client
    from core.records import Podcast

    package = io.BytesIO()
    with zipfile.ZipFile(package, "w") as zf:
        zf.writestr("app/lambda_handler.py", "def handler(event, context):\n    return event\n")
    role = client(aws_settings, "iam").create_role(RoleName="worker", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    client(aws_settings, "lambda").create_function(
        FunctionName="yss-dev-worker",
        Runtime="python3.12",
        Role=role,
        Handler="app.lambda_handler.handler",
        Code={"ZipFile": package.getvalue()},
    )
    api = make_api(aws_settings.model_copy(update={"worker_function": "yss-dev-worker"}), monkeypatch, tmp_path)
    p = Podcast(id="pod1", owner="mum", feed_url="https://feeds.example/x.xml", title="X")
    api.adapters.records.podcasts.add(p)
    r = api.login().post("/api/podcasts/pod1/refresh")
    assert r.status_code == 202, r.text
    run = r.json()["last_run"]
    assert run["status"] == "queued"
    assert api.login().get(f"/api/runs/{run['id']}").json()["status"] == "queued"
    assert isinstance(api.adapters.records.runs.get(run["id"]), Run)
