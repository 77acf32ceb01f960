"""The domain's errors: what services and ports raise, whatever side they run on.

A missing row in SQLite and a missing item in DynamoDB both raise `NotFound`;
a refused request raises one of the request errors below. The API turns each
class into one HTTP answer in a single table (`app/http/problems.py`), the CLI into an
exit code; no layer below the API knows a status code.

Every error carries an optional `headers` dict (e.g. Retry-After) and `extra`
fields for the answer body (e.g. the ids of the cards still using an item).
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base class: the message is the reason a person reads."""

    def __init__(self, message: str = "", *, headers: dict[str, str] | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.headers: dict[str, str] = headers or {}
        self.extra: dict[str, Any] = extra


# Kept as the name the adapters have always raised.
AdapterError = DomainError


class ConfigError(DomainError):
    """The service is misconfigured; the message names the variable."""


class NotFound(DomainError):
    """The record or object does not exist (or is not the caller's to see)."""


class AlreadyExists(DomainError):
    """A record with the same identity already exists."""


class VersionConflict(DomainError):
    """A compare-and-swap update lost: the stored version was not the expected one."""


class InvalidRange(DomainError):
    """A byte range lies outside the object."""


class BackendUnavailable(DomainError):
    """A backend service (database, storage, TTS, identity provider) could not be
    reached or is throttling; the request may be retried later."""


# --------------------------------------------------------------------------- request errors


class Unauthenticated(DomainError):
    """No valid login (or the login is disabled)."""


class Forbidden(DomainError):
    """Logged in, but not allowed to do this."""


class Invalid(DomainError):
    """The request is well-formed but its content is refused (a blank title, a
    password the policy refuses, an audio id that does not exist)."""


class Conflict(DomainError):
    """The request clashes with the current state (the last admin, an item in use)."""


class TooLarge(DomainError):
    """Over a size limit or a quota of bytes."""


class Unsupported(DomainError):
    """A kind of content we do not accept (not audio, not an image)."""


class RateLimited(DomainError):
    """Too many attempts or over a quota of work; `headers` says when to retry."""


class NotSupportedHere(DomainError):
    """The operation exists only on the other side (e.g. the local signed blob
    route on AWS, where S3 answers such URLs itself)."""


# --------------------------------------------------------------------------- upstream (Yoto cloud)


class UpstreamError(DomainError):
    """A remote service we call for the user (the Yoto cloud) failed persistently."""


class UpstreamTimeout(UpstreamError):
    """A remote service did not answer in time."""


class UpstreamRejected(DomainError):
    """A remote service refused what we sent as invalid; the message is its own."""


class RelinkNeeded(Conflict):
    """The linked Yoto account no longer accepts our tokens: relink it."""


class InvalidCursor(Invalid):
    """A list cursor that we did not hand out (malformed, tampered, or absurd)."""
