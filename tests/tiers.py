"""The test pyramid: which tier each test file is in, by path, and the unit tier's guard.

A file's tier is the one whose entry (a folder or a file under tests/) is the most
specific match for it; `tests/conftest.py` marks every item with it, and
`tests/test_tiers.py` checks each file has exactly one. docs: README "Tests".
"""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

TESTS = Path(__file__).resolve().parent
TIER_NAMES = ("unit", "contract", "integration", "slow")

# Folders and files under tests/. A file belongs to its most specific entry.
TIERS: dict[str, tuple[str, ...]] = {
    "unit": (
        "services",
        "test_layers.py",
        "test_tiers.py",
        "api/test_multipart_stream.py",
        "api/test_openapi_unchanged.py",
        "api/test_problem_status.py",
        "mqtt/test_messages.py",
        "mqtt/test_payloads.py",
        "mqtt/test_protocol.py",
        "mqtt/test_state.py",
        "scheduled/test_fair_pool.py",
        "scheduled/test_schedule_times.py",
        "scheduled/test_url_safety.py",
        "yoto/test_cards.py",
    ),
    "contract": ("contract",),
    "integration": (
        "api",
        "deploy",
        "infra",
        "lambda",
        "scheduled",
        "simulator",
        "yoto",
        "yoto_api",
        "test_cli.py",
        "test_skeleton.py",
        "test_tier_selection.py",
        "test_transcode.py",
        "test_workloads.py",
    ),
    "slow": (
        "mqtt",  # mosquitto
        "players",  # mosquitto
        "scheduled/test_routines_e2e.py",  # mosquitto
        "infra/test_make_run.py",  # mosquitto, make
        "ui",  # Chromium
        "infra/test_pulumi_venv.py",  # a venv built by pip
        "infra/test_program.py",  # the Lambda package
        "infra/test_requirements.py",  # the Lambda package
        "lambda/test_package.py",  # the Lambda package
        "api/test_schemathesis.py",
        "migration",  # subprocesses of the migration
        "test_bench_scripts.py",
    ),
}

# Under `pytest -n 2 --dist loadgroup` a group runs on one worker: each file is its own
# group (its module fixtures are built once), and these files share one, since they
# build the same cached Lambda package and two builds at once would only race.
GROUPS: dict[str, tuple[str, ...]] = {
    "lambda-package": ("infra/test_program.py", "infra/test_requirements.py", "lambda/test_package.py"),
}
# Slow files first, so that the long ones do not start last and leave one worker idle.
ORDER = ("slow", "integration", "contract", "unit")

# The HTTP, Yoto and players suites run on the local backend only: the contract suites
# (tests/contract/) prove the AWS adapters behave as the local ones. [aws] variants are
# kept for what only AWS does, named here (a file, file::test or file::test[params]).
LOCAL_ONLY = ("api", "yoto_api", "players")
AWS_ONLY = (
    "api/test_auth.py::test_login_me_logout",  # Cognito sign-in
    "api/test_auth.py::test_wrong_user_and_wrong_password_look_the_same",  # Cognito's refusals
    "api/test_users.py::test_admin_manages_users",  # Cognito's admin calls
    "api/test_users.py::test_disabling_a_user_revokes_their_sessions",  # Cognito's global sign-out
    "api/test_uploads.py",  # presigned POST uploads to S3
    "api/test_audio.py::test_upload_each_format_becomes_an_mp3_item[aws-mp3]",  # the upload into S3
    "api/test_stream.py::test_stream_link_answers_bytes_locally_and_a_redirect_on_aws",  # the 302 to S3
    "api/test_stream.py::test_stream_url_is_stable_and_cookie_free",  # the presigned target
    "api/test_stream_fast_path.py::test_a_local_token_check_takes_no_worker_thread_and_a_remote_one_does",
    "api/test_tts.py::test_tts_makes_an_audio_item",  # Polly
    "api/test_imports.py::test_an_m4b_with_twelve_chapters",  # the archive staged in S3, the run in the request
    "api/test_imports.py::test_a_zip_slip_entry_is_refused_with_nothing_kept",  # nothing left in S3 or /tmp
    "api/test_imports.py::test_the_two_step_way_in",  # the presigned POST to S3, past Lambda's payload limit
    "api/test_tokens.py::test_the_secret_is_answered_once_and_stored_hashed",  # a token's record in DynamoDB
    "api/test_tokens.py::test_revoking_refuses_the_next_request",  # the delete in DynamoDB, read back at once
    "api/test_mcp.py::test_a_revoked_token_is_refused_at_once",  # /mcp with the token's record in DynamoDB
    "players/test_player_rules.py::test_rules_are_read_and_replaced_and_bad_ones_refused_with_the_reason",  # DynamoDB
    "yoto_api/test_cards.py::test_create_writes_one_stream_chapter_per_track_with_our_urls_and_icons",  # S3 302
    "yoto_api/test_player_settings.py::test_every_setting_is_read_changed_and_read_back",  # the issue: both sets
    "yoto_api/test_player_settings.py::test_two_patches_at_once_keep_both_changes",  # the lease in DynamoDB
)


def runs_on_aws(nodeid: str) -> bool:
    """Whether the [aws] variant of this test (a node id under tests/) is kept."""
    path, _, rest = nodeid.removeprefix("tests/").partition("::")
    name = rest.split("[", 1)[0]
    if not any(path == d or path.startswith(d + "/") for d in LOCAL_ONLY):
        return True
    return path in AWS_ONLY or f"{path}::{name}" in AWS_ONLY or f"{path}::{rest}" in AWS_ONLY


class UnitTierViolation(AssertionError):
    """A unit-tier test tried to reach the network or start a process."""


def entries() -> dict[str, str]:
    """Every entry and its tier; an entry named by two tiers is an error."""
    seen: dict[str, str] = {}
    for tier, paths in TIERS.items():
        for path in paths:
            if path in seen:
                raise ValueError(f"{path} is in both {seen[path]} and {tier}")
            seen[path] = tier
    return seen


def tier_of(path: Path | str) -> str | None:
    """The tier of one test file (a path under tests/, or absolute), or None when no entry covers it."""
    try:
        rel = relative(path)
    except ValueError:  # not under tests/
        return None
    best: tuple[int, str] | None = None
    for entry, tier in entries().items():
        e = PurePosixPath(entry)
        if (rel == e or e in rel.parents) and (best is None or len(e.parts) > best[0]):
            best = (len(e.parts), tier)
    return best[1] if best else None


def relative(path: Path | str) -> PurePosixPath:
    p = Path(path)
    return PurePosixPath(p.resolve().relative_to(TESTS).as_posix()) if p.is_absolute() else PurePosixPath(path)


def group_of(path: Path | str) -> str:
    try:
        rel = relative(path)
    except ValueError:
        return str(path)
    for group, files in GROUPS.items():
        if str(rel) in files:
            return group
    return str(rel)


def all_test_files() -> list[PurePosixPath]:
    """Every test module under tests/, relative to it."""
    return sorted(PurePosixPath(p.relative_to(TESTS).as_posix()) for p in TESTS.rglob("test_*.py"))


def _refuse(what: str) -> Callable[..., None]:
    def refused(*args: object, **kwargs: object) -> None:
        raise UnitTierViolation(f"a unit test may not {what}: move the test to another tier (tests/tiers.py)")

    return refused


@contextmanager
def unit_guard() -> Iterator[None]:
    """While active, connecting or binding a socket and starting a process raise UnitTierViolation."""
    saved = (socket.socket.connect, socket.socket.connect_ex, socket.socket.bind, subprocess.Popen.__init__)
    socket.socket.connect = _refuse("connect a socket")  # type: ignore[method-assign]
    socket.socket.connect_ex = _refuse("connect a socket")  # type: ignore[method-assign]
    socket.socket.bind = _refuse("bind a socket")  # type: ignore[method-assign]
    subprocess.Popen.__init__ = _refuse("start a subprocess")  # type: ignore[method-assign]
    try:
        yield
    finally:
        socket.socket.connect, socket.socket.connect_ex, socket.socket.bind, subprocess.Popen.__init__ = saved  # type: ignore[method-assign]


if __name__ == "__main__":  # `python -m tests.tiers unit`: the tier's entries, as pytest paths (make test-fast)
    import sys

    print(" ".join(f"tests/{entry}" for entry in TIERS[sys.argv[1]]))
