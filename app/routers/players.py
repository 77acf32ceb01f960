"""Players: live state (REST list + MQTT), commands, server-sent changes, listening
history, and the MQTT listener's health. Rules live in `services.players`,
`services.player_commands`, `services.listening` and `services.listener_health`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from app.deps import AdminDep, RootDep, UserDep
from app.schemas.common import ERRORS, ErrorOut
from app.schemas.players import (
    PLAYER_ID_PATTERN,
    CommandIn,
    CommandOut,
    HistoryOut,
    MqttHealthOut,
    PlayerOut,
    PlayerPrivateIn,
    PlayersOut,
    SleepAtEndOut,
)
from core.errors import NotSupportedHere
from core.records import utcnow
from services import bedtime, listener_health, listening, player_commands, players
from wiring import Root

router = APIRouter(tags=["players"])

PlayerId = Annotated[str, Path(min_length=1, max_length=64, pattern=PLAYER_ID_PATTERN)]
# The stream is re-read this often, and ends after STREAM_MAX_S (EventSource reconnects by itself).
STREAM_EVERY_S = 0.5
STREAM_MAX_S = 1800
STREAM_KEEPALIVE_S = 15

_COMMAND_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERRORS(401, 403, 404, 422, 503),
    409: {
        "model": ErrorOut,
        "description": "the player is offline, there is no next/previous chapter, or a sleep at the end of the track"
        " cannot be carried out (no listener that would see it end, or nothing plays)",
    },
    502: {"model": ErrorOut, "description": "the player answered FAIL (`detail` and `reason` say why), or Yoto failed"},
    504: {"model": ErrorOut, "description": "the player did not acknowledge within the bound (it may still obey)"},
}


def _wake(root: Root) -> None:
    """A viewer is here: start the on-demand listener if the stack has one and none is live."""
    starter = root.adapters.listener_starter
    if starter is not None:
        listener_health.wake(root.records.settings, root.records.counters, starter)


@router.get("/api/players", response_model=PlayersOut, responses=ERRORS(401, 409, 502, 503, 504))
def list_players(root: RootDep, user: UserDep) -> PlayersOut:
    """Every player of the linked Yoto accounts (but those kept "mine only" for
    another member). Poll it every `poll_interval_s` where `stream` is false: it
    reads the records, not Yoto's REST API (the device list is cached for 5 minutes)."""
    _wake(root)
    items = players.list_players(root.players, who=user)
    settings = root.settings
    beat, now = listener_health.read_heartbeat(root.records.settings), utcnow()
    can = bedtime.available(beat, now)
    return PlayersOut(
        items=[PlayerOut.of(p) for p in items],
        live=beat is not None and beat.live(now),
        stream=settings.players_stream,
        poll_interval_s=settings.players_poll_s,
        sleep_at_end=SleepAtEndOut(available=can.available, reason=can.reason),
    )


@router.get("/api/players/stream", include_in_schema=False)
async def stream_players(request: Request, root: RootDep, user: UserDep) -> StreamingResponse:
    """Server-sent events: `event: player` with a `PlayerOut` as data, first for
    every player, then for each one that changes. Not in the OpenAPI document
    (it cannot describe an event stream); 404 where the server cannot stream."""
    if not root.settings.players_stream:
        raise NotSupportedHere(
            f"live updates are not streamed here; poll GET /api/players every {root.settings.players_poll_s} s"
        )
    ports = root.players
    await run_in_threadpool(_wake, root)
    first = await run_in_threadpool(lambda: players.list_players(ports, who=user))  # errors answer before the stream

    async def events() -> AsyncIterator[bytes]:
        sent: dict[str, str] = {}
        current = first
        started = asyncio.get_running_loop().time()
        last_write = started
        yield f"retry: {root.settings.players_poll_s * 1000}\n\n".encode()
        while True:
            for player in current:
                data = PlayerOut.of(player).model_dump_json()
                if sent.get(player.id) != data:
                    sent[player.id] = data
                    last_write = asyncio.get_running_loop().time()
                    yield f"event: player\nid: {player.id}\ndata: {data}\n\n".encode()
            now = asyncio.get_running_loop().time()
            if now - started > STREAM_MAX_S or await request.is_disconnected():
                return
            if now - last_write > STREAM_KEEPALIVE_S:
                last_write = now
                yield b": keep-alive\n\n"
            await asyncio.sleep(STREAM_EVERY_S)
            try:
                current = await run_in_threadpool(lambda: players.list_players(ports, who=user))
            except Exception:  # a records hiccup: keep the stream, try again
                continue

    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(events(), media_type="text/event-stream", headers=headers)


@router.get("/api/players/{player_id}", response_model=PlayerOut, responses=ERRORS(401, 404, 409, 422, 502, 503, 504))
def get_player(player_id: PlayerId, root: RootDep, user: UserDep) -> PlayerOut:
    _wake(root)
    return PlayerOut.of(players.get_player(root.players, player_id, who=user))


@router.put(
    "/api/players/{player_id}/private",
    response_model=PlayerOut,
    responses=ERRORS(401, 403, 404, 409, 422, 502, 503, 504),
)
def set_player_private(
    player_id: PlayerId, body: Annotated[PlayerPrivateIn, Body()], root: RootDep, admin: AdminDep
) -> PlayerOut:
    """Admins only: `private: true` keeps the player for the member whose Yoto account
    has it (its `owner`): only they and admins see and drive it (list, read, commands,
    history, the stream, routines aimed at it); to others it is 404 like a player no
    account has. `false` gives it back to the family."""
    view = players.set_private(root.players, player_id, body.private, who=admin)
    return PlayerOut.of(view)


@router.post("/api/players/{player_id}/commands", response_model=CommandOut, responses=_COMMAND_ERRORS)
def send_command(player_id: PlayerId, body: Annotated[CommandIn, Body()], root: RootDep, user: UserDep) -> CommandOut:
    """Publish one command (QoS 1) and wait, at most `MQTT_COMMAND_TIMEOUT_S`
    (3 s), for the player's acknowledgement. Checked before anything is sent."""
    fields = body.model_dump(exclude={"action"}, exclude_none=True)
    sent = player_commands.send_action(root.commands, user, player_id, body.action, fields)
    return CommandOut(ok=True, action=sent.action, via=sent.via, elapsed_ms=sent.elapsed_ms, at_end_of=sent.at_end_of)  # type: ignore[arg-type]


@router.get(
    "/api/players/{player_id}/history", response_model=HistoryOut, responses=ERRORS(401, 404, 409, 422, 502, 503, 504)
)
def player_history(
    player_id: PlayerId,
    root: RootDep,
    user: UserDep,
    days: Annotated[int, Query(ge=1, le=3650, description="up to PLAYER_HISTORY_DAYS (90 by default)")] = 7,
) -> HistoryOut:
    """Plays and minutes listened per card and track over the last `days`, from
    the event history the listener keeps (complete only while a listener ran)."""
    summary = listening.player_history(
        root.players, user, player_id, days=days, kept_days=root.settings.player_history_days
    )
    return HistoryOut.model_validate(summary)


@router.get("/api/health/mqtt", response_model=MqttHealthOut, tags=["health"], responses=ERRORS(503))
def mqtt_health(root: RootDep) -> MqttHealthOut:
    """The MQTT listener's heartbeat: live while younger than 90 s. No login needed;
    it names no account."""
    health = listener_health.health(root.records.settings)
    return MqttHealthOut.model_validate(
        {**health, "accounts": len(health["accounts"]), "connected_accounts": len(health["connected_accounts"])}
    )
