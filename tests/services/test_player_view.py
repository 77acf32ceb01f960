"""services.players.view: the typed player view crosses the service boundary, and the API's
`PlayerOut` is exactly its fields (so the JSON stays what it was)."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

from app.schemas.players import PlayerOut
from core.records import PlayerState, utcnow
from services.players import KnownDevice, PlayerView, known_offline, view


def _device(listed_at: datetime | None = None, **extra: object) -> KnownDevice:
    listed = listed_at or utcnow()
    return KnownDevice(id="p1", name="Kitchen", account="kid", online=True, listed_at=listed, **extra)  # type: ignore[arg-type]


def test_the_view_is_a_player_view_with_the_api_fields_and_no_others() -> None:
    shown = view(_device(battery_percent=80), None)
    assert isinstance(shown, PlayerView)
    assert [f.name for f in dataclasses.fields(PlayerView)] == list(PlayerOut.model_fields)
    out = PlayerOut.of(shown)
    assert (out.id, out.name, out.online, out.battery_percent, out.owner) == ("p1", "Kitchen", True, 80, "kid")
    assert out.heard_at is None and out.stale is True and out.private is False


def test_what_arrived_over_mqtt_wins_over_the_list_and_sets_when_it_was_heard() -> None:
    heard = utcnow()
    state = PlayerState("p1", {"online": False, "events": {"volume": 8, "volumeMax": 16}}, updated_at=heard)
    shown = view(_device(heard - timedelta(minutes=1)), state, heard + timedelta(seconds=5), private=True)
    assert shown.online is False and shown.volume == 50 and shown.private is True
    assert shown.heard_at == heard.isoformat() and shown.stale is False
    assert known_offline(shown, live=True, now=heard)
    assert not known_offline(dataclasses.replace(shown, online=True), live=True, now=heard)
