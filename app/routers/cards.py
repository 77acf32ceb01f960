"""Streaming MYO cards (rules in `services.cards`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from app.deps import RootDep, UserDep
from app.schemas.cards import CardCheckOut, CardIn, CardOut, CardPage, CardUploadOut, TrackCheckOut
from app.schemas.common import ERRORS
from app.schemas.scheduled import RunOut
from core.errors import TooLarge
from services import card_doctor, card_uploads, cards
from services.card_uploads import Written
from services.cards import CardSpec, TrackSpec

router = APIRouter(tags=["cards"])

CardId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9]+$")]
# Every refusal a card write can give: 400 a body that is not JSON; validation (422) comes before any Yoto call;
# 409 also when PUBLIC_URL is not https or no Yoto account is linked (relink).
_WRITE_ERRORS = ERRORS(400, 401, 403, 404, 409, 422, 429, 502, 503, 504)
_QUEUED = {202: {"model": CardUploadOut, "description": "queued behind its uploads to Yoto's storage"}}

_IMAGE_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "image/png": {"schema": {"type": "string", "format": "binary"}},
            "image/jpeg": {"schema": {"type": "string", "format": "binary"}},
        },
    }
}


def _spec(body: CardIn) -> CardSpec:
    return CardSpec(
        title=body.title,
        description=body.description,
        author=body.author,
        tracks=[TrackSpec(t.audio_id, t.title, t.icon) for t in body.tracks],
        storage=body.storage,
    )


def _answer(written: Written) -> CardOut | JSONResponse:
    if written.card is not None:
        return CardOut.of(written.card)
    assert written.run is not None
    queued = CardUploadOut(run=RunOut.of(written.run))
    return JSONResponse(queued.model_dump(mode="json"), status_code=202)


@router.post("/api/cards", response_model=CardOut, status_code=201, responses={**_WRITE_ERRORS, **_QUEUED})
def create_card(body: CardIn, root: RootDep, user: UserDep) -> CardOut | JSONResponse:
    """A card on your Yoto account: one chapter per track, with an icon chosen
    from the titles unless the track names one. `storage: stream` plays our
    signed URL of each item; `yoto` uploads each item to Yoto's storage once
    (202 with the run while uploads are needed; 201 when Yoto holds them all)."""
    return _answer(card_uploads.write(root.card_uploads, user, _spec(body)))


@router.get("/api/cards", response_model=CardPage, responses=ERRORS(400, 401, 403))
def list_cards(
    root: RootDep,
    user: UserDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=2000)] = None,
    all: Annotated[bool, Query(description="every member's cards (admins only)")] = False,
) -> CardPage:
    """Your cards, newest first; pass `next_cursor` back as `cursor` for the next page."""
    page = cards.list_cards(root.cards, user, everyone=all, limit=limit, cursor=cursor)
    return CardPage(items=[CardOut.of(c) for c in page.items], next_cursor=page.next_cursor)


@router.get("/api/cards/{card_id}", response_model=CardOut, responses=ERRORS(401, 404))
def get_card(card_id: CardId, root: RootDep, user: UserDep) -> CardOut:
    return CardOut.of(cards.get(root.cards, user, card_id))


@router.put("/api/cards/{card_id}", response_model=CardOut, responses={**_WRITE_ERRORS, **_QUEUED})
def update_card(card_id: CardId, body: CardIn, root: RootDep, user: UserDep) -> CardOut | JSONResponse:
    """Rewrite the same Yoto card in place (same body as create), also to move it
    between `stream` and `yoto`: the card keeps its Yoto id. Fields Yoto holds
    that this body does not set (ambient colours, cover, ...) are kept. 202 while
    uploads are needed (the card stays as it was until every track is ready).
    409 for a card that follows a playlist: change the playlist instead."""
    return _answer(card_uploads.write(root.card_uploads, user, _spec(body), card_id))


@router.get("/api/cards/{card_id}/check", response_model=CardCheckOut, responses=ERRORS(401, 404, 409, 502, 503, 504))
def check_card(card_id: CardId, root: RootDep, user: UserDep) -> CardCheckOut:
    """The card doctor: reads the card as Yoto holds it and says, per track, what a
    player would meet. Stream tracks: our URL on a reachable address, a valid
    signature, an item whose bytes answer a range read, the declared duration the
    item's. Yoto-stored tracks: a transcode we put there, the declared format,
    duration, size and channels its own."""
    found = card_doctor.check(root.cards, user, card_id)
    tracks = [TrackCheckOut(**vars(t), ok=t.ok) for t in found.tracks]
    return CardCheckOut(
        card_id=found.card.id,
        storage=found.card.storage,  # type: ignore[arg-type]
        ok=found.ok,
        problems=found.problems,
        tracks=tracks,
    )


@router.post("/api/cards/{card_id}/repair", response_model=CardOut, responses=_WRITE_ERRORS)
def repair_card(card_id: CardId, root: RootDep, user: UserDep) -> CardOut:
    """Rewrite the card in place from what we hold (same Yoto card id, every track
    rebuilt: fresh signed URLs, the transcodes' own metadata). 409 for a card that
    follows a playlist (its next sync rewrites it)."""
    return CardOut.of(card_doctor.repair(root.cards, user, card_id))


@router.delete("/api/cards/{card_id}", status_code=204, responses=ERRORS(401, 403, 404, 409, 429, 502, 503, 504))
def delete_card(card_id: CardId, root: RootDep, user: UserDep) -> Response:
    """Deletes the card on Yoto (it cannot be restored there), then here."""
    cards.delete(root.cards, user, card_id, detach=root.playlist_cards.detach)
    return Response(status_code=204)


@router.put(
    "/api/cards/{card_id}/cover",
    response_model=CardOut,
    openapi_extra=_IMAGE_BODY,
    responses=ERRORS(401, 403, 404, 409, 413, 415, 422, 429, 502, 503, 504),
)
async def set_cover(card_id: CardId, request: Request, root: RootDep, user: UserDep) -> CardOut:
    """The card's cover: a PNG or JPEG as the raw body (judged by its bytes,
    not its Content-Type), at most MAX_COVER_MB, counted while it is read."""
    cap = root.settings.max_cover_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap:
        raise TooLarge(f"a cover may be at most {cap} bytes")
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > cap:
            raise TooLarge(f"a cover may be at most {cap} bytes")
    return CardOut.of(await run_in_threadpool(cards.set_cover, root.cards, user, card_id, bytes(data)))
