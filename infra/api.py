"""The API: an HTTP API in front of one Lambda function running the FastAPI app through Mangum.

Two components, created in this order by `__main__.py` so `PUBLIC_URL` needs
no cycle: `HttpGateway` (the API, its `$default` stage and access log) comes
first and gives the API URL; the UI's CloudFront distribution (if any) is
built on that URL; `ApiFunction` then gets the final public URL in its
environment and plugs itself into the gateway.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_aws as aws

from core.settings import Settings
from infra import iam
from infra.config import (
    CLIENT_ADDRESS_FROM_APIGW,
    CLIENT_ADDRESS_FROM_CLOUDFRONT,
    LAMBDA_HANDLER,
    LAMBDA_PYTHON_VERSION,
    LAMBDA_RUNTIME,
    LAMBDA_TIMEOUT_S,
    StackConfig,
    log_group_name,
)
from infra.data import PrivateBucket

# Above this a zip cannot go straight into CreateFunction/UpdateFunctionCode.
DIRECT_UPLOAD_LIMIT = 50 * 1024 * 1024

ACCESS_LOG_FORMAT = json.dumps(
    {
        "requestId": "$context.requestId",
        "ip": "$context.identity.sourceIp",
        "requestTime": "$context.requestTime",
        "method": "$context.httpMethod",
        # The route, not the path: a player's path carries its stream token (docs/security.md).
        "routeKey": "$context.routeKey",
        "status": "$context.status",
        "responseLength": "$context.responseLength",
        "latencyMs": "$context.responseLatency",
        "integrationError": "$context.integrationErrorMessage",
    },
    separators=(",", ":"),
)


@dataclass(frozen=True)
class LambdaCode:
    zip_path: Path
    sha256_b64: str
    zipped_bytes: int


def lambda_code(config: StackConfig) -> LambdaCode:
    """The deployment package: a prebuilt zip from config, else built by `infra/lambda_package.py`."""
    if config.lambda_package_zip is not None:
        data = config.lambda_package_zip.read_bytes()
        digest = base64.b64encode(hashlib.sha256(data).digest()).decode()
        return LambdaCode(config.lambda_package_zip, digest, len(data))
    from infra.lambda_package import build_lambda_package

    built = build_lambda_package(config.lambda_architecture, LAMBDA_PYTHON_VERSION)
    return LambdaCode(built.zip_path, built.sha256_b64, built.zipped_bytes)


def _setting(name: str) -> str:
    return str(Settings.model_fields[name].default)


class HttpGateway(pulumi.ComponentResource):
    """HTTP API with a `$default` auto-deploy stage, route throttling, JSON access logs and CORS."""

    def __init__(self, name: str, config: StackConfig, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("yss:api:HttpGateway", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        cors = None
        if config.allowed_origins:
            # Same-origin calls (UI served by the app or by CloudFront) need no CORS at all.
            cors = {
                "allow_origins": list(config.allowed_origins),
                "allow_methods": ["GET", "POST", "PUT", "PATCH", "DELETE"],
                "allow_headers": ["content-type", "x-csrf-token"],
                "allow_credentials": True,
                "max_age": 600,
            }
        self.api = aws.apigatewayv2.Api(name, protocol_type="HTTP", cors_configuration=cors, opts=child)
        self.access_log = aws.cloudwatch.LogGroup(
            f"{name}-access-log",
            name=log_group_name(config, "api-access"),
            retention_in_days=config.log_retention_days,
            opts=child,
        )
        self.stage = aws.apigatewayv2.Stage(
            f"{name}-default",
            api_id=self.api.id,
            name="$default",
            auto_deploy=True,
            default_route_settings={
                "throttling_rate_limit": config.api_throttle_rate,
                "throttling_burst_limit": config.api_throttle_burst,
            },
            access_log_settings={"destination_arn": self.access_log.arn, "format": ACCESS_LOG_FORMAT},
            opts=child,
        )
        # With the `$default` stage the API's own endpoint is the invoke URL.
        self.url: pulumi.Output[str] = self.api.api_endpoint
        self.register_outputs({"url": self.url})


def function_log_and_role(
    name: str, config: StackConfig, workload: str, opts: pulumi.ResourceOptions
) -> tuple[aws.cloudwatch.LogGroup, aws.iam.Role]:
    """A Lambda function's own log group (named so the function writes into it,
    kept as long as the stack says) and the role it runs as; the caller attaches
    the least-privilege policy of its workload."""
    log_group = aws.cloudwatch.LogGroup(
        f"{name}-log",
        name=log_group_name(config, workload),
        retention_in_days=config.log_retention_days,
        opts=opts,
    )
    role = aws.iam.Role(f"{name}-role", assume_role_policy=iam.assume_role_policy("lambda.amazonaws.com"), opts=opts)
    return log_group, role


def package_function(
    name: str,
    config: StackConfig,
    *,
    handler: str,
    memory_mb: int,
    timeout_s: int,
    role: aws.iam.Role,
    log_group: aws.cloudwatch.LogGroup,
    policy: aws.iam.RolePolicy,
    code: LambdaCode,
    code_args: dict[str, object],
    environment: pulumi.Input[dict[str, str]],
    parent: pulumi.Resource,
    function_name: str | None = None,
) -> aws.lambda_.Function:
    """A function running the package (the app, the scheduled worker, the
    on-demand listener): JSON logs into its own group, created after its policy
    so the first invocations can already write them."""
    return aws.lambda_.Function(
        name,
        name=function_name,
        runtime=LAMBDA_RUNTIME,
        handler=handler,
        architectures=[config.lambda_architecture],
        memory_size=memory_mb,
        timeout=timeout_s,
        role=role.arn,
        source_code_hash=code.sha256_b64,
        environment={"variables": environment},
        logging_config={"log_format": "JSON", "log_group": log_group.name},
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[log_group, policy]),
        **code_args,  # type: ignore[arg-type]
    )


def no_async_retries(
    name: str, function: aws.lambda_.Function, max_age_s: int, opts: pulumi.ResourceOptions
) -> aws.lambda_.FunctionEventInvokeConfig:
    """Asynchronous invocations are not retried by Lambda: a failed run is recorded by the app."""
    return aws.lambda_.FunctionEventInvokeConfig(
        f"{name}-async",
        function_name=function.name,
        maximum_retry_attempts=0,
        maximum_event_age_in_seconds=max_age_s,
        opts=opts,
    )


def function_code(
    name: str, config: StackConfig, code: LambdaCode, opts: pulumi.ResourceOptions
) -> tuple[dict[str, object], PrivateBucket | None]:
    """The `code` arguments of a function running the package: the zip itself, or,
    too big for a direct upload, a copy staged in a private artifact bucket."""
    if code.zipped_bytes <= DIRECT_UPLOAD_LIMIT:
        return {"code": pulumi.FileArchive(str(code.zip_path))}, None
    bucket = PrivateBucket(f"{name}-artifacts", config, opts=opts)
    obj = aws.s3.BucketObject(
        f"{name}-package",
        bucket=bucket.bucket.id,
        key=f"lambda/{code.sha256_b64.rstrip('=').replace('/', '_').replace('+', '-')}.zip",
        source=pulumi.FileAsset(str(code.zip_path)),
        opts=opts,
    )
    return {"s3_bucket": obj.bucket, "s3_key": obj.key}, bucket


class ApiFunction(pulumi.ComponentResource):
    """The Lambda function, its role and log group, and its wiring into the gateway."""

    def __init__(
        self,
        name: str,
        config: StackConfig,
        *,
        gateway: HttpGateway,
        table: aws.dynamodb.Table,
        audio_bucket: aws.s3.Bucket,
        user_pool: aws.cognito.UserPool,
        user_pool_client: aws.cognito.UserPoolClient,
        public_url: pulumi.Input[str],
        session_secret: pulumi.Input[str],
        code: LambdaCode,
        origin_secret: pulumi.Input[str] | None = None,
        worker_function: str | None = None,
        listener: aws.lambda_.Function | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("yss:api:ApiFunction", name, None, opts)
        if config.enable_cloudfront != (origin_secret is not None):
            raise ValueError("the origin secret goes with CloudFront: both on or both off")
        child = pulumi.ResourceOptions(parent=self)
        self.log_group, self.role = function_log_and_role(name, config, "lambda", child)
        policy = aws.iam.RolePolicy(
            f"{name}-policy",
            role=self.role.id,
            policy=pulumi.Output.all(
                table.arn, audio_bucket.arn, user_pool.arn, self.log_group.arn, listener.arn if listener else None
            ).apply(
                lambda a: iam.lambda_policy(
                    table_arn=a[0], bucket_arn=a[1], user_pool_arn=a[2], log_group_arn=a[3], listener_arn=a[4]
                )
            ),
            opts=child,
        )
        inputs: dict[str, pulumi.Input[str]] = {
            "public_url": public_url,
            "table": table.name,
            "bucket": audio_bucket.bucket,
            "pool": user_pool.id,
            "client": user_pool_client.id,
            "secret": pulumi.Output.secret(session_secret),
        }
        if origin_secret is not None:
            inputs["origin_secret"] = pulumi.Output.secret(origin_secret)
        if worker_function is not None:
            inputs["worker"] = worker_function  # long jobs go there (infra/scheduler.py)
        if listener is not None:
            inputs["listener"] = listener.name
        environment = pulumi.Output.all(**inputs).apply(lambda v: lambda_environment(config, v))
        code_args, self.package_bucket = function_code(name, config, code, child)
        self.code_args = code_args  # the worker function runs the same package
        self.function = package_function(
            name,
            config,
            handler=LAMBDA_HANDLER,
            memory_mb=config.lambda_memory_mb,
            timeout_s=LAMBDA_TIMEOUT_S,
            role=self.role,
            log_group=self.log_group,
            policy=policy,
            code=code,
            code_args=code_args,
            environment=environment,
            parent=self,
        )
        integration = aws.apigatewayv2.Integration(
            f"{name}-integration",
            api_id=gateway.api.id,
            integration_type="AWS_PROXY",
            integration_uri=self.function.invoke_arn,
            payload_format_version="2.0",
            timeout_milliseconds=LAMBDA_TIMEOUT_S * 1000,
            opts=child,
        )
        aws.apigatewayv2.Route(
            f"{name}-route",
            api_id=gateway.api.id,
            route_key="$default",
            target=integration.id.apply(lambda i: f"integrations/{i}"),
            opts=child,
        )
        aws.lambda_.Permission(
            f"{name}-invoke",
            action="lambda:InvokeFunction",
            function=self.function.name,
            principal="apigateway.amazonaws.com",
            source_arn=gateway.api.execution_arn.apply(lambda arn: f"{arn}/*/*"),
            opts=child,
        )
        self.register_outputs({"function_name": self.function.name})


# Uploads are normalised inside the request, which API Gateway cuts off at
# 30 s. PyAV encodes at roughly 250x real time per vCPU (bench/RESULTS.md,
# "Audio codecs") and 1024 MB of Lambda is ~0.6 vCPU: 45 minutes of audio
# is ~18 s of work, leaving room for the S3 transfers.
LAMBDA_MAX_AUDIO_MINUTES = 45


def lambda_environment(config: StackConfig, v: dict[str, str]) -> dict[str, str]:
    """The app's settings as environment variables (names = upper-cased `Settings` fields).

    AWS_REGION is left out on purpose: Lambda sets it and reserves the name.
    CLIENT_ADDRESS_FROM is the client-address rule for this deployment: behind
    CloudFront the viewer address CloudFront passes (and only on requests that
    carry ORIGIN_SECRET), else API Gateway's own source address.
    """
    env = {
        "USE_AWS": "true",
        "PUBLIC_URL": v["public_url"],
        "ALLOWED_ORIGINS": json.dumps(list(config.allowed_origins)),
        "SESSION_SECRET": v["secret"],
        "DYNAMODB_TABLE": v["table"],
        "S3_AUDIO_BUCKET": v["bucket"],
        "COGNITO_USER_POOL_ID": v["pool"],
        "COGNITO_CLIENT_ID": v["client"],
        "MQTT_HOST": config.mqtt_host,
        "MQTT_PORT": str(config.mqtt_port),
        "MQTT_TRANSPORT": config.mqtt_transport,
        "MQTT_PATH": config.mqtt_path,
        # API Gateway's HTTP API buffers responses: no server-sent events, the UI polls.
        "PLAYERS_STREAM": "false",
        "POLLY_ENGINE": config.polly_engine,
        "FAMILY_TIMEZONE": config.family_timezone,
        "MAX_UPLOAD_MB": _setting("max_upload_mb"),
        "MAX_AUDIO_MINUTES": str(LAMBDA_MAX_AUDIO_MINUTES),
        "DOWNLOAD_URL_TTL_S": _setting("download_url_ttl_s"),
        "TTS_MAX_CHARS": _setting("tts_max_chars"),
        "TTS_DAILY_CHARS": _setting("tts_daily_chars"),
    }
    if config.enable_cloudfront:
        env["CLIENT_ADDRESS_FROM"] = CLIENT_ADDRESS_FROM_CLOUDFRONT
        env["ORIGIN_SECRET"] = v["origin_secret"]
    else:
        env["CLIENT_ADDRESS_FROM"] = CLIENT_ADDRESS_FROM_APIGW
    if config.yoto_client_id:
        env["YOTO_CLIENT_ID"] = config.yoto_client_id
    if "worker" in v:
        env["WORKER_FUNCTION"] = v["worker"]
    if "listener" in v:
        env["MQTT_LISTENER_FUNCTION"] = v["listener"]
    return env
