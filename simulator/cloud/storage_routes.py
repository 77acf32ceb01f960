"""The fake store's own URLs, with no Bearer: the signature in the query is the key, as on a presigned URL.

`PUT /storage/uploads/{uploadId}` takes an upload's bytes (what Yoto's S3 upload
URL does); `GET /storage/audio/{transcodedSha256}` serves a finished transcode,
Range included, to whoever holds a signed URL from `GET /content/{id}?playable=true`.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any
from urllib.parse import urlencode

from simulator.cloud.cards import with_media_urls
from simulator.cloud.http import HttpError, Request, Response, error_response
from simulator.cloud.router import Router
from simulator.cloud.state import Cloud
from simulator.cloud.uploads import AudioUpload

UPLOAD_PATH = "/storage/uploads/"
AUDIO_PATH = "/storage/audio/"
TRANSCODE_CONTENT_TYPE = "audio/ogg"  # Ogg Opus (RFC 7845)
RANGE = re.compile(r"bytes=(\d*)-(\d*)")


def _signed(cloud: Cloud, path: str, purpose: str, subject: str, expires: int) -> str:
    query = urlencode({"expires": expires, "signature": cloud.audio.sign(purpose, subject, expires)})
    return f"{cloud.public_base}{path}{subject}?{query}"


def upload_target(cloud: Cloud, upload: AudioUpload) -> str | None:
    """The presigned PUT target of an upload; None when the store held its bytes already."""
    if upload.url_expires is None:
        return None
    return _signed(cloud, UPLOAD_PATH, "upload", upload.upload_id, int(upload.url_expires))


def media_url(cloud: Cloud, transcoded_sha256: str, account: str) -> str | None:
    """A signed URL of the transcode, valid `media_url_ttl_s` from now; None if the account has no such transcode."""
    now = cloud.clock.now()
    if cloud.audio.finished(transcoded_sha256, account, now) is None:
        return None
    return _signed(cloud, AUDIO_PATH, "media", transcoded_sha256, int(now + cloud.config.media_url_ttl_s))


def playable(cloud: Cloud, card: dict[str, Any], account: str) -> dict[str, Any]:
    """The card as `GET /content/{id}?playable=true` answers it: signed media URLs for its `yoto:#` tracks."""
    return with_media_urls(card, lambda sha256: media_url(cloud, sha256, account))


def card_for_player(cloud: Cloud, card_id: str, account: str) -> dict[str, Any] | None:
    """What a simulated player of `account` reads when the card starts: its playable form; None if not the account's."""
    try:
        card = cloud.cards.read(card_id, account, cloud.clock.now(), cloud.config.stale_read_s)
    except HttpError:
        return None
    return playable(cloud, card, account)


def add_storage_routes(router: Router, cloud: Cloud) -> None:
    def put_upload(req: Request) -> Response:
        upload_id = req.params["upload_id"]
        now = cloud.clock.now()
        cloud.audio.check_signature("upload", upload_id, req.query, now)
        kind = req.content_type
        if not kind:
            raise HttpError(400, "Content-Type is required: the audio's own type (audio/mpeg, audio/mp4, ...)")
        if not (kind.startswith("audio/") or kind == "application/octet-stream"):
            raise HttpError(415, f"Content-Type must be audio/* or application/octet-stream (got {kind!r})")
        if not req.body:
            raise HttpError(400, "The body is empty: PUT the audio file's bytes")
        cap = cloud.config.max_audio_upload_bytes
        if len(req.body) > cap:
            raise HttpError(413, f"The upload is {len(req.body)} bytes; at most {cap} allowed")
        cloud.audio.put(upload_id, req.body, kind, now, cloud.config.transcode_delay_s)
        return Response(200, b"", {"ETag": f'"{hashlib.md5(req.body, usedforsecurity=False).hexdigest()}"'})

    def get_audio(req: Request) -> Response:
        sha256 = req.params["sha256"]
        now = cloud.clock.now()
        cloud.audio.check_signature("media", sha256, req.query, now)
        transcode = cloud.audio.finished(sha256, None, now)
        if transcode is None or transcode.encoded is None:
            raise HttpError(404, "No such audio")
        return ranged(transcode.encoded.data, req.headers.get("range", ""), TRANSCODE_CONTENT_TYPE)

    router.add("PUT", UPLOAD_PATH + "{upload_id}", put_upload)
    router.add("GET", AUDIO_PATH + "{sha256}", get_audio)
    router.add("HEAD", AUDIO_PATH + "{sha256}", get_audio)


def ranged(data: bytes, header: str, content_type: str) -> Response:
    """200 with the whole body, or 206 for one `bytes=` range; 416 past the end. Other Range forms are ignored."""
    headers = {"Content-Type": content_type, "Accept-Ranges": "bytes"}
    size = len(data)
    match = RANGE.fullmatch(header.strip())
    if match is None or match.groups() == ("", ""):
        return Response(200, data, headers)
    first, last = match.groups()
    if first:
        start, end = int(first), min(int(last), size - 1) if last else size - 1
        if last and int(last) < start:
            return Response(200, data, headers)  # an invalid range is ignored (RFC 9110, 14.2)
    else:
        start, end = max(0, size - int(last)), size - 1
        if int(last) == 0:
            start = size
    if start >= size:
        response = error_response(416, f"Range {header!r} is outside the {size} bytes")
        response.headers["Content-Range"] = f"bytes */{size}"
        return response
    return Response(206, data[start : end + 1], headers | {"Content-Range": f"bytes {start}-{end}/{size}"})
