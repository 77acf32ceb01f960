"""`python -m app migrate`, run as a real process against a local install and the
AWS side on the moto server (DynamoDB, S3, Cognito as the Pulumi program makes them)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from adapters import Adapters
from core.errors import NotFound
from core.records import PlayerState
from core.settings import Settings
from tests.live_server import live_app
from tests.migration.install import (
    USERS,
    Install,
    bucket_count,
    bucket_objects,
    cli_env,
    kill_when,
    local_files,
    password_of,
    pool_users,
    populate,
    run,
    sha,
    table_items,
)

TOTAL_RECORDS = 4 + 1 + 2 + 1 + 2 + 1  # audio, playlists, cards, tokens, settings, player states


def assert_target_holds(install: Install, aws: Settings) -> None:
    """Read the AWS side through its adapters: every record equal, every object byte for byte."""
    target = Adapters(aws)
    people = {u.username: u for u in target.identity.list_users()}
    assert {n: (people[n].is_admin, people[n].disabled) for n, _, _ in USERS} == {n: (a, d) for n, a, d in USERS}
    for item in install.items:
        assert target.records.audio.get(item.id) == item
        assert sha(target.storage.read_range(item.storage_key, 0, item.size_bytes - 1)) == sha(
            install.data[item.storage_key]
        )
    assert [target.records.playlists.get(p.id) for p in install.playlists] == install.playlists
    assert [target.records.cards.get(c.id) for c in install.cards] == install.cards
    assert target.records.tokens.get("family").version == 3
    assert target.records.settings.get("linked_account") == {"account": "family"}
    assert target.records.settings.get("volume_limit") == 0.75
    state = target.records.players.get_state("player-1")
    assert isinstance(state, PlayerState) and state.state == {"volume": 5, "card": "yoto-abc"}


def test_dry_run_counts_and_bytes_and_touches_nothing(
    install: Install, env: dict[str, str], aws_settings: Settings
) -> None:
    before = local_files(install.settings.data_dir)
    done = run(env, "migrate", "--to-aws", "--dry-run")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "users: 3 to copy, 0 already there" in out
    assert "audio items: 4 to copy, 0 already there" in out
    total = sum(len(d) for d in install.data.values())
    assert f"audio objects: 4 to copy ({total / 1024:.1f} KB)" in out
    assert "not copied: sessions" in out
    assert table_items(aws_settings) == [] and bucket_count(aws_settings) == 0 and pool_users(aws_settings) == []
    assert local_files(install.settings.data_dir) == before


def test_a_local_install_migrates_verified_and_a_second_run_is_a_no_op(
    install: Install, env: dict[str, str], aws_settings: Settings
) -> None:
    before = local_files(install.settings.data_dir)
    first = run(env, "migrate", "--to-aws")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "users: 3 copied, 0 already there" in first.stdout
    assert f"in all: {3 + TOTAL_RECORDS + 4} copied, 0 already there" in first.stdout
    assert "verified audio objects: 4 of 4 match [ok]" in first.stdout
    assert "DIFFERS" not in first.stdout
    assert_target_holds(install, aws_settings)
    target = Adapters(aws_settings)
    for name, _, _ in USERS:  # an unusable password in Cognito, the argon2 hash beside it
        assert target.identity.authenticate(name, password_of(name)) is None
        assert target.records.fallbacks.get(name).secret_hash.startswith("$argon2id$")
    assert local_files(install.settings.data_dir) == before, "the local side changed"

    items, objects, users = table_items(aws_settings), bucket_objects(aws_settings), pool_users(aws_settings)
    second = run(env, "migrate", "--to-aws")
    assert second.returncode == 0, second.stdout + second.stderr
    assert f"in all: 0 copied, {3 + TOTAL_RECORDS + 4} already there" in second.stdout
    assert table_items(aws_settings) == items
    assert bucket_objects(aws_settings) == objects  # same bytes, same LastModified: nothing rewritten
    assert pool_users(aws_settings) == users
    assert local_files(install.settings.data_dir) == before


def test_a_migrated_user_signs_in_with_the_old_password_and_the_record_goes(
    install: Install, env: dict[str, str], aws_settings: Settings, tmp_path: Path
) -> None:
    assert run(env, "migrate", "--to-aws").returncode == 0
    records = Adapters(aws_settings).records
    with live_app(aws_settings, tmp_path) as base, httpx.Client(base_url=base, headers={"Origin": base}) as http:
        wrong = http.post("/api/auth/login", json={"username": "anna", "password": "not her passphrase"})
        assert wrong.status_code == 401
        assert records.fallbacks.get("anna").purpose == "password"  # a wrong guess redeems nothing
        disabled = http.post("/api/auth/login", json={"username": "aaron", "password": password_of("aaron")})
        assert disabled.status_code == 401
        assert records.fallbacks.get("aaron")  # kept for when an admin enables him

        right = http.post("/api/auth/login", json={"username": "Anna", "password": password_of("anna")})
        assert right.status_code == 200, right.text
        assert right.json()["username"] == "anna" and right.json()["is_admin"] is True
        assert "secret_hash" not in right.text and "argon2" not in right.text
        with pytest.raises(NotFound):
            records.fallbacks.get("anna")
        assert http.get("/api/auth/me").status_code == 200

        http.cookies.clear()
        again = http.post("/api/auth/login", json={"username": "anna", "password": password_of("anna")})
        assert again.status_code == 200  # now Cognito's own check
    assert Adapters(aws_settings).identity.authenticate("anna", password_of("anna")) is not None


def test_a_run_killed_mid_copy_resumes_without_duplicates(tmp_path: Path, aws_settings: Settings) -> None:
    big = populate(Settings(use_aws=False, data_dir=tmp_path / "big"), objects=60, size=300_000, seed=7)
    env = cli_env(big.settings, aws_settings)
    status = kill_when(env, ("migrate", "--to-aws"), lambda: bucket_count(aws_settings) >= 5, tmp_path / "killed.log")
    assert status == -9, (tmp_path / "killed.log").read_text()
    landed = bucket_objects(aws_settings)
    assert 5 <= len(landed) < 60, "the kill should land in the middle of the copy"
    for key, (digest, _) in landed.items():  # every object there is whole
        assert digest == sha(big.data[key])

    resumed = run(env, "migrate", "--to-aws")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "verified audio objects: 60 of 60 match [ok]" in resumed.stdout
    assert "verified audio items: 60 of 60 match [ok]" in resumed.stdout
    target = Adapters(aws_settings)
    listed = target.records.audio.list(limit=200).items
    assert sorted(i.id for i in listed) == sorted(i.id for i in big.items)  # no duplicates
    assert len(pool_users(aws_settings)) == len(USERS)
    assert bucket_count(aws_settings) == 60
    assert "in all: 0 copied" in run(env, "migrate", "--to-aws").stdout


def test_a_run_killed_among_the_users_finishes_them(
    install: Install, env: dict[str, str], aws_settings: Settings, tmp_path: Path
):
    status = kill_when(env, ("migrate", "--to-aws"), lambda: len(pool_users(aws_settings)) >= 1, tmp_path / "k.log")
    assert status == -9
    resumed = run(env, "migrate", "--to-aws")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert_target_holds(install, aws_settings)
    for name, _, _ in USERS:
        assert Adapters(aws_settings).records.fallbacks.get(name).purpose == "password"


def test_a_corrupted_object_on_the_target_is_detected_then_repaired(
    install: Install, env: dict[str, str], aws_settings: Settings
) -> None:
    assert run(env, "migrate", "--to-aws").returncode == 0
    victim = install.items[2].storage_key
    Adapters(aws_settings).storage.put_bytes(victim, b"\0" * install.items[2].size_bytes, "audio/mpeg")

    checked = run(env, "migrate", "--to-aws")
    assert checked.returncode == 1
    assert f"difference: audio object {victim}: SHA-256 differs" in checked.stdout
    assert "verified audio objects: 3 of 4 match [DIFFERS]" in checked.stdout
    assert "difference(s) between source and target" in checked.stderr

    repaired = run(env, "migrate", "--to-aws", "--repair")
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert f"repaired: audio object {victim}" in repaired.stdout
    assert bucket_objects(aws_settings)[victim][0] == sha(install.data[victim])


def test_to_local_round_trips_the_audio_byte_for_byte_with_reset_codes(
    install: Install, env: dict[str, str], aws_settings: Settings, tmp_path: Path
) -> None:
    assert run(env, "migrate", "--to-aws").returncode == 0
    aws_before = (table_items(aws_settings), bucket_objects(aws_settings))
    back = Settings(use_aws=False, data_dir=tmp_path / "back-home")
    env_back = cli_env(back, aws_settings)

    dry = run(env_back, "migrate", "--to-local", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "audio items: 4 to copy" in dry.stdout and not back.data_dir.exists()

    done = run(env_back, "migrate", "--to-local")
    assert done.returncode == 0, done.stdout + done.stderr
    codes = {
        line.split()[3].rstrip(":"): line.split()[4]
        for line in done.stdout.splitlines()
        if line.startswith("reset code for ")
    }
    assert sorted(codes) == sorted(n for n, _, _ in USERS)
    for key, data in install.data.items():
        assert (back.data_dir / "audio" / key).read_bytes() == data
    local = Adapters(back)
    assert [local.records.audio.get(i.id) for i in install.items] == install.items
    assert [local.records.cards.get(c.id) for c in install.cards] == install.cards
    people = {u.username: (u.is_admin, u.disabled) for u in local.identity.list_users()}
    assert people == {n: (a, d) for n, a, d in USERS}
    assert (table_items(aws_settings), bucket_objects(aws_settings)) == aws_before, "the AWS side changed"

    again = run(env_back, "migrate", "--to-local")
    assert again.returncode == 0 and "in all: 0 copied" in again.stdout and "reset code for" not in again.stdout

    new_password = "a brand new passphrase"
    wrong = run(env_back, "reset-password", "ben", "--code-stdin", stdin=f"AAAAA-BBBBB\n{new_password}\n")
    assert wrong.returncode == 1 and "wrong" in wrong.stderr
    ok = run(env_back, "reset-password", "ben", "--code-stdin", stdin=f"{codes['ben'].lower()}\n{new_password}\n")
    assert ok.returncode == 0, ok.stderr
    assert Adapters(back).identity.authenticate("ben", new_password) is not None
    reused = run(env_back, "reset-password", "ben", "--code-stdin", stdin=f"{codes['ben']}\n{new_password}x\n")
    assert reused.returncode == 1 and "no reset code" in reused.stderr


def test_every_repository_is_copied_or_left_behind_with_a_reason() -> None:
    from core.ports import Records
    from services.migration.kinds import COPIED, NOT_COPIED

    repositories = set(Records.__annotations__)
    copied = {kind.repository for kind in COPIED}
    assert copied | set(NOT_COPIED) == repositories, "a new repository: copy it (kinds.COPIED) or say why not"
    assert copied & set(NOT_COPIED) == {"players"}  # its states are copied, its events are not
    assert all(Records.__annotations__[kind.repository] for kind in COPIED)


def test_member_ids_cross_over_with_the_settings(
    install: Install, env: dict[str, str], aws_settings: Settings, tmp_path: Path
) -> None:
    """ben is deleted and a new ben made on the laptop: on AWS the new ben is still `ben~2`,
    owns his own item and none of the first ben's (which went to anna)."""
    from dataclasses import replace

    from services import users
    from services.members import Members

    local = Adapters(install.settings)
    family = users.Family(local.identity, local.records, local.storage)
    first_bens = [i.id for i in install.items if i.owner == "ben"]
    users.delete_user(family, "ben", by=local.identity.get_user("anna"))
    assert users.create_user(family, "ben", "ben's second passphrase").owner_id == "ben~2"
    info = local.storage.put_bytes("audio/item-new.mp3", b"\xff\xfb\x90\x00" * 100, "audio/mpeg")
    local.records.audio.add(replace(install.items[0], id="item-new", owner="ben~2", storage_key=info.key))

    done = run(env, "migrate", "--to-aws")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "DIFFERS" not in done.stdout
    target = Adapters(aws_settings)
    assert Members(target.records).id_of("ben") == "ben~2"
    assert {target.records.audio.get(i).owner for i in first_bens} == {"anna"}
    with live_app(aws_settings, tmp_path) as base, httpx.Client(base_url=base, headers={"Origin": base}) as http:
        r = http.post("/api/auth/login", json={"username": "ben", "password": "ben's second passphrase"})
        assert r.status_code == 200, r.text
        mine = http.get("/api/audio", params={"mine": "true"}).json()["items"]
        assert [(i["id"], i["owner"]) for i in mine] == [("item-new", "ben")]
