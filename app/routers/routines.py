"""Routines per player: steps (command bodies) at a time on chosen days, or now
(rules in `services.routines`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from app.deps import RootDep, UserDep
from app.schemas.common import ERRORS
from app.schemas.scheduled import (
    FromTemplateIn,
    RoutineIn,
    RoutineOut,
    RoutinePage,
    RunOut,
    TemplateOut,
    job_responses,
    step_bodies,
)
from core.records import Routine
from services import routines

router = APIRouter(prefix="/api/routines", tags=["routines"])

Id = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9]+$")]
LAST_RUNS = 5


def _out(ports: routines.RoutinePorts, routine: Routine, *, runs: bool = True) -> RoutineOut:
    out = RoutineOut.of(routine)
    out.next_run_at = routines.next_run_at(ports, routine.id)
    if runs:
        out.last_runs = [RunOut.of(r) for r in ports.runs.recent(routine.id, limit=LAST_RUNS)]
    return out


@router.get("/templates", response_model=list[TemplateOut], responses=ERRORS(401))
def templates(
    _: UserDep, card_id: Annotated[str | None, Query(max_length=64, pattern=r"^[A-Za-z0-9_-]+$")] = None
) -> list[TemplateOut]:
    """The ready-made routines and their steps (bedtime shows `card_id` as given, else `CARD_ID`)."""
    return [
        TemplateOut(
            name=t.name, description=t.description, needs_card=t.needs_card, steps=t.steps(card_id or "CARD_ID")
        )
        for t in routines.TEMPLATES.values()
    ]


@router.post("", response_model=RoutineOut, status_code=201, responses=ERRORS(401, 403, 409, 422))
def create_routine(body: RoutineIn, root: RootDep, user: UserDep) -> RoutineOut:
    """`at` is HH:MM in FAMILY_TIMEZONE; each step is a command body, checked as the
    player commands route checks it (422 naming the step). `next`/`previous` are
    refused. 409 naming the cap past ROUTINES_PER_MEMBER routines of the caller's."""
    ports = root.routines
    routine = routines.create(ports, user, **{**body.model_dump(exclude={"steps"}), "steps": step_bodies(body.steps)})
    return _out(ports, routine)


@router.post("/from-template", response_model=RoutineOut, status_code=201, responses=ERRORS(401, 403, 409, 422))
def create_from_template(body: FromTemplateIn, root: RootDep, user: UserDep) -> RoutineOut:
    """ "bedtime" (dim warm light, volume 30 %, `card_id`, sleep timer 30 min; 422
    without `card_id`) or "quiet_time" (stop, night-light off)."""
    ports = root.routines
    template = routines.TEMPLATES[body.template]
    routine = routines.create(
        ports,
        user,
        name=body.name or template.name.replace("_", " ").capitalize(),
        player_id=body.player_id,
        at=body.at,
        days=body.days,
        steps=template.steps(body.card_id),
        enabled=body.enabled,
    )
    return _out(ports, routine)


@router.get("", response_model=RoutinePage, responses=ERRORS(400, 401))
def list_routines(
    root: RootDep,
    user: UserDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=2000)] = None,
    mine: bool = False,
) -> RoutinePage:
    """The family's routines (`mine`: only the caller's; not those aimed at a player kept
    for another member), each with `next_run_at` (UTC), and the `timezone` their `at`
    clock times are in."""
    ports = root.routines
    page = routines.list_routines(ports, user, mine=mine, limit=limit, cursor=cursor)
    # The zone goes with the list so a page can say which clock the times are on
    # (ports.tz is the same ZoneInfo, built from this setting).
    return RoutinePage(
        items=[_out(ports, r, runs=False) for r in page.items],
        next_cursor=page.next_cursor,
        timezone=root.settings.family_timezone,
    )


@router.get("/{routine_id}", response_model=RoutineOut, responses=ERRORS(401, 404))
def get_routine(routine_id: Id, root: RootDep, user: UserDep) -> RoutineOut:
    """With `next_run_at` (UTC) and the last runs, newest first."""
    ports = root.routines
    return _out(ports, routines.shown(ports, user, routine_id))


@router.put("/{routine_id}", response_model=RoutineOut, responses=ERRORS(401, 403, 404, 409, 422))
def put_routine(routine_id: Id, body: RoutineIn, root: RootDep, user: UserDep) -> RoutineOut:
    ports = root.routines
    values = {**body.model_dump(exclude={"steps"}), "steps": step_bodies(body.steps)}
    return _out(ports, routines.replace_routine(ports, user, routine_id, **values))


@router.delete("/{routine_id}", status_code=204, responses=ERRORS(401, 403, 404))
def delete_routine(routine_id: Id, root: RootDep, user: UserDep) -> Response:
    routines.delete(root.routines, user, routine_id)
    return Response(status_code=204)


@router.post(
    "/{routine_id}/run",
    response_model=RunOut,
    status_code=202,
    responses=job_responses(RunOut, 200, 401, 403, 404, 409, 429, 503),
)
def run_routine(routine_id: Id, root: RootDep, user: UserDep, response: Response) -> RunOut:
    """202 with the queued run: the workers send the steps in order, each awaiting
    the player's acknowledgement; follow `GET /api/runs/{id}` for one result per
    step (`outcome` ok, failed, timeout or skipped, with `reason`) and the run's
    `status` (ok, partial or failed). A step the player refuses does not stop the
    rest; silence, an offline player or PLAYER_COMMANDS_PER_MINUTE does. 409
    while the routine already has a run waiting or running; 429 (Retry-After)
    past the member's jobs waiting or running (JOBS_PER_MEMBER)."""
    run, queued = routines.run_now(root.routines, user, routine_id)
    if not queued:
        response.status_code = 200
    return RunOut.of(run)
