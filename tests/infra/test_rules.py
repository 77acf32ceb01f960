"""Each security rule catches a deliberately broken resource, directly and through the CrossGuard pack.

The good baseline is the real prod program as recorded by the mock runtime
(every rule passes on it, see test_program.py); each case breaks one thing.
"""

from __future__ import annotations

import copy
import json
import runpy
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    StackValidationArgs,
)

from infra import rules
from infra.rules import RESOURCE_RULES, STACK_RULES, Resource, RuleContext, evaluate, policy_violations
from tests.infra.program import ProgramRun

ROOT = Path(__file__).resolve().parents[2]
PROD = RuleContext(production=True)
DEV = RuleContext(production=False)


def allow(action: Any, resource: Any, **extra: Any) -> str:
    return json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": resource, **extra}]}
    )


def res(type_: str, props: dict[str, Any], *, protect: bool = False, name: str = "broken") -> Resource:
    return Resource(type_, name, props, urn=f"urn:pulumi:prod::yoto-smart-stream::{type_}::{name}", protect=protect)


TABLE_ARN = "arn:aws:dynamodb:eu-west-2:123456789012:table/records"


@dataclass(frozen=True)
class Case:
    rule: str
    broken: Resource
    good: Resource
    ctx: RuleContext = PROD


RESOURCE_CASES: dict[str, Case] = {
    "wildcard-action": Case(
        "iam-least-privilege",
        res(rules.ROLE_POLICY, {"policy": allow("s3:*", "arn:aws:s3:::audio/*")}),
        res(rules.ROLE_POLICY, {"policy": allow("s3:GetObject", "arn:aws:s3:::audio/*")}),
    ),
    "star-resource": Case(
        "iam-least-privilege",
        res(rules.ROLE_POLICY, {"policy": allow(["dynamodb:GetItem"], "*")}),
        res(rules.ROLE_POLICY, {"policy": allow(["dynamodb:GetItem"], [TABLE_ARN])}),
    ),
    "every-table": Case(
        "iam-least-privilege",
        res(
            rules.ROLE_POLICY, {"policy": allow(["dynamodb:Query"], "arn:aws:dynamodb:eu-west-2:123456789012:table/*")}
        ),
        res(rules.ROLE_POLICY, {"policy": allow(["dynamodb:Query"], f"{TABLE_ARN}/index/*")}),
    ),
    "polly-plus-other-on-star": Case(
        "iam-least-privilege",
        res(rules.ROLE_POLICY, {"policy": allow(["polly:SynthesizeSpeech", "s3:GetObject"], "*")}),
        res(rules.ROLE_POLICY, {"policy": allow(["polly:SynthesizeSpeech", "polly:DescribeVoices"], "*")}),
    ),
    "not-action": Case(
        "iam-least-privilege",
        res(
            rules.MANAGED_POLICY,
            {"policy": json.dumps({"Statement": [{"Effect": "Allow", "NotAction": "iam:*", "Resource": TABLE_ARN}]})},
        ),
        res(
            rules.MANAGED_POLICY,
            {"policy": json.dumps({"Statement": [{"Effect": "Deny", "NotAction": "iam:*", "Resource": "*"}]})},
        ),
    ),
    "aws-managed-policy": Case(
        "iam-least-privilege",
        res(rules.ROLE, {"managedPolicyArns": ["arn:aws:iam::aws:policy/AmazonDynamoDBFullAccess"]}),
        res(rules.ROLE, {"inlinePolicies": [{"name": "x", "policy": allow("dynamodb:GetItem", TABLE_ARN)}]}),
    ),
    "public-bucket-policy": Case(
        "iam-least-privilege",
        res(rules.BUCKET_POLICY, {"policy": allow("s3:GetObject", "arn:aws:s3:::ui/*", Principal="*")}),
        res(
            rules.BUCKET_POLICY,
            {"policy": allow("s3:GetObject", "arn:aws:s3:::ui/*", Principal={"Service": "cloudfront.amazonaws.com"})},
        ),
    ),
    "log-retention": Case(
        "log-group-retention",
        res(rules.LOG_GROUP, {"name": "/x"}),
        res(rules.LOG_GROUP, {"name": "/x", "retentionInDays": 7}),
    ),
    "pitr": Case(
        "prod-table-pitr",
        res(rules.TABLE, {"pointInTimeRecovery": {"enabled": False}}),
        res(rules.TABLE, {"pointInTimeRecovery": {"enabled": True}}),
    ),
    "table-deletion": Case(
        "prod-table-deletion-protection",
        res(rules.TABLE, {"deletionProtectionEnabled": False}),
        res(rules.TABLE, {"deletionProtectionEnabled": True}),
    ),
    "pool-deletion": Case(
        "prod-user-pool-deletion-protection",
        res(rules.USER_POOL, {"deletionProtection": "INACTIVE"}),
        res(rules.USER_POOL, {"deletionProtection": "ACTIVE"}),
    ),
    "unprotected-table": Case(
        "prod-data-protected", res(rules.TABLE, {}, protect=False), res(rules.TABLE, {}, protect=True)
    ),
    "unprotected-bucket": Case(
        "prod-data-protected", res(rules.BUCKET, {}, protect=False), res(rules.BUCKET, {}, protect=True)
    ),
    "sg-ingress": Case(
        "no-ingress",
        res(
            rules.SECURITY_GROUP,
            {"ingress": [{"protocol": "tcp", "fromPort": 22, "toPort": 22, "cidrBlocks": ["0.0.0.0/0"]}]},
        ),
        res(rules.SECURITY_GROUP, {"ingress": [], "egress": [{"protocol": "tcp", "fromPort": 443, "toPort": 443}]}),
    ),
    "sg-ingress-rule": Case(
        "no-ingress",
        res(rules.SECURITY_GROUP_RULE, {"type": "ingress", "fromPort": 443, "toPort": 443}),
        res(rules.SECURITY_GROUP_RULE, {"type": "egress", "fromPort": 443, "toPort": 443}),
    ),
    "vpc-ingress-rule": Case(
        "no-ingress",
        res(rules.INGRESS_RULE, {"fromPort": 443}),
        res(rules.SECURITY_GROUP, {"ingress": []}),
    ),
    "bucket-wide-expiry": Case(
        "s3-expiry-scoped",
        res(rules.LIFECYCLE, {"rules": [{"id": "x", "status": "Enabled", "filter": {}, "expiration": {"days": 1}}]}),
        res(
            rules.LIFECYCLE,
            {
                "rules": [
                    {"id": "x", "status": "Enabled", "filter": {"prefix": "uploads/"}, "expiration": {"days": 1}},
                    {"id": "y", "status": "Disabled", "filter": {"prefix": ""}, "expiration": {"days": 1}},
                    {"id": "z", "status": "Enabled", "filter": {"prefix": ""}, "abortIncompleteMultipartUpload": {}},
                ]
            },
        ),
    ),
    "cloudfront-http": Case(
        "cloudfront-https-only",
        res(rules.DISTRIBUTION, {"defaultCacheBehavior": {"viewerProtocolPolicy": "allow-all"}}),
        res(rules.DISTRIBUTION, {"defaultCacheBehavior": {"viewerProtocolPolicy": "redirect-to-https"}}),
    ),
    "cloudfront-plain-origin": Case(
        "cloudfront-https-only",
        res(
            rules.DISTRIBUTION,
            {
                "defaultCacheBehavior": {"viewerProtocolPolicy": "https-only"},
                "origins": [{"originId": "api", "customOriginConfig": {"originProtocolPolicy": "http-only"}}],
            },
        ),
        res(
            rules.DISTRIBUTION,
            {
                "defaultCacheBehavior": {"viewerProtocolPolicy": "https-only"},
                "origins": [{"originId": "api", "customOriginConfig": {"originProtocolPolicy": "https-only"}}],
            },
        ),
    ),
}


def rule_named(name: str) -> rules.ResourceRule:
    return next(r for r in RESOURCE_RULES if r.name == name)


def test_every_rule_has_a_breaking_case() -> None:
    covered = {c.rule for c in RESOURCE_CASES.values()} | set(STACK_BREAKERS)
    assert covered == {r.name for r in RESOURCE_RULES} | {r.name for r in STACK_RULES}


@pytest.mark.parametrize("case_id", list(RESOURCE_CASES))
def test_resource_rule_catches_broken_resource(case_id: str) -> None:
    case = RESOURCE_CASES[case_id]
    rule = rule_named(case.rule)
    assert case.broken.type in rule.types
    assert rule.check(case.broken, case.ctx), f"{case.rule} let {case_id} through"
    assert rule.check(case.good, case.ctx) == []


@pytest.mark.parametrize("rule_name", ["prod-table-pitr", "prod-table-deletion-protection", "prod-data-protected"])
def test_prod_rules_leave_dev_alone(rule_name: str) -> None:
    broken = next(c.broken for c in RESOURCE_CASES.values() if c.rule == rule_name)
    assert rule_named(rule_name).check(broken, DEV) == []


def test_unreadable_policy_is_a_violation() -> None:
    assert policy_violations("{not json")


# --------------------------------------------------------------------------- stack rules


def _drop(typ: str) -> Callable[[list[Resource], Resource], list[Resource]]:
    """Remove the bucket's attached resource of this type."""

    def breaker(resources: list[Resource], bucket: Resource) -> list[Resource]:
        return [r for r in resources if not (r.type == typ and r.props.get("bucket") == bucket.id)]

    return breaker


def _edit(typ: str, change: Callable[[dict[str, Any]], None]) -> Callable[[list[Resource], Resource], list[Resource]]:
    def breaker(resources: list[Resource], bucket: Resource) -> list[Resource]:
        out = []
        for r in resources:
            if r.type == typ and r.props.get("bucket") == bucket.id:
                props = copy.deepcopy(dict(r.props))
                change(props)
                r = replace(r, props=props)
            out.append(r)
        return out

    return breaker


def _no_deny(props: dict[str, Any]) -> None:
    doc = json.loads(props["policy"])
    doc["Statement"] = [s for s in doc["Statement"] if s["Effect"] != "Deny"]
    props["policy"] = json.dumps(doc)


def _deny_without_tls_condition(props: dict[str, Any]) -> None:
    doc = json.loads(props["policy"])
    for stmt in doc["Statement"]:
        if stmt["Effect"] == "Deny":
            stmt["Condition"] = {"Bool": {"aws:MultiFactorAuthPresent": "false"}}
    props["policy"] = json.dumps(doc)


def _accepts_uploads_and(
    change: Callable[[dict[str, Any]], None],
) -> Callable[[list[Resource], Resource], list[Resource]]:
    """Give the bucket a browser-upload CORS rule, and change its staging expiry."""

    def breaker(resources: list[Resource], bucket: Resource) -> list[Resource]:
        cors = Resource(
            rules.CORS,
            f"{bucket.name}-cors-added",
            {"bucket": bucket.id, "corsRules": [{"allowedMethods": ["POST"], "allowedOrigins": ["https://x.org"]}]},
            urn=f"{bucket.urn}-cors-added",
        )
        return [*_edit(rules.LIFECYCLE, change)(resources, bucket), cors]

    return breaker


def _staging_rules(props: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for r in props["rules"] if r.get("expiration")]


def _without_staging_expiry(props: dict[str, Any]) -> None:
    props["rules"] = [r for r in props["rules"] if not r.get("expiration")]


def _staging_expiry(**change: Any) -> Callable[[dict[str, Any]], None]:
    def edit(props: dict[str, Any]) -> None:
        if not _staging_rules(props):  # the UI bucket: give it a rule that is wrong in the same way
            props["rules"].append({"id": "s", "status": "Enabled", "filter": {"prefix": "uploads/"}, "expiration": {}})
        for rule in _staging_rules(props) or props["rules"][-1:]:
            rule.update(change)

    return edit


STACK_BREAKERS: dict[str, list[Callable[[list[Resource], Resource], list[Resource]]]] = {
    "s3-block-public-access": [
        _drop(rules.PUBLIC_ACCESS_BLOCK),
        _edit(rules.PUBLIC_ACCESS_BLOCK, lambda p: p.update(restrictPublicBuckets=False)),
    ],
    "s3-owner-enforced": [
        _drop(rules.OWNERSHIP),
        _edit(rules.OWNERSHIP, lambda p: p.update(rule={"objectOwnership": "ObjectWriter"})),
    ],
    "s3-encryption": [_drop(rules.ENCRYPTION)],
    "s3-tls-only": [
        _drop(rules.BUCKET_POLICY),
        _edit(rules.BUCKET_POLICY, _no_deny),
        _edit(rules.BUCKET_POLICY, _deny_without_tls_condition),
    ],
    "s3-abort-incomplete-uploads": [
        _drop(rules.LIFECYCLE),
        _edit(
            rules.LIFECYCLE,
            lambda p: p.update(rules=[r for r in p["rules"] if "abortIncompleteMultipartUpload" not in r]),
        ),
    ],
    "s3-expire-staged-uploads": [
        _accepts_uploads_and(_without_staging_expiry),
        _accepts_uploads_and(_staging_expiry(status="Disabled")),
        _accepts_uploads_and(_staging_expiry(expiration={"days": 30})),
        _accepts_uploads_and(_staging_expiry(expiration={})),
        _accepts_uploads_and(_staging_expiry(filter={"prefix": "uploads"})),  # not a folder
    ],
}


@pytest.fixture(scope="module")
def prod_run(runs: dict[str, ProgramRun]) -> ProgramRun:
    return runs["prod-mqtt-on-cf-on"]


def test_dev_program_fails_the_prod_rules(runs: dict[str, ProgramRun]) -> None:
    """The prod rules are wired to the real resources: the dev stack, judged as prod, breaks exactly them."""
    found = evaluate(runs["dev-mqtt-on-cf-off"].rule_resources(), PROD)
    assert set(found) == {
        "prod-table-pitr",
        "prod-table-deletion-protection",
        "prod-user-pool-deletion-protection",
        "prod-data-protected",
    }
    assert len(found["prod-data-protected"]) == 4  # table, user pool, audio and UI buckets


@pytest.mark.parametrize("rule_name", list(STACK_BREAKERS))
def test_stack_rule_catches_broken_bucket(rule_name: str, prod_run: ProgramRun) -> None:
    good = prod_run.rule_resources()
    rule = next(r for r in STACK_RULES if r.name == rule_name)
    assert rule.check(good, PROD) == []
    for bucket in (r for r in good if r.type == rules.BUCKET):
        for breaker in STACK_BREAKERS[rule_name]:
            broken = breaker(good, bucket)
            found = rule.check(broken, PROD)
            assert [urn for urn, _ in found] == [bucket.urn], f"{rule_name} missed a broken {bucket.name}"
            assert rule.name in evaluate(broken, PROD)


# --------------------------------------------------------------------------- through the CrossGuard pack


@pytest.fixture(scope="module")
def pack() -> dict[str, Any]:
    """The pack's policies, built by its own module (loaded like the CLI would, minus the gRPC server)."""
    module = runpy.run_path(str(ROOT / "policy" / "__main__.py"), run_name="policy_pack")
    return {p.name: p for p in module["build_policies"]("prod")}


def _opts(protect: bool) -> PolicyResourceOptions:
    return PolicyResourceOptions(protect, [], None, [], PolicyCustomTimeouts(0, 0, 0), [])


def _validate_resource(policy: Any, r: Resource) -> list[str]:
    found: list[str] = []
    args = ResourceValidationArgs(r.type, r.props, r.urn, r.name, _opts(r.protect), None)
    policy.validate(args, lambda message, urn=None: found.append(message))
    return found


def _policy_resources(resources: list[Resource]) -> list[PolicyResource]:
    out = []
    for r in resources:
        props = dict(r.props)
        if r.type == rules.BUCKET:
            props["bucket"] = r.id  # a bucket's state carries its name
        out.append(PolicyResource(r.type, props, r.urn, r.name, _opts(r.protect), None, None, [], {}))
    return out


def _validate_stack(policy: Any, resources: list[Resource]) -> list[tuple[str | None, str]]:
    found: list[tuple[str | None, str]] = []
    policy.validate(StackValidationArgs(_policy_resources(resources)), lambda m, urn=None: found.append((urn, m)))
    return found


def test_pack_has_one_mandatory_policy_per_rule(pack: dict[str, Any]) -> None:
    assert set(pack) == {r.name for r in RESOURCE_RULES} | {r.name for r in STACK_RULES}
    assert {p.enforcement_level.value for p in pack.values()} == {"mandatory"}


@pytest.mark.parametrize("case_id", list(RESOURCE_CASES))
def test_pack_catches_broken_resource(case_id: str, pack: dict[str, Any]) -> None:
    case = RESOURCE_CASES[case_id]
    assert _validate_resource(pack[case.rule], case.broken)
    assert _validate_resource(pack[case.rule], case.good) == []


def test_pack_passes_the_real_prod_program(pack: dict[str, Any], prod_run: ProgramRun) -> None:
    resources = prod_run.rule_resources()
    for r in resources:
        for name, policy in pack.items():
            if name in {rule.name for rule in RESOURCE_RULES}:
                assert _validate_resource(policy, r) == [], f"{name} on {r.name}"
    for rule in STACK_RULES:
        assert _validate_stack(pack[rule.name], resources) == []


@pytest.mark.parametrize("rule_name", list(STACK_BREAKERS))
def test_pack_catches_broken_bucket(rule_name: str, pack: dict[str, Any], prod_run: ProgramRun) -> None:
    good = prod_run.rule_resources()
    audio = next(r for r in good if r.type == rules.BUCKET and "-audio" in r.name)
    for breaker in STACK_BREAKERS[rule_name]:
        found = _validate_stack(pack[rule_name], breaker(good, audio))
        assert [urn for urn, _ in found] == [audio.urn]


def test_pack_matches_buckets_by_dependency_while_names_are_unknown(pack: dict[str, Any], prod_run: ProgramRun) -> None:
    """During a preview a new bucket's name is unknown; the pack links parts to buckets by property dependency."""
    good = prod_run.rule_resources()
    buckets = {r.id: r for r in good if r.type == rules.BUCKET}
    resources = []
    for r in _policy_resources(good):
        if r.resource_type == rules.BUCKET:
            r.props = {k: v for k, v in r.props.items() if k != "bucket"}
        elif r.props.get("bucket") in buckets:
            owner = buckets[r.props["bucket"]]
            r.property_dependencies = {
                "bucket": [PolicyResource(owner.type, {}, owner.urn, owner.name, _opts(False), None, None, [], {})]
            }
            r.props = {k: v for k, v in r.props.items() if k != "bucket"} | {"bucket": "<unknown>"}
        resources.append(r)
    found: list[tuple[str | None, str]] = []
    for rule in STACK_RULES:
        pack[rule.name].validate(StackValidationArgs(resources), lambda m, urn=None: found.append((urn, m)))
    assert found == []
    # ...and still catches a missing part.
    without_pab = [r for r in resources if r.resource_type != rules.PUBLIC_ACCESS_BLOCK]
    pack["s3-block-public-access"].validate(
        StackValidationArgs(without_pab), lambda m, urn=None: found.append((urn, m))
    )
    assert len(found) == len(buckets)
