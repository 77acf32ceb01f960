"""Routines end to end: the API → short-lived MQTT connections through real
mosquitto → a simulated player, on demand (202, then the run on the workers)
and by the local scheduler; the caps, and what ends a run early."""

from __future__ import annotations

import itertools
import json
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from app.scheduled import local_scheduler
from simulator.cloud import RunningCloud
from simulator.players import PlayerFleet, PlayerSpec, SimulatedPlayer, sample_card, start_players
from tests.api.conftest import ORIGIN, Api, make_api
from tests.brokers import Mosquitto, mosquitto  # noqa: F401 - fixture
from tests.conftest import ManualClock
from tests.scheduled.conftest import finished, link_account, stop_jobs
from tests.waiting import eventually
from wiring import root_for

TZ = "Europe/London"
BEDTIME = [
    {"action": "ambient", "hex": "#401a00"},
    {"action": "volume", "volume": 30},
    {"action": "play", "card_id": "c1"},
    {"action": "sleep_timer", "minutes": 30},
]


@pytest.fixture
def player_id() -> str:
    return f"sim-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def fleet(mosquitto: Mosquitto, player_id: str, yoto_cloud_env: RunningCloud) -> Iterator[PlayerFleet]:  # noqa: F811
    """A simulated player on the broker, listed on the Yoto simulator as the admin's."""
    yoto_cloud_env.add_device(player_id, "Bedroom", account="mum")
    with start_players(mosquitto.config("tcp"), [PlayerSpec(player_id, cards=[sample_card("c1")])]) as players:
        yield players


def _routine_api(
    settings: Any, cloud: RunningCloud, broker: Mosquitto, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[Api]:
    env = cloud.env()
    settings = settings.model_copy(
        update={
            "scheduler_enabled": False,
            "family_timezone": TZ,
            "yoto_api_url": env["YOTO_API_URL"],
            "yoto_auth_url": env["YOTO_AUTH_URL"],
            "yoto_client_id": env["YOTO_CLIENT_ID"],
            "mqtt_host": broker.host,
            "mqtt_port": broker.tcp_port,
            "mqtt_transport": "tcp",
            "mqtt_tls": False,
        }
    )
    api = make_api(settings, monkeypatch, tmp_path)
    link_account(api.adapters, cloud)
    yield api
    stop_jobs(api)
    for c in api.clients:
        c.close()


@pytest.fixture
def routine_api(
    request: pytest.FixtureRequest,
    yoto_cloud_env: RunningCloud,
    mosquitto: Mosquitto,  # noqa: F811 - fixture use
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> Iterator[Api]:
    """On the local side, or (parametrised indirectly with "aws") on DynamoDB on moto."""
    settings = request.getfixturevalue(f"{getattr(request, 'param', 'local')}_settings")
    yield from _routine_api(settings, yoto_cloud_env, mosquitto, monkeypatch, tmp_path)


@pytest.fixture
def silent_player(mosquitto: Mosquitto, yoto_cloud_env: RunningCloud) -> Iterator[SimulatedPlayer]:  # noqa: F811
    """A second player of the admin's, online, that never acknowledges a command."""
    pid = f"sim-{uuid.uuid4().hex[:10]}"
    yoto_cloud_env.add_device(pid, "Attic", account="mum")
    with start_players(mosquitto.config("tcp"), [PlayerSpec(pid)]) as players:
        players[pid].acks = False
        yield players[pid]


def run_now(client: Any, routine_id: str) -> dict[str, Any]:
    """POST …/run (202, queued) and the run once it has ended."""
    r = client.post(f"/api/routines/{routine_id}/run")
    assert r.status_code == 202, r.text
    assert r.json()["status"] == "queued" and r.json()["trigger"] == "manual"
    return finished(client, r.json()["id"])


def families(fleet: PlayerFleet, player_id: str) -> list[str]:
    """The commands the player received, without the listener's own events/status requests."""
    own = ("events/request", "status/request", "status")
    return [family for family, _ in fleet[player_id].received if family not in own]


def routine_body(player_id: str, **kw: Any) -> dict[str, Any]:
    return {"name": "Bedtime", "player_id": player_id, "at": "19:30", "days": ["mon", "fri"], "steps": BEDTIME, **kw}


def test_run_on_demand_reaches_the_player_as_its_steps_in_order(
    routine_api: Api, fleet: PlayerFleet, player_id: str
) -> None:
    client = routine_api.login()
    r = client.post("/api/routines", json=routine_body(player_id))
    assert r.status_code == 201, r.text
    routine = r.json()
    assert routine["next_run_at"] is not None
    due = datetime.fromisoformat(routine["next_run_at"]).astimezone(ZoneInfo(TZ))
    assert due.strftime("%H:%M %a") in ("19:30 Mon", "19:30 Fri")

    run = run_now(client, routine["id"])
    assert run["status"] == "ok", run
    assert [s["action"] for s in run["results"]] == ["ambient", "volume", "play", "sleep_timer"]
    assert all(s["outcome"] == "ok" and s["via"] == "short-lived" for s in run["results"])
    assert families(fleet, player_id) == ["ambients/set", "volume/set", "card/start", "sleep-timer/set"]
    state = fleet[player_id].snapshot()
    assert state["playback_status"] == "playing" and state["card_id"] == "c1"
    got = client.get(f"/api/routines/{routine['id']}").json()
    assert [x["id"] for x in got["last_runs"]] == [run["id"]]


def test_a_failed_step_is_recorded_and_the_rest_still_run(routine_api: Api, fleet: PlayerFleet, player_id: str) -> None:
    fleet[player_id].reject("volume/set", "volume locked by a grown-up")
    client = routine_api.login()
    routine = client.post("/api/routines", json=routine_body(player_id)).json()
    run = run_now(client, routine["id"])
    assert run["status"] == "partial" and run["detail"] == "1 of 4 step(s) did not succeed"
    outcomes = [(s["action"], s["outcome"]) for s in run["results"]]
    assert outcomes == [("ambient", "ok"), ("volume", "failed"), ("play", "ok"), ("sleep_timer", "ok")]
    assert "volume locked" in run["results"][1]["reason"]
    assert families(fleet, player_id) == ["ambients/set", "volume/set", "card/start", "sleep-timer/set"]


def test_a_routine_a_minute_ahead_runs_by_itself_once(routine_api: Api, fleet: PlayerFleet, player_id: str) -> None:
    """The local scheduler on an injected clock: nothing before the minute, one run at
    it, none on the next tick, and after a week asleep the missed slots run once."""
    tz = ZoneInfo(TZ)
    start = datetime.now(UTC).replace(second=5, microsecond=0)
    clock = ManualClock(start)
    at = (start + timedelta(minutes=1)).astimezone(tz).strftime("%H:%M")
    every_day = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    client = routine_api.login()
    body = routine_body(player_id, at=at, days=every_day, steps=[{"action": "volume", "volume": 50}])
    routine = client.post("/api/routines", json=body).json()
    scheduler = local_scheduler(root_for(routine_api.adapters), clock=clock.now, tick_s=3600)
    try:
        assert scheduler.tick_now() == []
        clock.advance(60)
        ran = scheduler.tick_now()
        assert [r.subject_id for r in ran] == [routine["id"]]
        runs = routine_api.adapters.records.runs
        wait_for(lambda: runs.get(ran[0].id).status == "ok")
        assert families(fleet, player_id) == ["volume/set"]
        assert scheduler.tick_now() == []
        clock.advance(7 * 24 * 3600)
        missed = scheduler.tick_now()
        assert len(missed) == 1
        wait_for(lambda: runs.get(missed[0].id).status == "ok")
        assert families(fleet, player_id) == ["volume/set", "volume/set"]
    finally:
        scheduler.stop()


def test_one_real_tick_of_make_runs_scheduler(
    routine_api: Api,
    fleet: PlayerFleet,
    player_id: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    yoto_cloud_env: RunningCloud,
) -> None:
    """The lifespan's scheduler thread on the real clock: a job that falls due runs without a request."""
    live = {"scheduler_enabled": True, "scheduler_tick_s": 0.2, "data_dir": tmp_path / "live"}
    api = make_api(routine_api.settings.model_copy(update=live), monkeypatch, tmp_path / "live-tmp")
    link_account(api.adapters, yoto_cloud_env)
    with TestClient(api.app, base_url="http://127.0.0.1:8000", headers={"Origin": ORIGIN}) as client:
        assert client.post(
            "/api/auth/login", json={"username": "mum", "password": "correct horse battery staple"}
        ).is_success
        routine = client.post("/api/routines", json=routine_body(player_id, steps=[{"action": "stop"}])).json()
        jobs = api.adapters.records.jobs
        job = jobs.get(routine["id"])
        jobs.save(_due_soon(job), expected_version=job.version)  # as if 19:30 were a second away
        wait_for(lambda: client.get(f"/api/routines/{routine['id']}").json()["last_runs"], timeout=10)
        run = client.get(f"/api/routines/{routine['id']}").json()["last_runs"][0]
        wait_for(lambda: client.get(f"/api/runs/{run['id']}").json()["status"] == "ok", timeout=10)
        done = client.get(f"/api/runs/{run['id']}").json()
        assert done["trigger"] == "schedule" and done["results"][0]["via"] in ("listener", "short-lived")
    assert families(fleet, player_id) == ["card/stop"]


def _due_soon(job: Any) -> Any:
    from dataclasses import replace

    return replace(job, next_run_at=datetime.now(UTC) + timedelta(seconds=1))


def test_steps_are_checked_like_commands(routine_api: Api, player_id: str) -> None:
    client = routine_api.login()
    for steps, why in [
        ([{"action": "volume", "volume": 101}], None),
        ([{"action": "volume"}], None),
        ([{"action": "next"}], None),
        ([{"action": "ambient"}], "ambient needs hex or all of r, g, b"),
        ([{"action": "ambient", "hex": "#fff", "r": 1}], "not both"),
        ([{"action": "play", "card_id": "c 1"}], None),
        ([], None),
        ([{"action": "launch"}], None),
    ]:
        r = client.post("/api/routines", json=routine_body(player_id, steps=steps))
        assert r.status_code == 422, (steps, r.text)
        if why:
            assert why in r.json()["detail"], r.json()
    for bad in ({"at": "7:30"}, {"at": "24:00"}, {"days": []}, {"days": ["someday"]}, {"player_id": "a/b"}):
        assert client.post("/api/routines", json={**routine_body(player_id), **bad}).status_code == 422, bad
    assert client.get("/api/routines").json()["items"] == []


def test_templates_and_replace_and_delete(routine_api: Api, player_id: str) -> None:
    client = routine_api.login()
    names = {t["name"]: t for t in client.get("/api/routines/templates").json()}
    assert set(names) == {"bedtime", "quiet_time"}
    assert [s["action"] for s in names["bedtime"]["steps"]] == ["ambient", "volume", "play", "sleep_timer"]
    body = {"template": "bedtime", "player_id": player_id, "at": "19:00", "days": ["sun"]}
    assert client.post("/api/routines/from-template", json=body).status_code == 422  # needs card_id
    made = client.post("/api/routines/from-template", json={**body, "card_id": "c1"}).json()
    assert made["steps"][1] == {"action": "volume", "volume": 30} and made["steps"][3]["minutes"] == 30
    quiet = client.post("/api/routines/from-template", json={**body, "template": "quiet_time"}).json()
    assert quiet["steps"] == [{"action": "stop"}, {"action": "ambient", "hex": "#000000"}]
    r = client.put(f"/api/routines/{made['id']}", json=routine_body(player_id, enabled=False))
    assert r.status_code == 200 and r.json()["enabled"] is False and r.json()["next_run_at"] is None
    kid = routine_api.login(("kid", "purple monkey dishwasher"))
    assert kid.delete(f"/api/routines/{made['id']}").status_code == 403
    assert client.delete(f"/api/routines/{made['id']}").status_code == 204
    assert client.get(f"/api/routines/{made['id']}").status_code == 404
    assert [r["id"] for r in client.get("/api/routines").json()["items"]] == [quiet["id"]]
    assert json.dumps(client.get("/api/routines").json())  # serialisable listing


def test_the_list_says_which_time_zone_the_times_are_in(routine_api: Api, player_id: str) -> None:
    """`at` is a clock time in FAMILY_TIMEZONE; the list names that zone (a page
    says it next to the times), while `next_run_at` stays UTC."""
    client = routine_api.login()
    empty = client.get("/api/routines").json()
    assert empty["timezone"] == TZ and empty["items"] == []
    made = client.post("/api/routines", json=routine_body(player_id, at="07:15", days=["wed"])).json()
    listed = client.get("/api/routines").json()
    assert listed["timezone"] == TZ
    assert [r["id"] for r in listed["items"]] == [made["id"]]
    due = datetime.fromisoformat(listed["items"][0]["next_run_at"])
    assert due.utcoffset() == timedelta(0)
    assert due.astimezone(ZoneInfo(TZ)).strftime("%H:%M %a") == "07:15 Wed"
    schema = client.get("/api/openapi.json").json()["components"]["schemas"]["RoutinePage"]
    assert "timezone" in schema["required"] and "FAMILY_TIMEZONE" in schema["properties"]["timezone"]["description"]


def wait_for(check: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


# --------------------------------------------------------------------------- what ends a run, the caps, fairness


def _commands(player: SimulatedPlayer) -> list[str]:
    own = ("events/request", "status/request", "status")
    return [family for family, _ in player.received if family not in own]


def test_a_silent_player_ends_the_run_at_the_first_unanswered_step(
    routine_api: Api, silent_player: SimulatedPlayer
) -> None:
    client = routine_api.login()
    routine = client.post("/api/routines", json=routine_body(silent_player.player_id)).json()
    run = run_now(client, routine["id"])
    assert [s["outcome"] for s in run["results"]] == ["timeout", "skipped", "skipped", "skipped"], run
    assert run["status"] == "failed" and "stopped at step 1" in run["detail"]
    assert all("not sent" in s["reason"] for s in run["results"][1:])
    assert _commands(silent_player) == ["ambients/set"]  # one command, not four unanswered ones


def test_a_player_known_to_be_offline_ends_the_run_at_once(routine_api: Api, yoto_cloud_env: RunningCloud) -> None:
    away = f"sim-{uuid.uuid4().hex[:10]}"
    yoto_cloud_env.add_device(away, "Car", account="mum", online=False)
    client = routine_api.login()
    routine = client.post("/api/routines", json=routine_body(away)).json()
    started = time.monotonic()
    run = run_now(client, routine["id"])
    took = time.monotonic() - started
    assert [s["outcome"] for s in run["results"]] == ["failed", "skipped", "skipped", "skipped"], run
    assert "offline" in run["results"][0]["reason"] and run["results"][0]["elapsed_ms"] < 500
    assert took < 2.0, took  # no wait for an answer that cannot come


def test_a_second_run_while_one_is_going_is_refused(routine_api: Api, silent_player: SimulatedPlayer) -> None:
    client = routine_api.login()
    routine = client.post("/api/routines", json=routine_body(silent_player.player_id)).json()
    first = client.post(f"/api/routines/{routine['id']}/run")
    assert first.status_code == 202
    again = client.post(f"/api/routines/{routine['id']}/run")
    assert again.status_code == 409 and again.json()["run_id"] == first.json()["id"], again.text
    finished(client, first.json()["id"])
    assert client.post(f"/api/routines/{routine['id']}/run").status_code == 202  # once it has ended


def test_routines_past_the_cap_are_refused_naming_it(routine_api: Api, player_id: str) -> None:
    cap = routine_api.settings.routines_per_member
    client = routine_api.login()
    body = routine_body(player_id, steps=[{"action": "stop"}])
    for n in range(cap):
        assert client.post("/api/routines", json={**body, "name": f"R{n}"}).status_code == 201
    refused = [client.post("/api/routines", json={**body, "name": f"more {n}"}) for n in range(150)]
    assert {r.status_code for r in refused} == {409}
    assert all(f"at most {cap} routines (ROUTINES_PER_MEMBER)" in r.json()["detail"] for r in refused)
    assert refused[0].json()["limit"] == cap
    template = {"template": "quiet_time", "player_id": player_id, "at": "19:00", "days": ["sun"]}
    assert client.post("/api/routines/from-template", json=template).status_code == 409
    assert len(client.get("/api/routines?mine=true&limit=200").json()["items"]) == cap
    kid = routine_api.login(("kid", "purple monkey dishwasher"))
    assert kid.post("/api/routines", json=body).status_code == 201  # per member


def test_a_players_commands_a_minute_are_capped(routine_api: Api, fleet: PlayerFleet, player_id: str) -> None:
    cap = routine_api.settings.player_commands_per_minute
    steps = [{"action": "volume", "volume": 10 + n} for n in range(20)]
    client = routine_api.login()
    routine = client.post("/api/routines", json=routine_body(player_id, steps=steps)).json()
    assert run_now(client, routine["id"])["status"] == "ok"
    second = run_now(client, routine["id"])
    sent = cap - 20
    assert [s["outcome"] for s in second["results"]] == ["ok"] * sent + ["skipped"] * (20 - sent), second
    assert "PLAYER_COMMANDS_PER_MINUTE" in second["results"][sent]["reason"]
    assert second["status"] == "partial" and f"stopped at step {sent + 1}" in second["detail"]
    assert families(fleet, player_id) == ["volume/set"] * cap


@pytest.mark.parametrize("routine_api", ["local", "aws"], indirect=True)
def test_a_silent_player_does_not_delay_another_players_routine(
    routine_api: Api, fleet: PlayerFleet, player_id: str, silent_player: SimulatedPlayer
) -> None:
    """Three 20-step routines aimed at a player that never answers, and another
    member's one-step routine on another player, all due in the same minute:
    the other routine runs at once (routines run per player in parallel), the
    silent player's one after another, each ending at its first timeout. Locally
    through the tick thread's workers; on AWS through the minute tick's."""
    from dataclasses import replace

    from app.scheduled import handle_event

    api = routine_api
    kid = api.login(("kid", "purple monkey dishwasher"))
    mine = kid.post("/api/routines", json=routine_body(player_id, steps=[{"action": "volume", "volume": 40}])).json()
    client = api.login()
    loud = [{"action": "volume", "volume": 20 + n} for n in range(20)]
    silent = [client.post("/api/routines", json=routine_body(silent_player.player_id, name=f"Q{n}", steps=loud)).json()
              for n in range(3)]  # fmt: skip
    jobs, runs = api.adapters.records.jobs, api.adapters.records.runs
    due = datetime.now(UTC) - timedelta(seconds=1)
    for r in [mine, *silent]:
        job = jobs.get(r["id"])
        jobs.save(replace(job, next_run_at=due), expected_version=job.version)

    started = datetime.now(UTC)
    if api.settings.use_aws:
        ticking = threading.Thread(target=handle_event, args=(root_for(api.adapters), {"yss": "tick"}), daemon=True)
        ticking.start()
    else:
        local_scheduler(root_for(api.adapters), tick_s=3600).tick_now()
    other = eventually(lambda: [r for r in runs.recent(mine["id"]) if r.status in ("ok", "partial", "failed")], 10)[0]
    assert other.status == "ok", other
    delay = (other.started_at - started).total_seconds()
    print(f"\n[{api.settings.backend}] the other player's routine started {delay * 1000:.0f} ms after the tick")
    assert delay < 2.0, (other.started_at, started)
    assert families(fleet, player_id) == ["volume/set"]

    def ended() -> list[Any]:
        done = [runs.recent(r["id"])[0] for r in silent]
        return done if all(d.status in ("ok", "partial", "failed") for d in done) else []

    done = sorted(eventually(ended, 30), key=lambda d: d.started_at)
    print(f"the silent player's three routines ended {(done[-1].finished_at - started).total_seconds():.1f} s after it")
    for a, b in itertools.pairwise(done):
        assert b.started_at >= a.finished_at  # one at a time on that player, never interleaved
    for d in done:
        assert d.status == "failed" and [s["outcome"] for s in d.results] == ["timeout"] + ["skipped"] * 19
    assert _commands(silent_player) == ["volume/set"] * 3
    if api.settings.use_aws:
        ticking.join(10)
        assert not ticking.is_alive()
