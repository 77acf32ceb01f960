"""Run the real `__main__.py` under Pulumi's mock runtime and record everything it declares.

The mocks stand in for the engine and the AWS provider only: they answer the
data-source calls the program makes (zones, partition, ECR token) and give
each resource the outputs a real provider would (ids, ARNs, URLs). Everything
else is the program itself: the stack file is read, flattened to Pulumi
config, and `__main__.py` runs as `pulumi up` would run it.
"""

from __future__ import annotations

import asyncio
import json
import runpy
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc
from pulumi.runtime import settings as pulumi_settings

from infra.config import PROJECT
from infra.rules import Resource

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT = "123456789012"
SECRET_MARK = "<secret>"


def unwrap(value: Any, path: str = "", secrets: list[str] | None = None) -> Any:
    """Strip the RPC secret wrappers from deserialized inputs, noting where they were."""
    if isinstance(value, dict):
        if value.get(rpc._special_sig_key) == rpc._special_secret_sig:
            if secrets is not None:
                secrets.append(path or "/")
            return unwrap(value.get("value"), path, secrets)
        return {k: unwrap(v, f"{path}/{k}", secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap(v, f"{path}/{i}", secrets) for i, v in enumerate(value)]
    return value


@dataclass
class Registered:
    type: str
    name: str
    inputs: dict[str, Any]
    id: str
    urn: str = ""
    secret_paths: list[str] = field(default_factory=list)
    protect: bool = False
    retain_on_delete: bool = False
    parent: str = ""

    def as_rule_resource(self) -> Resource:
        return Resource(self.type, self.name, self.inputs, urn=self.urn, protect=self.protect, id=self.id)


class RecordingMocks(pulumi.runtime.Mocks):
    def __init__(self, region: str) -> None:
        self.region = region
        self.resources: list[Registered] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        secrets: list[str] = []
        inputs = unwrap(args.inputs, "", secrets)
        name = args.name
        rid = f"{name}-id"
        service = args.typ.split(":")[1].split("/")[0]
        arn = f"arn:aws:{service}:{self.region}:{ACCOUNT}:{name}"
        state: dict[str, Any] = {**inputs, "arn": arn}
        typ = args.typ
        if typ == "aws:s3/bucket:Bucket":
            state.update(bucket=rid, arn=f"arn:aws:s3:::{rid}", bucketRegionalDomainName=f"{rid}.s3.amazonaws.com")
        elif typ == "aws:dynamodb/table:Table":
            state.update(name=rid, arn=f"arn:aws:dynamodb:{self.region}:{ACCOUNT}:table/{rid}")
        elif typ == "aws:cognito/userPool:UserPool":
            rid = f"{self.region}_Mock{abs(hash(name)) % 10**6}"
            state.update(arn=f"arn:aws:cognito-idp:{self.region}:{ACCOUNT}:userpool/{rid}")
        elif typ == "aws:apigatewayv2/api:Api":
            rid = "abc123api"
            state.update(
                apiEndpoint=f"https://{rid}.execute-api.{self.region}.amazonaws.com",
                executionArn=f"arn:aws:execute-api:{self.region}:{ACCOUNT}:{rid}",
            )
        elif typ == "aws:cloudwatch/logGroup:LogGroup":
            state["arn"] = f"arn:aws:logs:{self.region}:{ACCOUNT}:log-group:{inputs.get('name', name)}"
        elif typ == "aws:iam/role:Role":
            state["arn"] = f"arn:aws:iam::{ACCOUNT}:role/{rid}"
        elif typ == "aws:lambda/function:Function":
            fn_arn = f"arn:aws:lambda:{self.region}:{ACCOUNT}:function:{rid}"
            state.update(
                name=rid,
                arn=fn_arn,
                invokeArn=f"arn:aws:apigateway:{self.region}:lambda:path/2015-03-31/functions/{fn_arn}/invocations",
            )
        elif typ == "aws:cloudfront/distribution:Distribution":
            state.update(
                domainName="d111111abcdef8.cloudfront.net", arn=f"arn:aws:cloudfront::{ACCOUNT}:distribution/E1"
            )
        elif typ == "aws:ecs/cluster:Cluster":
            state.update(name=rid, arn=f"arn:aws:ecs:{self.region}:{ACCOUNT}:cluster/{rid}")
        elif typ == "aws:ecs/service:Service":
            state["name"] = rid
        elif typ == "aws:ecr/repository:Repository":
            state.update(
                name=rid,
                registryId=ACCOUNT,
                repositoryUrl=f"{ACCOUNT}.dkr.ecr.{self.region}.amazonaws.com/{rid}",
                arn=f"arn:aws:ecr:{self.region}:{ACCOUNT}:repository/{rid}",
            )
        elif typ == "docker-build:index:Image":
            state["ref"] = f"{ACCOUNT}.dkr.ecr.{self.region}.amazonaws.com/mqtt@sha256:{'ab' * 32}"
        elif typ == "random:index/randomPassword:RandomPassword":
            state["result"] = f"mock-generated-{name}-0123456789abcdef"  # one value per secret
        if args.custom:  # components are recorded by the monitor, not here
            self.resources.append(Registered(typ, name, inputs, rid, secret_paths=secrets))
        return rid, state

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        token = args.token
        if token == "aws:index/getAvailabilityZones:getAvailabilityZones":
            names = [f"{self.region}{z}" for z in "abc"]
            return {"names": names, "zoneIds": [f"euw2-az{i}" for i in (1, 2, 3)], "id": self.region}, []
        if token == "aws:index/getPartition:getPartition":
            return {"partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws"}, []
        if token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {"accountId": ACCOUNT, "arn": f"arn:aws:iam::{ACCOUNT}:user/test", "userId": "X", "id": ACCOUNT}, []
        if token == "aws:index/getRegion:getRegion":
            return {"name": self.region, "region": self.region, "id": self.region}, []
        if token == "aws:ecr/getAuthorizationToken:getAuthorizationToken":
            return {
                "userName": "AWS",
                "password": "mock-ecr-password",
                "authorizationToken": "QVdTOm1vY2s=",
                "proxyEndpoint": f"https://{ACCOUNT}.dkr.ecr.{self.region}.amazonaws.com",
                "expiresAt": "2030-01-01T00:00:00Z",
                "id": ACCOUNT,
            }, []
        raise AssertionError(f"the program called an unexpected data source: {token}")


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """Also keeps what MockResourceArgs leaves out: protect, retainOnDelete, parent."""

    def __init__(self, mocks: RecordingMocks) -> None:
        super().__init__(mocks)
        self.options: dict[tuple[str, str], dict[str, Any]] = {}

    def RegisterResource(self, request: Any) -> Any:  # the gRPC method's name
        response = super().RegisterResource(request)
        self.options[(request.type, request.name)] = {
            "urn": response.urn,
            "protect": bool(getattr(request, "protect", False)),
            "retain_on_delete": bool(getattr(request, "retainOnDelete", False)),
            "parent": request.parent,
        }
        return response


@dataclass
class ProgramRun:
    stack: str
    config: dict[str, str]
    resources: list[Registered]
    outputs: dict[str, Any]
    secret_outputs: set[str]
    components: dict[tuple[str, str], dict[str, Any]]

    def of_type(self, typ: str) -> list[Registered]:
        return [r for r in self.resources if r.type == typ]

    def one(self, typ: str, name_part: str = "") -> Registered:
        found = [r for r in self.of_type(typ) if name_part in r.name]
        assert len(found) == 1, f"expected one {typ} named *{name_part}*, got {[r.name for r in found]}"
        return found[0]

    def types(self) -> set[str]:
        return {r.type for r in self.resources}

    def rule_resources(self) -> list[Resource]:
        return [r.as_rule_resource() for r in self.resources]

    def __iter__(self) -> Iterator[Registered]:
        return iter(self.resources)


def stack_file_config(stack: str) -> dict[str, str]:
    """The stack file's config, flattened the way the Pulumi CLI hands it to a program."""
    data = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in data.items()}


def run_program(
    stack: str, overrides: Mapping[str, str | None] | None = None, *, secrets: Mapping[str, str] | None = None
) -> ProgramRun:
    """Run `__main__.py` for `Pulumi.<stack>.yaml` plus `overrides` (short keys; None removes a key)."""
    config = stack_file_config(stack)
    for key, value in (overrides or {}).items():
        full = key if ":" in key else f"{PROJECT}:{key}"
        if value is None:
            config.pop(full, None)
        else:
            config[full] = value
    secret_keys = []
    for key, value in (secrets or {}).items():
        full = f"{PROJECT}:{key}"
        config[full] = value
        secret_keys.append(full)
    region = config.get("aws:region", "eu-west-2")
    mocks = RecordingMocks(region)
    monitor = RecordingMonitor(mocks)
    # Pulumi's mocks create futures on the current event loop; tests that ran
    # asyncio.run() before us leave none set, so give the program a fresh one.
    asyncio.set_event_loop(asyncio.new_event_loop())
    pulumi.runtime.set_all_config(dict(config), secret_keys)
    pulumi_settings.ROOT.set(None)
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=False, monitor=monitor)
    collected: dict[str, Any] = {}
    secret_outputs: set[str] = set()

    @pulumi.runtime.test
    def program() -> Any:
        runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")
        root = pulumi_settings.get_root_resource()
        exported = dict(root.outputs)  # type: ignore[union-attr]

        async def collect() -> None:
            for key, value in exported.items():
                out = pulumi.Output.from_input(value)
                collected[key] = await out.future()
                if await out.is_secret():
                    secret_outputs.add(key)

        return pulumi.Output.from_input(collect())

    program()
    components: dict[tuple[str, str], dict[str, Any]] = {}
    for res in mocks.resources:
        opts = monitor.options.get((res.type, res.name), {})
        res.urn = opts.get("urn", "")
        res.protect = opts.get("protect", False)
        res.retain_on_delete = opts.get("retain_on_delete", False)
        res.parent = opts.get("parent", "")
    for key, opts in monitor.options.items():
        if key not in {(r.type, r.name) for r in mocks.resources}:
            components[key] = opts
    return ProgramRun(stack, config, list(mocks.resources), collected, secret_outputs, components)
