"""Linking the signed-in member's Yoto account (rules in `services.yoto_link`)."""

from __future__ import annotations

import logging
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Response
from fastapi.responses import RedirectResponse

from app.deps import RootDep, UserDep
from app.schemas.common import ERRORS
from app.schemas.yoto import DeviceLoginOut, DevicePollOut, YotoStatusOut

router = APIRouter(prefix="/api/yoto", tags=["yoto"])
log = logging.getLogger("yss.yoto")

UI_HOME = "/"
_REDIRECT = {"description": "to Yoto's login page (login) or back to the UI (callback)"}
OAuthParam = Annotated[str | None, Query(max_length=2048)]
# The only reasons `/?yoto=error&reason=` carries (the web UI words each): OAuth's
# error codes (RFC 6749 4.1.2.1, OpenID Connect Core 3.1.2.6), `no_code` when
# Yoto sent none, `failed` for anything else. Yoto's own words go to the log only.
REASONS = frozenset(
    {
        "access_denied",
        "invalid_request",
        "invalid_scope",
        "unauthorized_client",
        "unsupported_response_type",
        "server_error",
        "temporarily_unavailable",
        "login_required",
        "consent_required",
        "interaction_required",
        "no_code",
        "failed",
    }
)


def reason_code(error: str | None) -> str:
    if not error:
        return "no_code"
    return error if error in REASONS else "failed"


@router.get("/login", status_code=302, response_class=RedirectResponse, responses={302: _REDIRECT, **ERRORS(401, 409)})
def login(root: RootDep, user: UserDep) -> RedirectResponse:
    """Start linking: a redirect to Yoto's consent page (PKCE). The login waits
    server side for YOTO_LOGIN_TTL_S seconds and only this member may finish it."""
    return RedirectResponse(root.link.start_login(user), status_code=302)


@router.get(
    "/callback",
    status_code=303,
    response_class=RedirectResponse,
    responses={303: _REDIRECT, **ERRORS(401, 403, 409, 422, 429, 502, 504)},
)
def callback(
    root: RootDep,
    user: UserDep,
    state: OAuthParam = None,
    code: OAuthParam = None,
    error: OAuthParam = None,
    error_description: OAuthParam = None,
) -> RedirectResponse:
    """Where Yoto sends the browser back. The `state` is checked first (403 for
    a forged, foreign, expired or replayed one; no code is exchanged), then the
    code; then back to the UI: `/?yoto=linked`, or `/?yoto=error&reason=CODE`
    with CODE one of OAuth's error codes, `no_code` or `failed`."""
    refused = root.link.finish_login(user, state=state, code=code, error=error)
    if refused is None:
        return RedirectResponse(f"{UI_HOME}?yoto=linked", status_code=303)
    reason = reason_code(error)
    log.info("Yoto login for %s not finished: %s (%r)", user.username, reason, (error_description or refused)[:300])
    return RedirectResponse(f"{UI_HOME}?{urlencode({'yoto': 'error', 'reason': reason})}", status_code=303)


@router.post("/device-login", response_model=DeviceLoginOut, responses=ERRORS(401, 403, 409, 422, 429, 502, 504))
def device_login(root: RootDep, user: UserDep) -> DeviceLoginOut:
    """Start a device-code link: show `user_code` and `verification_uri` to the
    person, then poll `/device-login/poll` every `interval` seconds."""
    start = root.link.start_device_login(user)
    return DeviceLoginOut(
        user_code=start.user_code,
        verification_uri=start.verification_uri,
        verification_uri_complete=start.verification_uri_complete,
        interval=start.interval,
        expires_in=start.expires_in,
    )


@router.post("/device-login/poll", response_model=DevicePollOut, responses=ERRORS(401, 403, 409, 422, 429, 502, 504))
def device_login_poll(root: RootDep, user: UserDep) -> DevicePollOut:
    """`pending` (wait `interval` s), `linked`, or `expired` (start again; `detail` says why).
    Polling faster than the interval is answered without asking Yoto."""
    poll = root.link.poll_device_login(user)
    return DevicePollOut(status=poll.status, interval=poll.interval, detail=poll.detail)


@router.get("/status", response_model=YotoStatusOut, responses=ERRORS(401))
def status(root: RootDep, user: UserDep) -> YotoStatusOut:
    s = root.link.status(user)
    return YotoStatusOut(
        linked=s.linked,
        access_expires_at=s.access_expires_at,
        linked_at=s.linked_at,
        login_pending=s.login_pending,
        device_login_pending=s.device_login_pending,
    )


@router.delete("/link", status_code=204, responses=ERRORS(401, 403))
def unlink(root: RootDep, user: UserDep) -> Response:
    """Forget the tokens (and any login in progress). Idempotent. Cards stay on Yoto."""
    root.link.unlink(user)
    return Response(status_code=204)
