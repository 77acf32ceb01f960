"""boto3 clients, created lazily and kept on the adapter that asked for them.

boto3 honours `AWS_ENDPOINT_URL` itself, which is how tests point every
client at a moto server. Clients are thread-safe; resources are not, so the
adapters use clients only.
"""

from __future__ import annotations

from typing import Any

from core.settings import Settings


def client(settings: Settings, service: str, **kwargs: Any) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(
        retries={"max_attempts": 4, "mode": "standard"},
        connect_timeout=3,
        read_timeout=10,
        signature_version=kwargs.pop("signature_version", None),
    )
    return boto3.session.Session().client(service, region_name=settings.aws_region, config=config, **kwargs)
