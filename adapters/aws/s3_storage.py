"""Audio objects in the S3 bucket `S3_AUDIO_BUCKET`.

Every write is a single PutObject, which S3 applies atomically: an upload that
fails midway leaves no object. Multipart uploads (boto3's `upload_file`) are
avoided on purpose: abandoning one needs `s3:AbortMultipartUpload`, which the
IAM policy does not grant, and objects here stay far below PutObject's 5 GB.

Presigned URLs signed with a role's temporary credentials die with the
session, so they are handed out for minutes (at most 900 s) and never stored.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO, NoReturn

from adapters.aws.clients import client
from adapters.storage_rules import check_age, check_content_type, check_key, check_max_bytes, check_prefix, url_ttl
from core.errors import BackendUnavailable, ConfigError, InvalidRange, NotFound, NotSupportedHere
from core.records import ObjectInfo, UploadTarget
from core.settings import Settings

_MISSING = {"404", "NoSuchKey", "NotFound"}


class S3Storage:
    """The `AudioStorage` port on S3."""

    def __init__(self, settings: Settings) -> None:
        if not settings.s3_audio_bucket:
            raise ConfigError("S3_AUDIO_BUCKET must be set when USE_AWS=true")
        self.bucket = settings.s3_audio_bucket
        self._s3 = client(settings, "s3")

    def put_fileobj(self, key: str, source: BinaryIO, content_type: str, *, size: int) -> ObjectInfo:
        """One PutObject of `size` bytes read from `source`; a source that fails midway leaves nothing."""
        check_key(key)
        check_content_type(content_type)
        self._call("put_object", Bucket=self.bucket, Key=key, Body=source, ContentLength=size, ContentType=content_type)
        return ObjectInfo(key=key, size=size, content_type=content_type)

    def put_file(self, key: str, path: Path, content_type: str) -> ObjectInfo:
        with open(path, "rb") as source:
            return self.put_fileobj(key, source, content_type, size=os.fstat(source.fileno()).st_size)

    def put_bytes(self, key: str, data: bytes, content_type: str) -> ObjectInfo:
        check_key(key)
        check_content_type(content_type)
        self._call("put_object", Bucket=self.bucket, Key=key, Body=data, ContentType=content_type)
        return ObjectInfo(key=key, size=len(data), content_type=content_type)

    def head(self, key: str) -> ObjectInfo:
        check_key(key)
        answer = self._call("head_object", Bucket=self.bucket, Key=key)
        return ObjectInfo(key=key, size=int(answer["ContentLength"]), content_type=answer.get("ContentType", ""))

    def read_range(self, key: str, start: int, end: int) -> bytes:
        check_key(key)
        if start < 0 or end < start:
            raise InvalidRange(f"bytes {start}-{end} is not a range")
        answer = self._call("get_object", Bucket=self.bucket, Key=key, Range=f"bytes={start}-{end}")
        with answer["Body"] as body:
            return bytes(body.read())

    def download_to(self, key: str, path: Path) -> None:
        """s3transfer writes to a temp file beside `path` and renames it, so `path` is whole or absent."""
        check_key(key)
        self._call("download_file", self.bucket, key, str(path))

    def delete(self, key: str) -> None:
        check_key(key)
        self._call("delete_object", Bucket=self.bucket, Key=key)

    def download_url(self, key: str, *, expires_s: int) -> str:
        check_key(key)
        return str(
            self._s3.generate_presigned_url(
                "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=url_ttl(expires_s)
            )
        )

    def upload_target(self, key: str, *, max_bytes: int, expires_s: int) -> UploadTarget:
        """A presigned POST. S3 enforces its size condition; moto does not, so the app
        checks the size again when the upload is completed."""
        check_key(key)
        check_max_bytes(max_bytes)
        ttl = url_ttl(expires_s)
        post = self._s3.generate_presigned_post(
            Bucket=self.bucket, Key=key, Conditions=[["content-length-range", 1, max_bytes]], ExpiresIn=ttl
        )
        return UploadTarget(
            url=post["url"],
            method="POST",
            fields={k: str(v) for k, v in post["fields"].items()},
            file_field="file",
            expires_at=datetime.now(UTC) + timedelta(seconds=ttl),
        )

    def local_path(self, key: str) -> Path | None:
        return None

    def delete_stale(self, prefix: str, older_than_s: int) -> int:
        """List the prefix (`s3:ListBucket`) and delete each object whose LastModified
        is older than the cutoff. The bucket's lifecycle rule for `uploads/` (infra)
        removes leftovers on its own, but only at day granularity; this sweep is
        for shorter ages."""
        check_prefix(prefix)
        cutoff = datetime.now(UTC) - timedelta(seconds=check_age(older_than_s))
        removed = 0
        token: str | None = None
        while True:
            page = self._call(
                "list_objects_v2",
                Bucket=self.bucket,
                Prefix=prefix,
                **({"ContinuationToken": token} if token else {}),
            )
            for obj in page.get("Contents", []):
                if obj["LastModified"] < cutoff:
                    self._call("delete_object", Bucket=self.bucket, Key=obj["Key"])
                    removed += 1
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                return removed

    def signed_blob(self, key: str, query: dict[str, str]) -> NoReturn:
        raise NotSupportedHere("S3 answers its presigned download URLs itself")

    def signed_upload(self, fields: dict[str, str], content_type: str | None) -> NoReturn:
        raise NotSupportedHere("S3 receives presigned uploads itself")

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """Run one S3 call, mapping its errors onto the port's."""
        from botocore.exceptions import ClientError, EndpointConnectionError

        try:
            return getattr(self._s3, method)(*args, **kwargs)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = str(error.get("Code", ""))
            key = kwargs.get("Key", args[1] if len(args) > 1 else "")
            if code in _MISSING:
                raise NotFound(f"no object {key!r}") from None
            if code in ("InvalidRange", "416"):
                raise InvalidRange(f"{kwargs.get('Range')} lies outside {key!r}") from None
            raise
        except EndpointConnectionError as exc:
            raise BackendUnavailable(f"S3 cannot be reached: {exc}") from exc
