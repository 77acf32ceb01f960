"""Podcast cards and the status of queued runs (rules in `services.podcasts`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from app.deps import RootDep, UserDep
from app.schemas.common import ERRORS
from app.schemas.scheduled import PodcastIn, PodcastOut, PodcastPage, PodcastPatch, RunOut, job_responses
from core.records import Podcast, Run, User
from services import jobs, podcasts
from services.library import paged

router = APIRouter(tags=["podcasts"])

Id = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9]+$")]
# A create or refresh run inside the request (AWS without a worker) fails as its
# fetch does: too big (413), not audio (415), refused or no HTTP answer (422/502),
# too slow (504). With a worker these are the run's `failed` detail instead.
_FETCH_ERRORS = (413, 415, 422, 502, 503, 504)


def _out(podcast: Podcast, run: Run | None, user: User) -> PodcastOut:
    out = PodcastOut.of(podcast)
    out.feed_url = podcasts.shown_feed_url(user, podcast)
    out.last_run = RunOut.of(run) if run is not None else None
    return out


def _last_run(root: RootDep, podcast: Podcast) -> Run | None:
    recent = root.records.runs.recent(podcast.id, limit=1)
    return recent[0] if recent else None


@router.post(
    "/api/podcasts",
    response_model=PodcastOut,
    status_code=202,
    responses=job_responses(PodcastOut, 201, 401, 403, 409, 429, *_FETCH_ERRORS),
)
def create_podcast(body: PodcastIn, root: RootDep, user: UserDep, response: Response) -> PodcastOut:
    """Checks the URL (only http/https; never link-local, multicast or unspecified
    addresses such as 169.254.169.254; loopback and private ones only with
    ALLOW_PRIVATE_FEEDS): a refused one is a 422 with nothing kept. Then 202 with
    the podcast and its first run (`last_run`, queued): the workers read the feed
    and fill the card; follow it with `GET /api/runs/{id}`. A first run that
    fails (not a feed, unreachable, …) says why in its `detail`; the podcast
    stays `failed` (its `last_error`), without a card, until a later check
    works or it is deleted. `title` is empty until a run has read the feed's own. 429
    (Retry-After) past the member's jobs waiting or running (JOBS_PER_MEMBER).
    `storage` (stream | yoto) as on `/api/cards`; omitted, the install's default: a
    `yoto` card's uploads run inside the refresh, and a card over Yoto's limits fails
    the run naming the limit (409: `stream` where players cannot reach PUBLIC_URL)."""
    podcast, run, queued = podcasts.create(
        root.podcasts,
        user,
        feed_url=body.feed_url,
        episodes=body.episodes,
        order=body.order,
        title=body.title,
        refresh_hours=body.refresh_hours,
        storage=body.storage,
    )
    if not queued:
        response.status_code = 201
    return _out(podcast, run, user)


@router.get("/api/podcasts", response_model=PodcastPage, responses=ERRORS(400, 401))
def list_podcasts(
    root: RootDep,
    user: UserDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=2000)] = None,
    mine: bool = False,
) -> PodcastPage:
    """Newest first; every member sees the family's podcasts (`mine=true`: only yours)."""
    page = paged(lambda: root.records.podcasts.list(owner=user.owner_id if mine else None, limit=limit, cursor=cursor))
    return PodcastPage(items=[_out(p, None, user) for p in page.items], next_cursor=page.next_cursor)


@router.get("/api/podcasts/{podcast_id}", response_model=PodcastOut, responses=ERRORS(401, 404))
def get_podcast(podcast_id: Id, root: RootDep, user: UserDep) -> PodcastOut:
    """Another member's podcast shows only where its feed is (`feed_url` is scheme://host/…)."""
    podcast = podcasts.get(root.podcasts, podcast_id)
    return _out(podcast, _last_run(root, podcast), user)


@router.patch("/api/podcasts/{podcast_id}", response_model=PodcastOut, responses=ERRORS(401, 403, 404, 409, 422))
def patch_podcast(podcast_id: Id, body: PodcastPatch, root: RootDep, user: UserDep) -> PodcastOut:
    """Title, window, order, refresh interval or storage mode; the card follows at the next
    refresh, rewritten in place (`POST …/refresh` to have it now). 409 when someone changed
    it meanwhile, or for `stream` where players cannot reach PUBLIC_URL."""
    podcast = podcasts.update(root.podcasts, user, podcast_id, **body.model_dump(exclude_unset=True))
    return _out(podcast, _last_run(root, podcast), user)


@router.delete("/api/podcasts/{podcast_id}", status_code=204, responses=ERRORS(401, 403, 404, 409, 502, 504))
def delete_podcast(podcast_id: Id, root: RootDep, user: UserDep) -> Response:
    """Stops its refreshes, deletes its Yoto card, and removes its episodes from
    the library unless another card or playlist uses them."""
    podcasts.delete(root.podcasts, user, podcast_id)
    return Response(status_code=204)


@router.post(
    "/api/podcasts/{podcast_id}/refresh",
    response_model=PodcastOut,
    status_code=202,
    responses=job_responses(PodcastOut, 200, 401, 403, 404, 409, 429, 503),
)
def refresh_podcast(podcast_id: Id, root: RootDep, user: UserDep, response: Response) -> PodcastOut:
    """202: queued for the workers; follow `GET /api/runs/{last_run.id}` (a broken
    feed or episode ends `failed` with the reason and leaves the card as it was).
    409 while this podcast already has a run waiting or running (`run_id`); 429
    (Retry-After) past the member's jobs waiting or running (JOBS_PER_MEMBER)."""
    podcast, run, queued = podcasts.refresh_now(root.podcasts, user, podcast_id)
    if not queued:
        response.status_code = 200
    return _out(podcast, run, user)


@router.get("/api/runs/{run_id}", response_model=RunOut, responses=ERRORS(401, 404))
def get_run(run_id: Id, root: RootDep, user: UserDep) -> RunOut:
    """A run of yours (an admin: anyone's): a podcast refresh, a routine, a card upload, an
    import…: queued, running, ok, partial or failed (with `detail`). Another member's is 404."""
    return RunOut.of(jobs.shown_run(root.records.runs, user, run_id))
