"""Announcements: a text spoken on players, each put back where it was (rules in
`services.announcements`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body
from fastapi.responses import JSONResponse

from app.deps import RootDep, UserDep
from app.schemas.announcements import AnnouncementIn, AnnouncementOut, AnnouncementQueuedOut
from app.schemas.common import ERRORS, ErrorOut
from app.schemas.scheduled import RunOut
from services import announcements

router = APIRouter(tags=["players"])

_RESPONSES: dict[int | str, dict[str, Any]] = {
    **ERRORS(401, 403, 404, 422, 429, 502, 503, 504),
    202: {"model": AnnouncementQueuedOut, "description": "queued: follow the run"},
    409: {
        "model": ErrorOut,
        "description": "another announcement is playing, no player to announce on, the install can reach no"
        " player's storage, or no Yoto account is linked",
    },
}


@router.post("/api/announcements", response_model=AnnouncementOut, responses=_RESPONSES)
def announce(body: Annotated[AnnouncementIn, Body()], root: RootDep, user: UserDep) -> AnnouncementOut | JSONResponse:
    """Speak `text` on the players (all you may use when `player_ids` is left out), then put each
    back on the card, chapter, track and second it was on; a player that was not playing stays
    stopped. 200 with each player's outcome when the card streams and the speech is short; 202
    with the run otherwise (a card in Yoto's storage is uploaded and transcoded first). A player
    you may not use is a 404, as on the player routes. The end is seen in the players' events
    while a listener runs, else it is the spoken length plus 3 s (docs/players.md, "Announcements")."""
    started = announcements.announce(root.announcements, user, body.text, body.player_ids)
    if started.queued:
        queued = AnnouncementQueuedOut(run=RunOut.of(started.run))
        return JSONResponse(queued.model_dump(mode="json"), status_code=202)
    return AnnouncementOut.of(started.run)
