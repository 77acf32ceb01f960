"""Branching stories and their interactive cards (rules in `services.stories`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from app.deps import RootDep, UserDep
from app.http.multipart_stream import receive_file
from app.schemas.common import ERRORS
from app.schemas.scheduled import RunOut
from app.schemas.stories import StoryCardQueuedOut, StoryIn, StoryOut, StoryPage
from core.errors import Invalid, TooLarge
from services import stories
from services.ingest import scratch_dir

router = APIRouter(prefix="/api/stories", tags=["stories"])

StoryId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9]+$")]
# 422: a story with errors (the body's `problems` say which scene and why); 409 a lost race.
_EDIT_ERRORS = ERRORS(400, 401, 403, 404, 409, 422)
_CARD_ERRORS = ERRORS(401, 403, 404, 409, 422, 429, 502, 503, 504)
_QUEUED = {202: {"model": StoryCardQueuedOut, "description": "queued behind its uploads to Yoto's storage"}}
_TWEE_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "text/plain": {"schema": {"type": "string"}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary"}},
                }
            },
        },
    }
}


@router.post("", response_model=StoryOut, status_code=201, responses=_EDIT_ERRORS)
def create_story(body: StoryIn, root: RootDep, user: UserDep) -> StoryOut:
    """A new story. Errors (a button leading to no scene, a start that is no scene, a scene id used
    twice, an ending that goes on) refuse it with 422 naming the scene; warnings come back in `problems`."""
    scenes = [s.scene() for s in body.scenes]
    return StoryOut.of(stories.create(root.stories, user, body.title, body.start, scenes))


@router.get("", response_model=StoryPage, responses=ERRORS(400, 401, 403))
def list_stories(
    root: RootDep,
    user: UserDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=2000)] = None,
    all: Annotated[bool, Query(description="every member's stories (admins only)")] = False,
) -> StoryPage:
    """Your stories, newest first."""
    page = stories.list_stories(root.stories, user, everyone=all, limit=limit, cursor=cursor)
    return StoryPage(items=[StoryOut.of(v) for v in page.items], next_cursor=page.next_cursor)


@router.post(
    "/import",
    response_model=StoryOut,
    status_code=201,
    openapi_extra=_TWEE_BODY,
    responses=ERRORS(400, 401, 413, 422, 429, 503),
)
async def import_story(request: Request, root: RootDep, user: UserDep) -> StoryOut:
    """A Twine story (Twee 3 text, as the body or a multipart `file`; at most MAX_BODY_KB while the body
    cap applies to this route, TWEE_MAX_BYTES of the stories service counted while read): passages
    become scenes, a passage's first link the left button, the second the right, a third what
    follows its end; a passage naming no audio is spoken (429 over the speech quota). 422 names
    the passage of a link to no passage."""
    cap = stories.TWEE_MAX_BYTES
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        with scratch_dir(root.ingest.scratch) as work:
            await receive_file(request, work / "story.twee", max_bytes=cap)
            data = (work / "story.twee").read_bytes()
    else:
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > cap:
            raise TooLarge(f"a Twee file may be at most {cap} bytes")
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > cap:
                raise TooLarge(f"a Twee file may be at most {cap} bytes")
        data = bytes(body)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise Invalid("a Twee file is UTF-8 text") from None
    if not text.strip():
        raise Invalid("the Twee file is empty")
    return StoryOut.of(await run_in_threadpool(stories.import_twee, root.stories, user, text))


@router.get("/{story_id}", response_model=StoryOut, responses=ERRORS(401, 404))
def get_story(story_id: StoryId, root: RootDep, user: UserDep) -> StoryOut:
    return StoryOut.of(stories.get(root.stories, user, story_id))


@router.put("/{story_id}", response_model=StoryOut, responses=_EDIT_ERRORS)
def update_story(story_id: StoryId, body: StoryIn, root: RootDep, user: UserDep) -> StoryOut:
    """Replace the story (same body as create); its card changes at the next POST …/card."""
    scenes = [s.scene() for s in body.scenes]
    view = stories.update(root.stories, user, story_id, body.title, body.start, scenes, version=body.version)
    return StoryOut.of(view)


@router.delete("/{story_id}", status_code=204, responses=ERRORS(401, 403, 404, 409, 429, 502, 503, 504))
def delete_story(story_id: StoryId, root: RootDep, user: UserDep) -> Response:
    """The story and its card (deleted on Yoto first)."""
    stories.delete(root.stories, user, story_id)
    return Response(status_code=204)


@router.post("/{story_id}/card", response_model=StoryOut, responses={**_CARD_ERRORS, **_QUEUED})
def make_card(story_id: StoryId, root: RootDep, user: UserDep) -> StoryOut | JSONResponse:
    """Make the story's interactive card, or rewrite it in place (the same Yoto card), with its
    audio in Yoto's storage so it plays offline: the story, with `yoto_card_id` (and the version
    the card's link gave it). 202 with the run while uploads are needed; 409 while a scene has no
    audio, or this install cannot upload to Yoto."""
    written = stories.write_card(root.stories, user, story_id)
    if written.card is not None:
        return StoryOut.of(stories.view(root.stories, written.story))
    assert written.run is not None
    queued = StoryCardQueuedOut(run=RunOut.of(written.run))
    return JSONResponse(queued.model_dump(mode="json"), status_code=202)
