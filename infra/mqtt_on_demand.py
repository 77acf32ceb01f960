"""The on-demand MQTT listener (mqttMode=on-demand): a Lambda function running the
handler loop (`mqtt/lambda_handler.py`) for at most 14 minutes at a time.

The API invokes it asynchronously when someone opens the players page and no
listener is live; it stops when nobody has looked for `mqttIdleSeconds` or
shortly before its timeout, and the API starts a successor while viewers remain.
It runs outside any VPC, so it needs no NAT, no subnet and no public IPv4: a
family that watches 30 minutes a day pays for about 30 minutes of a 256 MB
function. Its role reaches the records table and its own log group only; Lambda
does not retry a failed run (the next poll starts a new one).
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from infra import iam
from infra.api import LambdaCode, function_code, function_log_and_role, no_async_retries, package_function
from infra.config import MQTT_LAMBDA_HANDLER, StackConfig

TIMEOUT_S = 14 * 60
MEMORY_MB = 256


def on_demand_environment(config: StackConfig, table: str) -> dict[str, str]:
    """The handler's settings: the records table, the Yoto client and the broker."""
    env = {
        "USE_AWS": "true",
        "DYNAMODB_TABLE": table,
        "MQTT_HOST": config.mqtt_host,
        "MQTT_PORT": str(config.mqtt_port),
        "MQTT_TRANSPORT": config.mqtt_transport,
        "MQTT_PATH": config.mqtt_path,
        "MQTT_IDLE_S": str(config.mqtt_idle_s),
        "FAMILY_TIMEZONE": config.family_timezone,
    }
    if config.yoto_client_id:
        env["YOTO_CLIENT_ID"] = config.yoto_client_id
    return env


class MqttOnDemand(pulumi.ComponentResource):
    def __init__(
        self,
        name: str,
        config: StackConfig,
        *,
        table: aws.dynamodb.Table,
        code: LambdaCode,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("yss:mqtt:MqttOnDemand", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        code_args, self.package_bucket = function_code(name, config, code, child)
        self.log_group, self.role = function_log_and_role(name, config, "mqtt", child)
        policy = aws.iam.RolePolicy(
            f"{name}-policy",
            role=self.role.id,
            policy=pulumi.Output.all(table.arn, self.log_group.arn).apply(
                lambda a: iam.mqtt_on_demand_policy(table_arn=a[0], log_group_arn=a[1])
            ),
            opts=child,
        )
        self.function = package_function(
            name,
            config,
            handler=MQTT_LAMBDA_HANDLER,
            memory_mb=MEMORY_MB,
            timeout_s=TIMEOUT_S,
            role=self.role,
            log_group=self.log_group,
            policy=policy,
            code=code,
            code_args=code_args,
            environment=table.name.apply(lambda t: on_demand_environment(config, t)),
            parent=self,
        )
        no_async_retries(name, self.function, 60, child)
        self.register_outputs({"function_name": self.function.name})
