"""How a domain error becomes a status: by its kind, and for a kind of its own (a track
that could not go to Yoto) by what caused it."""

from __future__ import annotations

import json

import pytest

from app.http.problems import status_of
from core import errors as e
from services.yoto_storage import TrackNotReady


def _because(cause: BaseException) -> TrackNotReady:
    try:
        raise TrackNotReady("track 2 “Moon” could not go to Yoto") from cause
    except TrackNotReady as exc:
        return exc


@pytest.mark.parametrize(
    ("cause", "status"),
    [
        (e.RelinkNeeded("relink"), 409),
        (e.UpstreamRejected("Unsupported audio"), 422),
        (e.UpstreamTimeout("slow"), 504),
        (e.UpstreamError("down"), 502),
        (ValueError("a bug"), 500),
    ],
)
def test_a_track_that_could_not_go_to_yoto_answers_as_its_cause(cause: BaseException, status: int) -> None:
    assert status_of(_because(cause))[0] == status


def test_a_kind_with_a_status_keeps_it_whatever_caused_it() -> None:
    try:
        raise e.Invalid("bad") from e.UpstreamError("down")
    except e.Invalid as exc:
        assert status_of(exc) == (422, "invalid request")


def test_its_answer_carries_the_causes_headers_and_its_own_words() -> None:
    from app.http.problems import answer

    reply = answer(_because(e.RateLimited("slow down", headers={"Retry-After": "7"})))
    assert reply.status_code == 429 and reply.headers["retry-after"] == "7"
    assert json.loads(reply.body) == {"detail": "track 2 “Moon” could not go to Yoto"}
