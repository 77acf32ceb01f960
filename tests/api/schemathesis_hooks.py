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
- A list's `cursor` is opaque (only a `next_cursor` the API handed out is
  one), so its 400 "invalid cursor" is not a schema-valid request refused:
  dropped, for every operation that takes a `cursor`.
- On the AWS adapter set (YSS_FUZZ_BACKEND=aws), drops the two failures that
  are the moto server's and not the app's: moto's Polly answers 8 zero bytes
  instead of MP3 (so speech is refused as not audio, 415), and moto's Cognito
  refuses passwords of 99 characters or more (a `MaximumLength` of its own;
  Cognito's limit is 256, the one the schema declares). Nothing else is dropped.
- A ZIP body (a backup to restore) is sent as the bytes generated, like any file.
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
ON_MOTO = os.environ.get("YSS_FUZZ_BACKEND") == "aws"
MOTO_PASSWORD_LIMIT = 99
COOKIE = "yss_session"


# A backup archive (POST /api/import-backup) is bytes like any other file body.
schemathesis.serializer.alias("application/zip", "application/octet-stream")


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


def _moto_artefact(case: Any, response: Any) -> bool:
    body = case.body if isinstance(case.body, dict) else {}
    label = f"{case.method.upper()} {case.operation.path}"
    if label == "POST /api/audio/tts" and response.status_code == 415:
        return True
    password = body.get("password") or body.get("new_password")
    return (
        response.status_code == 422
        and isinstance(password, str)
        and len(password) >= MOTO_PASSWORD_LIMIT
        and "refused by the user pool" in response.text
    )


def _invalid_cursor(case: Any, response: Any) -> bool:
    query = case.query if isinstance(case.query, dict) else {}
    return "cursor" in query and response.status_code == 400 and '"invalid cursor"' in response.text


@schemathesis.hook
def filter_failure(ctx: Any, failure: Any, case: Any, response: Any) -> bool:
    return not (_invalid_cursor(case, response) or (ON_MOTO and _moto_artefact(case, response)))
