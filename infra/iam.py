"""IAM policy documents, generated from the action lists in `adapters/aws/permissions.py`.

Plain functions from resolved ARNs to a policy dict: the components feed them
ARNs through `Output.apply`, and the tests can call them directly. Each
workload gets its own role; each statement names this stack's resources only.
"""

from __future__ import annotations

import json
from typing import Any

from adapters.aws.permissions import (
    COGNITO_ACTIONS,
    DYNAMODB_ACTIONS,
    LAMBDA_INVOKE_ACTIONS,
    POLLY_ACTIONS,
    S3_BUCKET_ACTIONS,
    S3_OBJECT_ACTIONS,
)

LOG_WRITE_ACTIONS: tuple[str, ...] = ("logs:CreateLogStream", "logs:PutLogEvents")
ECR_PULL_ACTIONS: tuple[str, ...] = (
    "ecr:BatchCheckLayerAvailability",
    "ecr:GetDownloadUrlForLayer",
    "ecr:BatchGetImage",
)


def assume_role_policy(service: str) -> str:
    """Trust policy letting one AWS service (lambda.amazonaws.com, ecs-tasks.amazonaws.com) assume the role."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
        }
    )


def _stmt(sid: str, actions: tuple[str, ...], resources: list[str]) -> dict[str, Any]:
    return {"Sid": sid, "Effect": "Allow", "Action": list(actions), "Resource": resources}


def table_statement(table_arn: str) -> dict[str, Any]:
    return _stmt("Records", DYNAMODB_ACTIONS, [table_arn, f"{table_arn}/index/*"])


def log_statement(log_group_arn: str) -> dict[str, Any]:
    # The group's ARN from the provider has no `:*` suffix; streams live under it.
    return _stmt("OwnLogs", LOG_WRITE_ACTIONS, [f"{log_group_arn}:*"])


def lambda_policy(
    *, table_arn: str, bucket_arn: str, user_pool_arn: str, log_group_arn: str, listener_arn: str | None = None
) -> str:
    """What the API's adapters call: records, audio objects, Cognito admin, Polly, own logs;
    with mqttMode=on-demand also starting the listener's function (that one only)."""
    statements = [
        table_statement(table_arn),
        _stmt("AudioObjects", S3_OBJECT_ACTIONS, [f"{bucket_arn}/*"]),
        _stmt("AudioBucket", S3_BUCKET_ACTIONS, [bucket_arn]),
        _stmt("Users", COGNITO_ACTIONS, [user_pool_arn]),
        # Polly has no resource-level permissions: the documented Resource "*" exception.
        _stmt("Speech", POLLY_ACTIONS, ["*"]),
        log_statement(log_group_arn),
    ]
    if listener_arn:
        statements.append(_stmt("StartListener", LAMBDA_INVOKE_ACTIONS, [listener_arn]))
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def mqtt_on_demand_policy(*, table_arn: str, log_group_arn: str) -> str:
    """The on-demand listener's function: the records table and its own logs, nothing else."""
    return json.dumps(
        {"Version": "2012-10-17", "Statement": [table_statement(table_arn), log_statement(log_group_arn)]}
    )


def mqtt_task_policy(*, table_arn: str) -> str:
    """The MQTT handler only merges player state and events and refreshes Yoto tokens: the table."""
    return json.dumps({"Version": "2012-10-17", "Statement": [table_statement(table_arn)]})


def mqtt_execution_policy(*, log_group_arn: str, repository_arn: str | None) -> str:
    """What ECS needs to start the task: pull its image (when from our ECR) and write its logs."""
    statements = [log_statement(log_group_arn)]
    if repository_arn:
        statements += [
            _stmt("PullImage", ECR_PULL_ACTIONS, [repository_arn]),
            # GetAuthorizationToken cannot be scoped to a repository (AWS requires "*").
            _stmt("RegistryLogin", ("ecr:GetAuthorizationToken",), ["*"]),
        ]
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def ecr_repository_arn(image: str, partition: str = "aws") -> str | None:
    """The repository ARN of a private ECR image URI (`<acct>.dkr.ecr.<region>.amazonaws.com/<repo>[:tag|@digest]`)."""
    host, _, rest = image.partition("/")
    parts = host.split(".")
    if len(parts) < 6 or parts[1:3] != ["dkr", "ecr"] or not rest:
        return None
    account, region = parts[0], parts[3]
    head, _, last = rest.split("@", 1)[0].rpartition("/")
    last = last.split(":", 1)[0]  # drop the tag
    repo = f"{head}/{last}" if head else last
    return f"arn:{partition}:ecr:{region}:{account}:repository/{repo}"


def tls_only_bucket_policy(bucket_arn: str, extra: list[dict[str, Any]] | None = None) -> str:
    """Deny every request that does not use TLS, plus the given Allow statements."""
    deny = {
        "Sid": "DenyPlainHttp",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [bucket_arn, f"{bucket_arn}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [deny, *(extra or [])]})


def cloudfront_read_statement(bucket_arn: str, distribution_arn: str) -> dict[str, Any]:
    """Let one CloudFront distribution (through its origin access control) read the UI objects."""
    return {
        "Sid": "CloudFrontReadsUi",
        "Effect": "Allow",
        "Principal": {"Service": "cloudfront.amazonaws.com"},
        "Action": "s3:GetObject",
        "Resource": f"{bucket_arn}/*",
        "Condition": {"StringEquals": {"AWS:SourceArn": distribution_arn}},
    }
