"""schemathesis hooks for tests/api/test_schemathesis.py (loaded by the `st`
process through SCHEMATHESIS_HOOKS; configured by the environment the test sets).

- Signs every request in as the fuzzing admin: logs in over HTTP and sends
  the session cookie. Any 401 makes schemathesis log in again and replay the
  request once, so fuzzing `POST /api/auth/logout` (or a session ended any
  other way) costs one login instead of the rest of the run.
- Keeps that admin able to log in: a PATCH or DELETE of
  `/api/users/{username}` naming the fuzzing admin is sent for the spare
  admin instead (disabling, demoting, deleting or re-passwording the
  fuzzing admin would end the run's credentials). The case is changed before
  it is sent and recorded as sent, so the checks judge what really happened.
"""

from __future__ import annotations

import os
from typing import Any

import httpx
import schemathesis

BASE = os.environ["YSS_FUZZ_BASE"]
USER = os.environ["YSS_FUZZ_USER"]
PASSWORD = os.environ["YSS_FUZZ_PASSWORD"]
SPARE = os.environ["YSS_FUZZ_SPARE"]
COOKIE = "yss_session"


@schemathesis.auth(refresh_interval=3600, retry_on=[401])
class AdminSession:
    def get(self, case: Any, ctx: Any) -> str:
        r = httpx.post(
            f"{BASE}/api/auth/login",
            json={"username": USER, "password": PASSWORD},
            headers={"Origin": BASE},
            timeout=30,
        )
        r.raise_for_status()
        return r.cookies[COOKIE]

    def set(self, case: Any, data: str, ctx: Any) -> None:
        case.cookies = {**(case.cookies or {}), COOKIE: data}


@schemathesis.hook
def before_call(ctx: Any, case: Any, **kwargs: Any) -> None:
    params = case.path_parameters
    if (
        case.method.upper() in ("PATCH", "DELETE")
        and case.operation.path == "/api/users/{username}"
        and isinstance(params, dict)
        and str(params.get("username", "")).lower() == USER
    ):
        params["username"] = SPARE
