"""The yoto-smart-stream stacks: composition only; the resources live in `infra/`.

Order matters for one reason: the Lambda's PUBLIC_URL is the CloudFront URL
when CloudFront is on, and CloudFront needs the API's URL. So the gateway
comes first, then the UI, then the function that plugs into the gateway.
"""

import pulumi
import pulumi_random as random

from infra.api import ApiFunction, HttpGateway, lambda_code
from infra.budget import BudgetAlert
from infra.config import load_stack_config
from infra.data import STAGING_PREFIX, PrivateBucket, RecordsTable, upload_cors_rules
from infra.identity import UserDirectory
from infra.mqtt_on_demand import MqttOnDemand
from infra.mqtt_service import MqttService
from infra.scheduler import ScheduledWorker, worker_function_name
from infra.ui import UiSite

config = load_stack_config()
prefix = f"yss-{config.stack}"

# Generated once and kept (encrypted) in the state unless the stack sets the secret `sessionSecret`.
session_secret = (
    config.session_secret or random.RandomPassword(f"{prefix}-session-secret", length=48, special=False).result
)
# With CloudFront on, CloudFront adds this to every API request and the app refuses
# requests without it, so the API's own execute-api URL cannot go around CloudFront.
origin_secret = (
    random.RandomPassword(f"{prefix}-origin-secret", length=48, special=False).result
    if config.enable_cloudfront
    else None
)
table = RecordsTable(f"{prefix}-records", config)
users = UserDirectory(f"{prefix}-users", config)
gateway = HttpGateway(f"{prefix}-api", config)
ui = UiSite(f"{prefix}-ui", config, api_url=gateway.url, origin_secret=origin_secret)
audio = PrivateBucket(
    f"{prefix}-audio",
    config,
    versioned=config.production,
    staging_prefix=STAGING_PREFIX,
    cors_rules=upload_cors_rules(ui.url.apply(lambda url: [url, *config.allowed_origins])),
)
shared = {
    "table": table.table,
    "audio_bucket": audio.bucket,
    "user_pool": users.pool,
    "user_pool_client": users.client,
    "public_url": ui.url,
    "session_secret": session_secret,
}
code = lambda_code(config)
# mqttMode=on-demand: the listener runs in a Lambda function the API starts while someone watches.
on_demand = (
    MqttOnDemand(f"{prefix}-listener", config, table=table.table, code=code)
    if config.mqtt_mode == "on-demand"
    else None
)
api = ApiFunction(
    f"{prefix}-app",
    config,
    gateway=gateway,
    code=code,
    origin_secret=origin_secret,
    worker_function=worker_function_name(config),
    listener=on_demand.function if on_demand else None,
    **shared,
)
# Podcast refreshes and routines: the minute tick and the worker the API hands long jobs to.
worker = ScheduledWorker(f"{prefix}-worker", config, code=code, code_args=api.code_args, **shared)
worker.allow_invoke(f"{prefix}-app-invoke-worker", api.role)

pulumi.export("api_url", gateway.url)
pulumi.export("ui_url", ui.url)
pulumi.export("ui_bucket_name", ui.bucket.bucket.bucket)
pulumi.export("audio_bucket_name", audio.bucket.bucket)
pulumi.export("table_name", table.table.name)
pulumi.export("user_pool_id", users.pool.id)
pulumi.export("user_pool_client_id", users.client.id)
pulumi.export("lambda_function_name", api.function.name)
pulumi.export("worker_function_name", worker.function.name)
if config.enable_cloudfront and ui.distribution is not None:
    pulumi.export("cloudfront_domain", ui.distribution.domain_name)
if on_demand is not None:
    pulumi.export("mqtt_listener_function_name", on_demand.function.name)
if config.enable_mqtt_handler:
    mqtt = MqttService(f"{prefix}-mqtt", config, **shared)
    pulumi.export("mqtt_cluster_name", mqtt.cluster.name)
    pulumi.export("mqtt_service_name", mqtt.service.name)
if config.budget_enabled:
    BudgetAlert(f"{prefix}-budget", config)
