"""Where a family's data lives: the DynamoDB table and the private S3 buckets.

`PrivateBucket` is the one way this program makes a bucket, so every bucket
gets the same guard rails (all four Block Public Access settings, ACLs off,
default encryption, TLS-only policy, abandoned multipart uploads cleaned up,
and, where uploads are staged, staged objects expired);
the rules in `infra/rules.py` check that nothing slipped.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pulumi
import pulumi_aws as aws

from adapters.aws.schema import PARTITION_KEY, SORT_KEY, TTL_ATTRIBUTE, create_table_kwargs
from core.storage_keys import STAGING_PREFIX
from infra import iam
from infra.config import StackConfig, resource_options

__all__ = ["STAGING_PREFIX", "PrivateBucket", "RecordsTable", "staging_rule", "upload_cors_rules"]

# The app stages an upload under STAGING_PREFIX before it is checked and
# normalised. A staged object is consumed within the upload's lifetime
# (minutes) or abandoned: after a day S3 deletes it, so abandoned uploads
# cost nothing for long (the app's own sweep removes them sooner).
STAGING_EXPIRY_DAYS = 1


class PrivateBucket(pulumi.ComponentResource):
    """A private, encrypted, TLS-only bucket.

    The policy is attached by `attach_policy`; callers whose policy needs a
    resource made after the bucket (the UI bucket's CloudFront grant) pass
    `policy_later=True` and call it themselves.
    """

    def __init__(
        self,
        name: str,
        config: StackConfig,
        *,
        versioned: bool = False,
        staging_prefix: str | None = None,
        cors_rules: pulumi.Input[Sequence[dict[str, Any]]] | None = None,
        policy_later: bool = False,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("yss:data:PrivateBucket", name, None, opts)
        self._name = name
        self._config = config
        # Every bucket counts as data: in prod none can vanish with a stack destroy.
        child = resource_options(config, self, data=True)
        self.bucket = aws.s3.Bucket(name, force_destroy=config.force_destroy, opts=child)
        plain = pulumi.ResourceOptions(parent=self)
        self.public_access_block = aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access",
            bucket=self.bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=plain,
        )
        aws.s3.BucketOwnershipControls(
            f"{name}-ownership", bucket=self.bucket.id, rule={"object_ownership": "BucketOwnerEnforced"}, opts=plain
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            bucket=self.bucket.id,
            rules=[{"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}}],
            opts=plain,
        )
        rules: list[dict[str, Any]] = [
            {
                "id": "abort-incomplete-uploads",
                "status": "Enabled",
                "filter": {"prefix": ""},
                "abort_incomplete_multipart_upload": {"days_after_initiation": 1},
            }
        ]
        lifecycle_deps: list[pulumi.Resource] = []
        if versioned:
            versioning = aws.s3.BucketVersioning(
                f"{name}-versioning",
                bucket=self.bucket.id,
                versioning_configuration={"status": "Enabled"},
                opts=plain,
            )
            lifecycle_deps.append(versioning)
            rules.append(
                {
                    "id": "expire-noncurrent-versions",
                    "status": "Enabled",
                    "filter": {"prefix": ""},
                    "noncurrent_version_expiration": {"noncurrent_days": config.noncurrent_version_days},
                }
            )
        if staging_prefix is not None:
            rules.append(staging_rule(staging_prefix, versioned=versioned))
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle",
            bucket=self.bucket.id,
            rules=rules,
            opts=pulumi.ResourceOptions(parent=self, depends_on=lifecycle_deps),
        )
        if cors_rules is not None:
            aws.s3.BucketCorsConfiguration(f"{name}-cors", bucket=self.bucket.id, cors_rules=cors_rules, opts=plain)
        if not policy_later:
            self.attach_policy()
        self.register_outputs({"bucket_name": self.bucket.bucket, "arn": self.bucket.arn})

    def attach_policy(self, extra: pulumi.Input[list[dict[str, Any]]] | None = None) -> aws.s3.BucketPolicy:
        """The TLS-only policy, plus `extra` Allow statements (resolved to plain dicts)."""
        statements = pulumi.Output.from_input(extra or [])
        policy = pulumi.Output.all(self.bucket.arn, statements).apply(
            lambda args: iam.tls_only_bucket_policy(args[0], list(args[1]))
        )
        return aws.s3.BucketPolicy(
            f"{self._name}-policy",
            bucket=self.bucket.id,
            policy=policy,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.public_access_block]),
        )


def staging_rule(prefix: str, *, versioned: bool) -> dict[str, Any]:
    """Expire staged uploads. In a versioned bucket expiry only leaves a delete
    marker, so the staged bytes (now non-current) go a day later too instead
    of after the bucket's general non-current retention."""
    if not prefix or not prefix.endswith("/"):
        raise ValueError(f"a staging prefix must be a folder like 'uploads/', got {prefix!r}")
    rule: dict[str, Any] = {
        "id": "expire-staged-uploads",
        "status": "Enabled",
        "filter": {"prefix": prefix},
        "expiration": {"days": STAGING_EXPIRY_DAYS},
    }
    if versioned:
        rule["noncurrent_version_expiration"] = {"noncurrent_days": STAGING_EXPIRY_DAYS}
    return rule


def upload_cors_rules(origins: pulumi.Input[Sequence[str]]) -> pulumi.Output[list[dict[str, Any]]]:
    """Only what the browser's presigned POST upload needs: POST from our origins.

    Playback preview uses a plain `<audio src>` on the redirect, which does
    not need CORS, so GET is not opened.
    """
    return pulumi.Output.from_input(origins).apply(
        lambda allowed: [
            {
                "id": "browser-upload",
                "allowed_methods": ["POST"],
                "allowed_origins": sorted(set(allowed)),
                "allowed_headers": ["*"],
                "max_age_seconds": 3000,
            }
        ]
    )


class RecordsTable(pulumi.ComponentResource):
    """The single DynamoDB table, declared from `adapters/aws/schema.py` (never restated here)."""

    def __init__(self, name: str, config: StackConfig, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("yss:data:RecordsTable", name, None, opts)
        spec = create_table_kwargs(name)
        key_type = {k["AttributeName"]: k["KeyType"] for k in spec["KeySchema"]}
        if key_type != {PARTITION_KEY: "HASH", SORT_KEY: "RANGE"}:
            raise ValueError(f"adapters/aws/schema.py key schema {key_type} is not PK/SK")
        self.table = aws.dynamodb.Table(
            name,
            billing_mode=spec["BillingMode"],
            hash_key=PARTITION_KEY,
            range_key=SORT_KEY,
            attributes=[{"name": a["AttributeName"], "type": a["AttributeType"]} for a in spec["AttributeDefinitions"]],
            global_secondary_indexes=[
                {
                    "name": gsi["IndexName"],
                    "key_schemas": [
                        {"attribute_name": k["AttributeName"], "key_type": k["KeyType"]} for k in gsi["KeySchema"]
                    ],
                    "projection_type": gsi["Projection"]["ProjectionType"],
                }
                for gsi in spec["GlobalSecondaryIndexes"]
            ],
            ttl={"attribute_name": TTL_ATTRIBUTE, "enabled": True},
            server_side_encryption={"enabled": True},
            point_in_time_recovery={"enabled": config.production},
            deletion_protection_enabled=config.production,
            opts=resource_options(config, self, data=True),
        )
        self.register_outputs({"table_name": self.table.name, "arn": self.table.arn})
