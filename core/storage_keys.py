"""Where things live in audio storage: the library's MP3s and staged uploads.

Shared by the services that write them and the deployment that sets the
bucket's lifecycle rule for the staging prefix (infra/data.py).
"""

from __future__ import annotations

STAGING_PREFIX = "uploads/"
AUDIO_PREFIX = "audio/"


def staging_key(upload_id: str) -> str:
    """Where a two-step upload's bytes wait until it is completed."""
    return f"{STAGING_PREFIX}{upload_id}"


def audio_key(item_id: str) -> str:
    """A library item's normalised MP3."""
    return f"{AUDIO_PREFIX}{item_id}.mp3"
