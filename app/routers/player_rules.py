"""Quiet hours and a daily listening limit per player: `GET/PUT /api/players/{id}/rules`.
The rules and their enforcement live in `services.player_rules`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body

from app.deps import RootDep, UserDep
from app.routers.players import PlayerId
from app.schemas.common import ERRORS
from app.schemas.player_rules import RulesIn, RulesOut
from services import player_rules
from wiring import Root

router = APIRouter(tags=["players"])


def _enforcer(root: Root) -> str:
    return player_rules.enforced_by(root.settings, root.records.settings)


@router.get(
    "/api/players/{player_id}/rules", response_model=RulesOut, responses=ERRORS(401, 404, 409, 422, 502, 503, 504)
)
def get_rules(player_id: PlayerId, root: RootDep, user: UserDep) -> RulesOut:
    """The player's quiet hours, daily limit and notice, who enforces them now, today's
    minutes and the last pause they sent. Whoever may use the player reads them."""
    rules = player_rules.get_rules(root.players, user, player_id, tz=root.settings.family_tz, enforcer=_enforcer(root))
    return RulesOut.model_validate(rules)


@router.put(
    "/api/players/{player_id}/rules",
    response_model=RulesOut,
    responses=ERRORS(401, 404, 409, 422, 502, 503, 504),
)
def put_rules(player_id: PlayerId, body: Annotated[RulesIn, Body()], root: RootDep, user: UserDep) -> RulesOut:
    """Replace the player's rules; whoever may use the player, as for its settings.
    Enforced only while a listener runs: `enforced_by` says which."""
    rules = player_rules.put_rules(
        root.players, user, player_id, body.body(), tz=root.settings.family_tz, enforcer=_enforcer(root)
    )
    return RulesOut.model_validate(rules)
