"""The bedtime steps of a routine over HTTP: `light_ramp` (`from`, `to`, `minutes`) and
`sleep_timer` with `at_end_of` are saved as sent and read back so; what the schema or
the service refuses is a 422 naming it (services.bedtime; runs: tests/services/test_bedtime.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from core.settings import Settings
from tests.api.conftest import make_api

RAMP = {"action": "light_ramp", "from": "#ff8c1a", "to": "#200800", "minutes": 10}
END = {"action": "sleep_timer", "at_end_of": "chapter"}


def body(steps: list[dict[str, Any]]) -> dict[str, Any]:
    return {"name": "Sunset", "player_id": "bedroom-1", "at": "19:00", "days": ["mon"], "steps": steps}


def test_ramp_and_end_of_steps_are_saved_as_sent_and_refused_with_the_reason(
    local_settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    api = make_api(local_settings.model_copy(update={"scheduler_enabled": False}), monkeypatch, tmp_path)
    client = api.login()
    r = client.post("/api/routines", json=body([{"action": "play", "card_id": "c1"}, END, RAMP]))
    assert r.status_code == 201, r.text
    assert r.json()["steps"] == [{"action": "play", "card_id": "c1"}, END, RAMP]
    assert client.get(f"/api/routines/{r.json()['id']}").json()["steps"][1:] == [END, RAMP]

    for steps, why in [
        ([{**RAMP, "minutes": 13}], None),
        ([{**RAMP, "from": "#fff"}], None),
        ([{**RAMP, "from": None}], "from must not be null"),
        ([{"action": "light_ramp", "to": "#000000", "minutes": 2}], None),
        ([{**END, "at_end_of": "story"}], None),
        ([{**END, "minutes": 5}], "sleep_timer needs minutes or at_end_of (one of them)"),
        ([RAMP, {**RAMP, "minutes": 3}], "light ramps last at most 12 minutes together (got 13)"),
    ]:
        r = client.post("/api/routines", json=body(steps))
        assert r.status_code == 422, (steps, r.text)
        if why:
            assert why in r.text, r.json()
    assert len(client.get("/api/routines").json()["items"]) == 1
    for c in api.clients:
        c.close()
