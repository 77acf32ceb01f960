"""The MQTT handler: one always-on Fargate (Spot) task that keeps the Yoto MQTT connection.

Kept as cheap as it can be while still reaching the internet: a small VPC with
two public subnets and no NAT gateway (a NAT costs ~$33/month; the task's own
public IPv4, ~$3.65/month, is the price of skipping it), a security group that
accepts nothing and only lets HTTPS/MQTT out, 0.25 vCPU / 0.5 GB on x86_64
(Fargate Spot has no arm64). Spot reclaims give a two-minute SIGTERM warning,
so `stopTimeout` is the maximum 120 s; a single desired task with
min-healthy 0 / max 100 % never runs two handlers at once.
"""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_aws as aws

from infra import iam
from infra.config import ROOT, StackConfig, log_group_name

VPC_CIDR = "10.20.0.0/16"
SUBNET_CIDRS = ("10.20.0.0/24", "10.20.1.0/24")
TASK_CPU = "256"  # 0.25 vCPU
TASK_MEMORY = "512"  # 0.5 GB
STOP_TIMEOUT_S = 120
CONTAINER = "mqtt"


class MqttNetwork(pulumi.ComponentResource):
    """VPC, internet gateway, two public subnets in two zones, no NAT, an ingress-free security group."""

    def __init__(self, name: str, config: StackConfig, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("yss:mqtt:MqttNetwork", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.vpc = aws.ec2.Vpc(
            name, cidr_block=VPC_CIDR, enable_dns_hostnames=True, enable_dns_support=True, opts=child
        )
        gateway = aws.ec2.InternetGateway(f"{name}-igw", vpc_id=self.vpc.id, opts=child)
        routes = aws.ec2.RouteTable(
            f"{name}-public",
            vpc_id=self.vpc.id,
            routes=[{"cidr_block": "0.0.0.0/0", "gateway_id": gateway.id}],
            opts=child,
        )
        zones = aws.get_availability_zones_output(state="available")
        self.subnets: list[aws.ec2.Subnet] = []
        for i, cidr in enumerate(SUBNET_CIDRS):
            subnet = aws.ec2.Subnet(
                f"{name}-public-{i}",
                vpc_id=self.vpc.id,
                cidr_block=cidr,
                availability_zone=zones.names[i],
                map_public_ip_on_launch=False,  # the service assigns the task's address itself
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-public-{i}", subnet_id=subnet.id, route_table_id=routes.id, opts=child
            )
            self.subnets.append(subnet)
        # DNS goes to the VPC resolver, which security groups do not filter.
        egress_ports = sorted({443, config.mqtt_port})
        self.security_group = aws.ec2.SecurityGroup(
            f"{name}-task",
            vpc_id=self.vpc.id,
            description="MQTT handler: no inbound, TLS out only",
            ingress=[],
            egress=[
                {
                    "protocol": "tcp",
                    "from_port": port,
                    "to_port": port,
                    "cidr_blocks": ["0.0.0.0/0"],
                    "description": f"outbound tcp/{port}",
                }
                for port in egress_ports
            ],
            opts=child,
        )
        self.register_outputs({"vpc_id": self.vpc.id})


def container_definitions(config: StackConfig, *, image: str, log_group: str, environment: dict[str, str]) -> str:
    definition: dict[str, Any] = {
        "name": CONTAINER,
        "image": image,
        "essential": True,
        "stopTimeout": STOP_TIMEOUT_S,
        "environment": [{"name": k, "value": v} for k, v in sorted(environment.items())],
        "logConfiguration": {
            "logDriver": "awslogs",
            "options": {
                "awslogs-group": log_group,
                "awslogs-region": config.region,
                "awslogs-stream-prefix": CONTAINER,
            },
        },
        "readonlyRootFilesystem": False,
        # Fresh heartbeat record (written every 30 s by the handler) or the task is replaced.
        "healthCheck": {
            "command": ["CMD", "python", "-m", "mqtt", "--check"],
            "interval": 60,
            "timeout": 10,
            "retries": 3,
            "startPeriod": 60,
        },
    }
    return json.dumps([definition])


def task_environment(config: StackConfig, v: dict[str, str]) -> dict[str, str]:
    """The handler's settings: the records table plus the names `Settings.validate_backend` requires."""
    env = {
        "USE_AWS": "true",
        "AWS_REGION": config.region,
        "DYNAMODB_TABLE": v["table"],
        "S3_AUDIO_BUCKET": v["bucket"],
        "COGNITO_USER_POOL_ID": v["pool"],
        "COGNITO_CLIENT_ID": v["client"],
        "SESSION_SECRET": v["secret"],
        "PUBLIC_URL": v["public_url"],
        "MQTT_HOST": config.mqtt_host,
        "MQTT_PORT": str(config.mqtt_port),
        "MQTT_TRANSPORT": config.mqtt_transport,
        "MQTT_PATH": config.mqtt_path,
        "FAMILY_TIMEZONE": config.family_timezone,
    }
    if config.yoto_client_id:
        env["YOTO_CLIENT_ID"] = config.yoto_client_id
    return env


class MqttService(pulumi.ComponentResource):
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
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("yss:mqtt:MqttService", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.network = MqttNetwork(f"{name}-net", config, opts=child)
        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-log", name=log_group_name(config, "mqtt"), retention_in_days=config.log_retention_days, opts=child
        )
        image, repository_arn = self._image(name, config)

        execution_role = aws.iam.Role(
            f"{name}-execution", assume_role_policy=iam.assume_role_policy("ecs-tasks.amazonaws.com"), opts=child
        )
        aws.iam.RolePolicy(
            f"{name}-execution",
            role=execution_role.id,
            policy=pulumi.Output.all(self.log_group.arn, repository_arn).apply(
                lambda a: iam.mqtt_execution_policy(log_group_arn=a[0], repository_arn=a[1])
            ),
            opts=child,
        )
        self.task_role = aws.iam.Role(
            f"{name}-task", assume_role_policy=iam.assume_role_policy("ecs-tasks.amazonaws.com"), opts=child
        )
        aws.iam.RolePolicy(
            f"{name}-task",
            role=self.task_role.id,
            policy=table.arn.apply(lambda arn: iam.mqtt_task_policy(table_arn=arn)),
            opts=child,
        )

        self.cluster = aws.ecs.Cluster(name, settings=[{"name": "containerInsights", "value": "disabled"}], opts=child)
        providers = aws.ecs.ClusterCapacityProviders(
            f"{name}-providers",
            cluster_name=self.cluster.name,
            capacity_providers=["FARGATE_SPOT", "FARGATE"],
            default_capacity_provider_strategies=[{"capacity_provider": config.mqtt_capacity_provider, "weight": 1}],
            opts=child,
        )
        environment = pulumi.Output.all(
            table=table.name,
            bucket=audio_bucket.bucket,
            pool=user_pool.id,
            client=user_pool_client.id,
            public_url=public_url,
            secret=pulumi.Output.secret(session_secret),
        ).apply(lambda v: task_environment(config, v))
        definitions = pulumi.Output.all(image, self.log_group.name, environment).apply(
            lambda a: container_definitions(config, image=a[0], log_group=a[1], environment=a[2])
        )
        self.task_definition = aws.ecs.TaskDefinition(
            name,
            family=f"yoto-smart-stream-{config.stack}-mqtt",
            cpu=TASK_CPU,
            memory=TASK_MEMORY,
            network_mode="awsvpc",
            requires_compatibilities=["FARGATE"],
            runtime_platform={"operating_system_family": "LINUX", "cpu_architecture": "X86_64"},
            execution_role_arn=execution_role.arn,
            task_role_arn=self.task_role.arn,
            container_definitions=definitions,
            opts=child,
        )
        self.service = aws.ecs.Service(
            name,
            cluster=self.cluster.arn,
            task_definition=self.task_definition.arn,
            desired_count=1,
            capacity_provider_strategies=[{"capacity_provider": config.mqtt_capacity_provider, "weight": 1, "base": 1}],
            network_configuration={
                "subnets": [s.id for s in self.network.subnets],
                "security_groups": [self.network.security_group.id],
                "assign_public_ip": True,
            },
            deployment_circuit_breaker={"enable": True, "rollback": True},
            deployment_minimum_healthy_percent=0,
            deployment_maximum_percent=100,
            propagate_tags="SERVICE",
            enable_ecs_managed_tags=True,
            wait_for_steady_state=False,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[providers]),
        )
        self.register_outputs({"cluster_name": self.cluster.name, "service_name": self.service.name})

    def _image(self, name: str, config: StackConfig) -> tuple[pulumi.Output[str], pulumi.Output[str | None]]:
        """The image to run and the ECR repository ARN to grant pulls on (None for a foreign registry)."""
        if config.mqtt_image:
            partition = aws.get_partition_output().partition
            arn = partition.apply(lambda p: iam.ecr_repository_arn(config.mqtt_image or "", p))
            return pulumi.Output.from_input(config.mqtt_image), arn
        import pulumi_docker_build as docker_build

        child = pulumi.ResourceOptions(parent=self)
        repository = aws.ecr.Repository(
            f"{name}-image",
            force_delete=config.force_destroy,
            image_scanning_configuration={"scan_on_push": True},
            image_tag_mutability="MUTABLE",
            opts=child,
        )
        aws.ecr.LifecyclePolicy(
            f"{name}-image",
            repository=repository.name,
            policy=json.dumps(
                {
                    "rules": [
                        {
                            "rulePriority": 1,
                            "description": "keep the last 5 images",
                            "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 5},
                            "action": {"type": "expire"},
                        }
                    ]
                }
            ),
            opts=child,
        )
        token = aws.ecr.get_authorization_token_output(registry_id=repository.registry_id)
        image = docker_build.Image(
            f"{name}-image",
            context={"location": str(ROOT)},
            dockerfile={"location": str(ROOT / "mqtt" / "Dockerfile")},
            platforms=[docker_build.Platform.LINUX_AMD64],
            push=True,
            tags=[repository.repository_url.apply(lambda u: f"{u}:latest")],
            registries=[
                {
                    "address": repository.repository_url,
                    "username": token.user_name,
                    "password": token.password,
                }
            ],
            opts=child,
        )
        # `ref` pins the pushed digest, so a rebuilt image rolls the service.
        return image.ref, repository.arn.apply(lambda a: a)
