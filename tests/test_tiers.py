"""The tiers of tests/tiers.py: every test file in exactly one, and the unit tier's guard."""

from __future__ import annotations

import re
import socket
import subprocess

import pytest

from tests.tiers import (
    GROUPS,
    TESTS,
    TIER_NAMES,
    TIERS,
    UnitTierViolation,
    all_test_files,
    entries,
    runs_on_aws,
    tier_of,
    unit_guard,
)


def test_every_test_file_is_in_exactly_one_tier() -> None:
    files = all_test_files()
    assert len(files) > 100
    assert [f for f in files if tier_of(f) is None] == []
    assert set(TIERS) == set(TIER_NAMES)
    named = entries()  # raises when one entry is in two tiers
    assert sum(len(paths) for paths in TIERS.values()) == len(named)
    assert [e for e in named if not (TESTS / e).exists()] == [], "entries that name nothing"


def test_no_file_claims_a_tier_of_its_own() -> None:
    """A tier comes from the path alone; a mark in the file would put it in two."""
    mark = re.compile(r"pytest\.mark\.(" + "|".join(TIER_NAMES) + r")\b")
    assert [str(f) for f in all_test_files() if mark.search((TESTS / f).read_text())] == []


def test_the_most_specific_entry_decides() -> None:
    assert tier_of("mqtt/test_state.py") == "unit"
    assert tier_of("mqtt/test_listener.py") == "slow"
    assert tier_of("scheduled/test_routines_e2e.py") == "slow"
    assert tier_of("scheduled/test_jobs.py") == "integration"
    assert tier_of("contract/test_records.py") == "contract"
    assert tier_of(TESTS / "services" / "test_users.py") == "unit"


def test_grouped_files_exist_and_are_in_one_group() -> None:
    grouped = [f for files in GROUPS.values() for f in files]
    assert len(grouped) == len(set(grouped))
    assert [f for f in grouped if not (TESTS / f).is_file()] == []


def test_the_guard_refuses_sockets_and_processes_and_then_lets_go() -> None:
    connect = socket.socket.connect
    with unit_guard():
        with pytest.raises(UnitTierViolation, match="connect a socket"):
            socket.create_connection(("127.0.0.1", 9), timeout=1)
        with socket.socket() as s, pytest.raises(UnitTierViolation, match="bind a socket"):
            s.bind(("127.0.0.1", 0))
        with pytest.raises(UnitTierViolation, match="start a subprocess"):
            subprocess.run(["true"], check=False)
    assert socket.socket.connect is connect


def test_a_unit_test_runs_under_the_guard(request: pytest.FixtureRequest) -> None:
    """This file is unit: the conftest has the guard on without being asked."""
    assert request.node.get_closest_marker("unit") is not None
    with pytest.raises(UnitTierViolation):
        subprocess.run(["true"], check=False)
    with socket.socket() as s, pytest.raises(UnitTierViolation):
        s.connect(("127.0.0.1", 9))


def test_argon2_is_cheap_outside_the_contract_tier() -> None:
    import argon2

    hasher = argon2.PasswordHasher()
    assert (hasher.time_cost, hasher.memory_cost, hasher.parallelism) == (1, 8, 1)
    assert hasher.verify(hasher.hash("x"), "x")


def test_aws_variants_are_kept_outside_the_local_only_suites_and_where_named() -> None:
    assert runs_on_aws("tests/contract/test_records.py::test_tokens_compare_and_swap[aws]")
    assert runs_on_aws("tests/yoto/test_tokens.py::test_link_relink_unlink[aws]")
    assert not runs_on_aws("tests/api/test_hardening.py::test_odd_path_parameters_and_cursors_are_4xx[aws]")
    assert not runs_on_aws("tests/players/test_players_api.py::test_x[aws]")
    assert runs_on_aws("tests/api/test_uploads.py::test_cancel_upload[aws]")
    assert runs_on_aws("tests/api/test_auth.py::test_login_me_logout[aws]")
    assert runs_on_aws("tests/api/test_audio.py::test_upload_each_format_becomes_an_mp3_item[aws-mp3]")
    assert not runs_on_aws("tests/api/test_audio.py::test_upload_each_format_becomes_an_mp3_item[aws-flac]")
