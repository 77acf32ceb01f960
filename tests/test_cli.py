"""`python -m app` run as a real subprocess: locally against a data dir, and with
USE_AWS=true against the moto server (the variables the `aws_settings` fixture made)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from adapters import Adapters
from core.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "a long family passphrase"
_OWN_VARIABLES = ("AWS_", "USE_AWS", "DYNAMODB_TABLE", "S3_AUDIO_BUCKET", "COGNITO_", "SESSION_SECRET", "DATA_DIR")


def cli_env(settings: Settings) -> dict[str, str]:
    """The environment a deployment would set for these settings, and nothing inherited that could leak in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_OWN_VARIABLES)}
    env["DATA_DIR"] = str(settings.data_dir)
    if not settings.use_aws:
        env["USE_AWS"] = "false"
        return env
    env.update({k: v for k, v in os.environ.items() if k.startswith("AWS_")})  # credentials + moto endpoint
    env.update(
        USE_AWS="true",
        AWS_REGION=settings.aws_region,
        DYNAMODB_TABLE=str(settings.dynamodb_table),
        S3_AUDIO_BUCKET=str(settings.s3_audio_bucket),
        COGNITO_USER_POOL_ID=str(settings.cognito_user_pool_id),
        COGNITO_CLIENT_ID=str(settings.cognito_client_id),
        SESSION_SECRET=str(settings.session_secret),
    )
    return env


def run_cli(settings: Settings, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=cli_env(settings),
        timeout=60,
    )


@pytest.fixture
def cli_settings(backend_settings: Settings) -> Settings:
    if backend_settings.use_aws:
        return backend_settings
    return backend_settings.model_copy(update={"session_secret": None})  # as `make run` starts: no secret set


def test_first_admin_is_created_and_can_log_in(cli_settings: Settings) -> None:
    hint = run_cli(cli_settings, "first-run-hint")
    assert hint.returncode == 0, hint.stderr
    assert "No user exists yet" in hint.stdout and "create-user NAME --admin --password-stdin" in hint.stdout
    made = run_cli(cli_settings, "create-user", "Mum", "--admin", "--password-stdin", stdin=PASSWORD + "\n")
    assert made.returncode == 0, made.stderr
    assert "created admin 'mum'" in made.stdout
    assert PASSWORD not in made.stdout + made.stderr
    user = Adapters(cli_settings).identity.authenticate("mum", PASSWORD)
    assert user is not None and user.is_admin
    quiet = run_cli(cli_settings, "first-run-hint")
    assert (quiet.returncode, quiet.stdout) == (0, "")


def test_existing_user_and_bad_password_are_refused(cli_settings: Settings) -> None:
    identity = Adapters(cli_settings).identity
    identity.create_user("kid", PASSWORD)
    again = run_cli(cli_settings, "create-user", "kid", "--password-stdin", stdin="some other passphrase")
    assert again.returncode == 1 and "already exists" in again.stderr
    short = run_cli(cli_settings, "create-user", "dad", "--admin", "--password-stdin", stdin="short\n")
    assert short.returncode == 1 and "at least 12 characters" in short.stderr
    assert [u.username for u in identity.list_users()] == ["kid"]
    hint = run_cli(cli_settings, "first-run-hint")
    assert "No enabled admin exists" in hint.stdout


def test_password_never_comes_from_the_command_line(local_settings: Settings) -> None:
    without = run_cli(local_settings, "create-user", "dad", PASSWORD)
    assert without.returncode == 2 and "--password-stdin" in without.stderr
    empty = run_cli(local_settings, "create-user", "dad", "--password-stdin", stdin="")
    assert empty.returncode == 1 and "no password on standard input" in empty.stderr
    two_lines = run_cli(local_settings, "create-user", "dad", "--password-stdin", stdin=PASSWORD + "\nsecond line\n")
    assert two_lines.returncode == 1 and "single line" in two_lines.stderr
    assert Adapters(local_settings).identity.list_users() == []


def test_missing_aws_configuration_is_named(aws_settings: Settings) -> None:
    env = {**cli_env(aws_settings), "COGNITO_CLIENT_ID": "", "SESSION_SECRET": ""}
    out = subprocess.run(
        [sys.executable, "-m", "app", "first-run-hint"], capture_output=True, text=True, cwd=ROOT, env=env, timeout=60
    )
    assert out.returncode == 2
    assert "COGNITO_CLIENT_ID" in out.stderr and "SESSION_SECRET" in out.stderr


def test_a_member_made_on_the_command_line_after_one_of_that_name_went_is_a_new_member(
    cli_settings: Settings,
) -> None:
    from services import users
    from services.members import Members

    adapters = Adapters(cli_settings)
    family = users.Family(adapters.identity, adapters.records, adapters.storage)
    users.create_user(family, "mum", PASSWORD, is_admin=True)
    users.create_user(family, "kid", PASSWORD)
    users.delete_user(family, "kid", by=family.members.resolved(adapters.identity.get_user("mum")))
    done = run_cli(cli_settings, "create-user", "kid", "--password-stdin", stdin=PASSWORD + "\n")
    assert done.returncode == 0, done.stderr
    assert Members(adapters.records).id_of("kid") == "kid~2"
