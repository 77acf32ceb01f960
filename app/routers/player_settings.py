"""A player's settings and alarms (`/api/players/{id}/settings`, `/alarms`).

Thin: the rules are `services.player_settings`, the encodings `core.yoto.settings`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path, Response

from app.deps import RootDep, UserDep
from app.routers.players import PlayerId
from app.schemas.common import ERRORS
from app.schemas.player_settings import AlarmIn, AlarmOut, AlarmPatch, AlarmsOut, SettingsIn, SettingsOut
from services import player_settings

router = APIRouter(tags=["players"])

AlarmNumber = Annotated[int, Path(ge=0, le=99, description="the alarm's place in the player's list")]
_READ = ERRORS(401, 404, 409, 422, 502, 503, 504)
_WRITE = ERRORS(401, 403, 404, 409, 422, 502, 503, 504)


@router.get("/api/players/{player_id}/settings", response_model=SettingsOut, responses=_READ)
def get_settings(player_id: PlayerId, root: RootDep, user: UserDep) -> SettingsOut:
    """The player's settings as Yoto holds them, in typed values, with the ones its model has."""
    return SettingsOut.of(player_settings.get_settings(root.player_settings, user, player_id))


@router.patch("/api/players/{player_id}/settings", response_model=SettingsOut, responses=_WRITE)
def change_settings(
    player_id: PlayerId, body: Annotated[SettingsIn, Body()], root: RootDep, user: UserDep
) -> SettingsOut:
    """Change the settings named; every other key of the player's config (those this
    service does not know too) is written back as it was. 422 names a value out of
    range or a setting the player's model lacks; nothing is written then."""
    wanted = body.model_dump(exclude_none=True)
    return SettingsOut.of(player_settings.change_settings(root.player_settings, user, player_id, wanted))


@router.get("/api/players/{player_id}/alarms", response_model=AlarmsOut, responses=_READ)
def list_alarms(player_id: PlayerId, root: RootDep, user: UserDep) -> AlarmsOut:
    """Every alarm the player has, those made in the Yoto app included."""
    views = player_settings.list_alarms(root.player_settings, user, player_id)
    return AlarmsOut(alarms=[AlarmOut.of(v) for v in views])


@router.post("/api/players/{player_id}/alarms", status_code=201, response_model=AlarmOut, responses=_WRITE)
def add_alarm(player_id: PlayerId, body: Annotated[AlarmIn, Body()], root: RootDep, user: UserDep) -> AlarmOut:
    """Add an alarm at the end of the player's list; the others are kept as they are."""
    fields = body.model_dump(exclude_none=True)
    return AlarmOut.of(player_settings.add_alarm(root.player_settings, user, player_id, fields))


@router.patch("/api/players/{player_id}/alarms/{n}", response_model=AlarmOut, responses=_WRITE)
def edit_alarm(
    player_id: PlayerId, n: AlarmNumber, body: Annotated[AlarmPatch, Body()], root: RootDep, user: UserDep
) -> AlarmOut:
    """Change the fields named of alarm `n` (switch it on or off with `enabled`); the
    fields of Yoto's alarm string this service does not know are kept."""
    fields = body.model_dump(exclude_none=True)
    return AlarmOut.of(player_settings.edit_alarm(root.player_settings, user, player_id, n, fields))


@router.delete("/api/players/{player_id}/alarms/{n}", status_code=204, responses=_WRITE)
def delete_alarm(player_id: PlayerId, n: AlarmNumber, root: RootDep, user: UserDep) -> Response:
    """Delete alarm `n`; the alarms after it move up one place."""
    player_settings.delete_alarm(root.player_settings, user, player_id, n)
    return Response(status_code=204)
