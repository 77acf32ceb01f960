"""Routines end to end: the API → short-lived MQTT connections through real
mosquitto → a simulated player, on demand and by the local scheduler."""

from __future__ import annotations

import json
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
from simulator.players import PlayerFleet, PlayerSpec, sample_card, start_players
from tests.api.conftest import ORIGIN, Api, make_api
from tests.brokers import Mosquitto, mosquitto  # noqa: F401 - fixture
from tests.conftest import ManualClock
from tests.scheduled.conftest import link_account

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


@pytest.fixture
def routine_api(
    local_settings: Any,
    yoto_cloud_env: RunningCloud,
    mosquitto: Mosquitto,  # noqa: F811 - fixture use
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> Iterator[Api]:
    env = yoto_cloud_env.env()
    settings = local_settings.model_copy(
        update={
            "scheduler_enabled": False,
            "family_timezone": TZ,
            "yoto_api_url": env["YOTO_API_URL"],
            "yoto_auth_url": env["YOTO_AUTH_URL"],
            "yoto_client_id": env["YOTO_CLIENT_ID"],
            "mqtt_host": mosquitto.host,
            "mqtt_port": mosquitto.tcp_port,
            "mqtt_transport": "tcp",
            "mqtt_tls": False,
        }
    )
    api = make_api(settings, monkeypatch, tmp_path)
    link_account(api.adapters, yoto_cloud_env)
    yield api
    for c in api.clients:
        c.close()


def families(fleet: PlayerFleet, player_id: str) -> list[str]:
    """The commands the player received, without the listener's own events/status requests."""
    return [family for family, _ in fleet[player_id].received if family not in ("events/request", "status/request")]


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

    r = client.post(f"/api/routines/{routine['id']}/run")
    assert r.status_code == 200, r.text
    run = r.json()
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
    run = client.post(f"/api/routines/{routine['id']}/run").json()
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
    scheduler = local_scheduler(routine_api.adapters, clock=clock.now, tick_s=3600)
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
