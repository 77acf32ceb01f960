"""Exceptions every adapter maps its backend's errors onto.

The app catches these and nothing backend specific, so a missing row in SQLite
and a missing item in DynamoDB look the same to a router.
"""


class AdapterError(Exception):
    """Base class for errors raised by ports."""


class ConfigError(AdapterError):
    """The service is misconfigured; the message names the variable."""


class NotFound(AdapterError):
    """The record or object does not exist."""


class AlreadyExists(AdapterError):
    """A record with the same identity already exists."""


class VersionConflict(AdapterError):
    """A compare-and-swap update lost: the stored version was not the expected one."""


class InvalidRange(AdapterError):
    """A byte range lies outside the object."""


class BackendUnavailable(AdapterError):
    """A remote service (TTS, identity provider) could not be reached."""
