"""Scheduled work on AWS: the worker function and the minute tick that drives it.

One minute-tick EventBridge Scheduler schedule (not one schedule per job):
the jobs live in the records table, as they do locally, so creating or
changing a routine or podcast needs no AWS call and no `scheduler:*`
permission for the app; the worker's tick claims whatever is due (docs/scheduling.md).
Its price is in `infra/cost.py` ("Scheduler").

The worker is the same package and handler as the API, with its own log
group, its own role (records, audio objects, own logs: no Cognito, no Polly)
and its own timeout, so a podcast refresh that downloads and normalises
episodes is not cut off at API Gateway's 30 s. The API reaches it only by an
asynchronous invoke of this one function (`ApiFunction` gets WORKER_FUNCTION
and a policy naming the worker's ARN); the schedule's role may invoke it and
nothing else.
"""

from __future__ import annotations

import dataclasses
import json

import pulumi
import pulumi_aws as aws

from adapters.aws.permissions import LAMBDA_INVOKE_ACTIONS, S3_OBJECT_ACTIONS
from infra import iam
from infra.api import LambdaCode, function_log_and_role, lambda_environment, no_async_retries, package_function
from infra.config import LAMBDA_HANDLER, StackConfig

WORKER_TIMEOUT_S = 900  # Lambda's longest
# A card's upload waits for Yoto's transcode at most this long on the worker, so a
# slow one ends as a failed run saying so before Lambda stops the function.
WORKER_TRANSCODE_WAIT_S = 780
TICK_EXPRESSION = "rate(1 minute)"
TICK_INPUT = {"yss": "tick"}


def worker_policy(*, table_arn: str, bucket_arn: str, log_group_arn: str) -> str:
    """What a refresh or routine run touches: the records, audio objects, its own logs."""
    statements = [
        iam.table_statement(table_arn),
        {"Sid": "AudioObjects", "Effect": "Allow", "Action": list(S3_OBJECT_ACTIONS), "Resource": [f"{bucket_arn}/*"]},
        iam.log_statement(log_group_arn),
    ]
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def invoke_policy(function_arn: str, sid: str = "InvokeWorker") -> str:
    statement = {"Sid": sid, "Effect": "Allow", "Action": list(LAMBDA_INVOKE_ACTIONS), "Resource": [function_arn]}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


class ScheduledWorker(pulumi.ComponentResource):
    def __init__(
        self,
        name: str,
        config: StackConfig,
        *,
        table: aws.dynamodb.Table,
        audio_bucket: aws.s3.Bucket,
        user_pool: aws.cognito.UserPool,
        user_pool_client: aws.cognito.UserPoolClient,
        public_url: pulumi.Input[str],
        session_secret: pulumi.Input[str],
        code: LambdaCode,
        code_args: dict[str, object],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("yss:scheduler:ScheduledWorker", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.log_group, self.role = function_log_and_role(name, config, "worker", child)
        policy = aws.iam.RolePolicy(
            f"{name}-policy",
            role=self.role.id,
            policy=pulumi.Output.all(table.arn, audio_bucket.arn, self.log_group.arn).apply(
                lambda a: worker_policy(table_arn=a[0], bucket_arn=a[1], log_group_arn=a[2])
            ),
            opts=child,
        )
        inputs = {
            "public_url": public_url,
            "table": table.name,
            "bucket": audio_bucket.bucket,
            "pool": user_pool.id,
            "client": user_pool_client.id,
            "secret": pulumi.Output.secret(session_secret),
        }
        environment = pulumi.Output.all(**inputs).apply(lambda v: worker_environment(config, v))
        self.function = package_function(
            name,
            config,
            function_name=worker_function_name(config),
            handler=LAMBDA_HANDLER,
            memory_mb=config.lambda_memory_mb,
            timeout_s=WORKER_TIMEOUT_S,
            role=self.role,
            log_group=self.log_group,
            policy=policy,
            code=code,
            code_args=code_args,
            environment=environment,
            parent=self,
        )
        no_async_retries(name, self.function, 3600, child)
        self.schedule_role = aws.iam.Role(
            f"{name}-tick-role", assume_role_policy=iam.assume_role_policy("scheduler.amazonaws.com"), opts=child
        )
        aws.iam.RolePolicy(
            f"{name}-tick-policy",
            role=self.schedule_role.id,
            policy=self.function.arn.apply(lambda arn: invoke_policy(arn, "TickWorker")),
            opts=child,
        )
        self.schedule = aws.scheduler.Schedule(
            f"{name}-tick",
            schedule_expression=TICK_EXPRESSION,
            flexible_time_window={"mode": "OFF"},
            target={
                "arn": self.function.arn,
                "role_arn": self.schedule_role.arn,
                "input": json.dumps(TICK_INPUT),
                # A missed tick is not sent again: the next one claims whatever is due.
                "retry_policy": {"maximum_retry_attempts": 0, "maximum_event_age_in_seconds": 60},
            },
            opts=child,
        )
        self.register_outputs({"function_name": self.function.name})

    def allow_invoke(self, name: str, role: aws.iam.Role) -> aws.iam.RolePolicy:
        """Let another function's role hand runs to this worker (and nothing else)."""
        return aws.iam.RolePolicy(
            name, role=role.id, policy=self.function.arn.apply(invoke_policy), opts=pulumi.ResourceOptions(parent=self)
        )


def worker_function_name(config: StackConfig) -> str:
    """A fixed physical name, so the API's WORKER_FUNCTION needs no reference to the resource."""
    return f"yss-{config.stack}-worker"


def worker_environment(config: StackConfig, v: dict[str, str]) -> dict[str, str]:
    """The API's settings: the worker builds the same adapters and stream URLs. It
    answers no HTTP, so CloudFront's origin secret is not among them."""
    env = lambda_environment(dataclasses.replace(config, enable_cloudfront=False), v)
    return {**env, "YOTO_TRANSCODE_WAIT_S": str(WORKER_TRANSCODE_WAIT_S)}
