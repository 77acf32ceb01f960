"""scripts/deploy.sh with pulumi, aws, docker and curl replaced by recording stubs
(tests/deploy/stubs.py): neither the Pulumi CLI nor AWS can be reached here, so
these tests show what the script asks of each command, in which order, and
where it stops, with which words, when one of them fails."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.deploy.stubs import OUTPUTS, Sandbox, mqtt_off, mqtt_on


@pytest.fixture
def sandbox(tmp_path: Path) -> Sandbox:
    box = Sandbox(tmp_path)
    mqtt_off(box)
    return box


def names(calls: list[list[str]]) -> list[str]:
    return [" ".join(c[:3]) for c in calls]


def test_success_runs_every_step_in_order_and_prints_the_next_steps(sandbox: Sandbox) -> None:
    done = sandbox.run("dev")
    assert done.returncode == 0, done.stderr
    steps = [
        c
        for c in names(done.calls)
        if not c.startswith(("pulumi config", "curl"))  # reads, checked below
    ]
    assert steps == [
        "aws sts get-caller-identity",
        "pulumi whoami",
        "pulumi stack select",
        "pulumi preview --stack",
        "pulumi up --stack",
        "pulumi stack output",
    ]
    assert done.called("pulumi", "stack", "select") == [["pulumi", "stack", "select", "dev"]]
    assert done.called("pulumi", "preview") == [["pulumi", "preview", "--stack", "dev", "--policy-pack", "policy"]]
    assert done.called("pulumi", "up") == [["pulumi", "up", "--stack", "dev", "--policy-pack", "policy"]]  # no --yes
    assert [c[-1] for c in done.called("curl")] == [
        "https://abc123.execute-api.eu-west-2.amazonaws.com/api/health",
        "https://abc123.execute-api.eu-west-2.amazonaws.com/",
    ]
    out = done.stdout
    assert "Docker: not needed" in out
    assert "https://abc123.execute-api.eu-west-2.amazonaws.com/api/yoto/callback" in out
    assert "DYNAMODB_TABLE=yss-dev-records S3_AUDIO_BUCKET=yss-dev-audio-123" in out
    assert "COGNITO_USER_POOL_ID=eu-west-2_POOL COGNITO_CLIENT_ID=client123" in out
    assert "python -m app create-user NAME --admin --password-stdin" in out
    assert "python -m app migrate --to-aws --dry-run" in out
    assert "no UI build" in out and not done.called("aws", "s3")


def test_yes_is_passed_to_up_only_when_asked(sandbox: Sandbox) -> None:
    done = sandbox.run("prod", "--yes")
    assert done.returncode == 0, done.stderr
    assert done.called("pulumi", "up") == [["pulumi", "up", "--stack", "prod", "--policy-pack", "policy", "--yes"]]
    assert done.called("pulumi", "preview")[0][-1] == "policy"


def test_the_ui_is_uploaded_and_cloudfront_invalidated_when_on(sandbox: Sandbox, tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    dist.mkdir()
    (dist / "index.html").write_text("<!doctype html><html></html>")
    cloudfront = {"ui_url": "https://d111.cloudfront.net", "cloudfront_domain": "d111.cloudfront.net"}
    sandbox.behaviour["outputs"] |= cloudfront
    done = sandbox.run("prod", env={"UI_DIST": str(dist)})
    assert done.returncode == 0, done.stderr
    assert done.called("aws", "s3", "sync") == [["aws", "s3", "sync", str(dist), "s3://yss-dev-ui-123", "--delete"]]
    listing = done.called("aws", "cloudfront", "list-distributions")[0]
    assert "DistributionList.Items[?DomainName=='d111.cloudfront.net'].Id" in listing
    invalidation = done.called("aws", "cloudfront", "create-invalidation")
    assert invalidation == [
        ["aws", "cloudfront", "create-invalidation", "--distribution-id", "E2EXAMPLE", "--paths", "/*"]
    ]
    assert [c[-1] for c in done.called("curl")][-1] == "https://d111.cloudfront.net/"
    assert "https://d111.cloudfront.net/api/yoto/callback" in done.stdout


def test_the_health_check_waits_out_a_cold_start(sandbox: Sandbox) -> None:
    sandbox.behaviour["health_fails"] = 2
    done = sandbox.run("dev")
    assert done.returncode == 0, done.stderr
    assert len([c for c in done.called("curl") if c[-1].endswith("/api/health")]) == 3
    assert "try 1/3: not yet" in done.stdout and "try 2/3: not yet" in done.stdout


@pytest.mark.parametrize(
    ("missing", "message"),
    [
        ("pulumi", "the Pulumi CLI is missing: 'pulumi' is not on PATH"),
        ("aws", "the AWS CLI is missing: 'aws' is not on PATH"),
        ("curl", "curl is missing: 'curl' is not on PATH"),
        ("docker", "Docker is missing: the stack runs the MQTT handler and builds its image"),
    ],
)
def test_each_missing_command_is_named_before_anything_runs(sandbox: Sandbox, missing: str, message: str) -> None:
    mqtt_on(sandbox)
    sandbox.remove(missing)
    done = sandbox.run("dev")
    assert done.returncode == 1
    assert f"deploy: error: {message}" in done.stderr
    assert not done.called("pulumi", "preview") and not done.called("pulumi", "up")


def test_missing_aws_credentials_are_named(sandbox: Sandbox) -> None:
    sandbox.behaviour["creds_rc"] = 255
    done = sandbox.run("dev")
    assert done.returncode == 1
    reason = "no working AWS credentials: 'aws sts get-caller-identity' failed: Unable to locate credentials."
    assert reason in done.stderr
    assert "run 'aws configure', or set AWS_PROFILE" in done.stderr
    assert not done.called("pulumi")


def test_a_stopped_docker_daemon_is_named(sandbox: Sandbox) -> None:
    mqtt_on(sandbox)
    sandbox.behaviour["docker_rc"] = 1
    done = sandbox.run("dev")
    assert done.returncode == 1
    assert "the Docker daemon is not running" in done.stderr
    assert not done.called("pulumi", "preview")


def test_docker_is_not_needed_with_a_prebuilt_mqtt_image(sandbox: Sandbox) -> None:
    mqtt_on(sandbox)
    sandbox.behaviour["config"]["yoto-smart-stream:mqttImage"] = "123.dkr.ecr.eu-west-2.amazonaws.com/yss-mqtt:1"
    sandbox.remove("docker")
    done = sandbox.run("dev")
    assert done.returncode == 0, done.stderr
    assert "Docker: not needed" in done.stdout


def test_a_pulumi_login_and_a_missing_stack_are_named(sandbox: Sandbox) -> None:
    sandbox.behaviour["whoami_rc"] = 255
    done = sandbox.run("dev")
    assert done.returncode == 1 and "the Pulumi CLI is not logged in: run 'pulumi login'" in done.stderr
    sandbox.behaviour["whoami_rc"] = 0
    sandbox.behaviour["select_rc"] = 255
    done = sandbox.run("staging")
    assert done.returncode == 1
    assert "cannot select stack 'staging': error: no stack named 'staging' found" in done.stderr
    assert "pulumi stack init staging" in done.stderr
    assert not done.called("pulumi", "preview")


def test_a_failed_preview_stops_before_up(sandbox: Sandbox) -> None:
    sandbox.behaviour["preview_rc"] = 3
    done = sandbox.run("dev")
    assert done.returncode == 1
    assert "pulumi preview failed (exit 3): nothing was deployed" in done.stderr
    assert not done.called("pulumi", "up") and not done.called("curl")


def test_a_failed_up_stops_before_the_smoke_test(sandbox: Sandbox) -> None:
    sandbox.behaviour["up_rc"] = 255
    done = sandbox.run("dev")
    assert done.returncode == 1
    assert "pulumi up failed (exit 255): the stack may be partly updated" in done.stderr
    assert not done.called("curl") and not done.called("pulumi", "stack", "output")


def test_a_failed_health_check_fails_the_deploy(sandbox: Sandbox) -> None:
    sandbox.behaviour["health_fails"] = 99
    done = sandbox.run("dev")
    assert done.returncode == 1
    api = OUTPUTS["api_url"].rstrip("/")
    assert f"the API at {api}/api/health did not answer ok after 3 tries" in done.stderr
    assert "Next steps" not in done.stdout


def test_a_ui_that_does_not_load_fails_the_deploy(sandbox: Sandbox) -> None:
    sandbox.behaviour["ui_fails"] = True
    done = sandbox.run("dev")
    assert done.returncode == 1
    assert "the UI at https://abc123.execute-api.eu-west-2.amazonaws.com/ does not load" in done.stderr
    assert "403" in done.stderr


@pytest.mark.parametrize("args", [(), ("dev", "prod"), ("dev", "--force"), ("bad name!",)])
def test_bad_arguments_are_refused_with_the_usage(sandbox: Sandbox, args: tuple[str, ...]) -> None:
    done = sandbox.run(*args)
    assert done.returncode == 2
    assert "deploy: error:" in done.stderr
    assert done.calls == []
