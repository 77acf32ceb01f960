"""The security rules, written once as plain functions over a resource's type and properties.

Two callers: the mock-runtime tests (`tests/infra/`), which run them over every
resource the real program registers, and the CrossGuard pack (`policy/`),
which runs them during `pulumi preview --policy-pack policy`. Both speak the
engine's property names (camelCase), so one function serves both.

A rule returns the list of its violations (empty when the resource is fine).
Resource rules look at one resource; stack rules look at the relations
between resources (a bucket and its separate public-access-block, encryption,
ownership, policy and lifecycle resources). This module imports nothing from
pulumi, so the pack can load it without the program's dependencies.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from adapters.aws.permissions import POLLY_ACTIONS

# Actions that AWS does not scope to a resource, so `Resource: "*"` is the only
# way to grant them: Polly's two (used by the Lambda) and ECR's login token
# (used by the MQTT task's execution role to pull its image).
NO_RESOURCE_LEVEL_ACTIONS: frozenset[str] = frozenset({*POLLY_ACTIONS, "ecr:GetAuthorizationToken"})

BUCKET = "aws:s3/bucket:Bucket"
PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
OWNERSHIP = "aws:s3/bucketOwnershipControls:BucketOwnershipControls"
ENCRYPTION = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
CORS = "aws:s3/bucketCorsConfiguration:BucketCorsConfiguration"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
MANAGED_POLICY = "aws:iam/policy:Policy"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
TABLE = "aws:dynamodb/table:Table"
USER_POOL = "aws:cognito/userPool:UserPool"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
SECURITY_GROUP_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
DISTRIBUTION = "aws:cloudfront/distribution:Distribution"

PUBLIC_ACCESS_FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
ENCRYPTION_ALGORITHMS = frozenset({"AES256", "aws:kms", "aws:kms:dsse"})
# ARN resource parts that name every resource of a kind rather than one.
_ANY_NAMED = re.compile(r"\*|(table|userpool|log-group|repository|function|cluster|task-definition)[/:]\*")


@dataclass(frozen=True)
class Resource:
    """One resource as the rules see it: engine type, engine property names, options."""

    type: str
    name: str
    props: Mapping[str, Any]
    urn: str = ""
    protect: bool = False
    # The physical id (from the mock runtime; CrossGuard props carry `bucket` instead).
    id: str | None = None
    # URNs the resource's properties depend on (CrossGuard knows them even while names are unknown).
    depends_on: frozenset[str] = frozenset()


@dataclass(frozen=True)
class RuleContext:
    production: bool = False


ResourceCheck = Callable[[Resource, RuleContext], list[str]]
StackCheck = Callable[[Sequence[Resource], RuleContext], list[tuple[str, str]]]


@dataclass(frozen=True)
class ResourceRule:
    name: str
    description: str
    types: frozenset[str]
    check: ResourceCheck


@dataclass(frozen=True)
class StackRule:
    name: str
    description: str
    check: StackCheck = field(repr=False)


# --------------------------------------------------------------------------- IAM


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def _document(policy: Any) -> Mapping[str, Any]:
    if isinstance(policy, str):
        try:
            policy = json.loads(policy)
        except json.JSONDecodeError:
            return {"Statement": [{"Effect": "Allow", "Action": "<unreadable policy>", "Resource": "*"}]}
    return policy if isinstance(policy, Mapping) else {}


def _too_broad(resource: str) -> bool:
    if resource == "*":
        return True
    parts = resource.split(":", 5)
    return len(parts) == 6 and parts[0] == "arn" and bool(_ANY_NAMED.fullmatch(parts[5]))


def policy_violations(policy: Any) -> list[str]:
    """Why an IAM policy document grants more than one workload needs (empty: fine).

    Only `Allow` statements are judged: a `Deny` (like the TLS-only bucket
    statement, `s3:*` for `*`) can only take rights away.
    """
    problems: list[str] = []
    for i, stmt in enumerate(_as_list(_document(policy).get("Statement"))):
        if not isinstance(stmt, Mapping) or stmt.get("Effect") != "Allow":
            continue
        label = stmt.get("Sid") or f"statement {i}"
        for key in ("NotAction", "NotResource", "NotPrincipal"):
            if key in stmt:
                problems.append(f"{label}: Allow with {key} grants everything not listed")
        actions = [str(a) for a in _as_list(stmt.get("Action"))]
        for action in actions:
            if "*" in action:
                problems.append(f"{label}: wildcard action {action!r}")
        broad = [str(r) for r in _as_list(stmt.get("Resource")) if _too_broad(str(r))]
        if broad:
            unscoped = [a for a in actions if a not in NO_RESOURCE_LEVEL_ACTIONS]
            if unscoped or not actions:
                problems.append(f"{label}: resource {broad[0]!r} for {', '.join(unscoped) or 'no named action'}")
        principal = stmt.get("Principal")
        if principal == "*" or (isinstance(principal, Mapping) and "*" in _as_list(principal.get("AWS"))):
            problems.append(f"{label}: Allow to every principal")
    return problems


def check_iam(res: Resource, ctx: RuleContext) -> list[str]:
    props = res.props
    if res.type == ROLE:
        docs = [p.get("policy") for p in _as_list(props.get("inlinePolicies")) if isinstance(p, Mapping)]
        problems = [v for d in docs if d for v in policy_violations(d)]
        managed = [str(a) for a in _as_list(props.get("managedPolicyArns"))]
        problems += [f"AWS managed policy {a} is not least privilege" for a in managed if ":aws:policy/" in a]
        return problems
    return policy_violations(props.get("policy"))


# --------------------------------------------------------------------------- single resources


def check_log_retention(res: Resource, ctx: RuleContext) -> list[str]:
    days = res.props.get("retentionInDays")
    if not isinstance(days, int | float) or days <= 0:
        return ["log group keeps logs forever: set retentionInDays"]
    return []


def check_table_pitr(res: Resource, ctx: RuleContext) -> list[str]:
    if not ctx.production:
        return []
    pitr = res.props.get("pointInTimeRecovery") or {}
    return [] if pitr.get("enabled") is True else ["prod table without point-in-time recovery"]


def check_table_deletion_protection(res: Resource, ctx: RuleContext) -> list[str]:
    if not ctx.production:
        return []
    return [] if res.props.get("deletionProtectionEnabled") is True else ["prod table without deletion protection"]


def check_user_pool_deletion_protection(res: Resource, ctx: RuleContext) -> list[str]:
    if not ctx.production:
        return []
    ok = res.props.get("deletionProtection") == "ACTIVE"
    return [] if ok else ["prod user pool without deletion protection (deletionProtection=ACTIVE)"]


def check_data_protected(res: Resource, ctx: RuleContext) -> list[str]:
    if not ctx.production or res.protect:
        return []
    return [f"prod {res.type.rsplit(':', 1)[-1]} is not protected against `pulumi destroy`"]


def check_no_ingress(res: Resource, ctx: RuleContext) -> list[str]:
    if res.type == SECURITY_GROUP:
        rules = _as_list(res.props.get("ingress"))
        return [f"security group allows {len(rules)} inbound rule(s)"] if rules else []
    if res.type == SECURITY_GROUP_RULE and res.props.get("type") != "ingress":
        return []
    return ["inbound security group rule: nothing in this stack accepts connections"]


def check_cloudfront_https(res: Resource, ctx: RuleContext) -> list[str]:
    props = res.props
    problems: list[str] = []
    behaviours = [props.get("defaultCacheBehavior") or {}, *_as_list(props.get("orderedCacheBehaviors"))]
    for b in behaviours:
        policy = b.get("viewerProtocolPolicy")
        if policy not in ("https-only", "redirect-to-https"):
            problems.append(f"behaviour {b.get('pathPattern', 'default')!r} allows plain HTTP ({policy})")
    for origin in _as_list(props.get("origins")):
        custom = origin.get("customOriginConfig")
        if custom and custom.get("originProtocolPolicy") != "https-only":
            problems.append(f"origin {origin.get('originId')!r} is reached without TLS")
    return problems


# --------------------------------------------------------------------------- buckets (stack rules)


def _bucket_refs(bucket: Resource) -> set[str]:
    refs: set[str] = set()
    for value in (bucket.id, bucket.props.get("bucket"), bucket.props.get("id")):
        if isinstance(value, str) and value:
            refs.add(value)
    return refs


def _points_at(sub: Resource, bucket: Resource) -> bool:
    # Dependencies first: during a preview a new bucket's name is still unknown.
    if bucket.urn and bucket.urn in sub.depends_on:
        return True
    return sub.props.get("bucket") in _bucket_refs(bucket)


def _attached(resources: Sequence[Resource], bucket: Resource, type_: str) -> list[Resource]:
    return [r for r in resources if r.type == type_ and _points_at(r, bucket)]


def _each_bucket(
    resources: Sequence[Resource], type_: str, ok: Callable[[Resource], bool], missing: str
) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for bucket in (r for r in resources if r.type == BUCKET):
        if not any(ok(r) for r in _attached(resources, bucket, type_)):
            out.append((bucket.urn, f"bucket {bucket.name}: {missing}"))
    return out


def check_bucket_public_access(resources: Sequence[Resource], ctx: RuleContext) -> list[tuple[str, str]]:
    return _each_bucket(
        resources,
        PUBLIC_ACCESS_BLOCK,
        lambda r: all(r.props.get(flag) is True for flag in PUBLIC_ACCESS_FLAGS),
        "not all four Block Public Access settings are on",
    )


def check_bucket_ownership(resources: Sequence[Resource], ctx: RuleContext) -> list[tuple[str, str]]:
    def enforced(r: Resource) -> bool:
        rule = r.props.get("rule") or {}
        return rule.get("objectOwnership") == "BucketOwnerEnforced"

    return _each_bucket(resources, OWNERSHIP, enforced, "object ownership is not BucketOwnerEnforced (ACLs on)")


def check_bucket_encryption(resources: Sequence[Resource], ctx: RuleContext) -> list[tuple[str, str]]:
    def encrypted(r: Resource) -> bool:
        rules = _as_list(r.props.get("rules"))
        algos = [(x.get("applyServerSideEncryptionByDefault") or {}).get("sseAlgorithm") for x in rules]
        return any(a in ENCRYPTION_ALGORITHMS for a in algos)

    return _each_bucket(resources, ENCRYPTION, encrypted, "no default server-side encryption")


def denies_plain_http(policy: Any) -> bool:
    """True when the bucket policy has a Deny for every principal on aws:SecureTransport=false."""
    for stmt in _as_list(_document(policy).get("Statement")):
        if not isinstance(stmt, Mapping) or stmt.get("Effect") != "Deny":
            continue
        cond = (stmt.get("Condition") or {}).get("Bool") or {}
        actions = _as_list(stmt.get("Action"))
        if str(cond.get("aws:SecureTransport")).lower() == "false" and ("s3:*" in actions or "*" in actions):
            return True
    return False


def check_bucket_tls_only(resources: Sequence[Resource], ctx: RuleContext) -> list[tuple[str, str]]:
    return _each_bucket(
        resources,
        BUCKET_POLICY,
        lambda r: denies_plain_http(r.props.get("policy")),
        "bucket policy does not deny requests without TLS",
    )


def check_bucket_abort_uploads(resources: Sequence[Resource], ctx: RuleContext) -> list[tuple[str, str]]:
    def aborts(r: Resource) -> bool:
        for rule in _as_list(r.props.get("rules")):
            abort = rule.get("abortIncompleteMultipartUpload") or {}
            if rule.get("status") == "Enabled" and abort.get("daysAfterInitiation"):
                return True
        return False

    return _each_bucket(resources, LIFECYCLE, aborts, "incomplete multipart uploads are never cleaned up")


# A staged upload nobody completes must not be kept (and paid for) longer than this.
MAX_STAGING_DAYS = 7


def _rule_prefix(rule: Mapping[str, Any]) -> str:
    """The key prefix one lifecycle rule applies to ('' = the whole bucket)."""
    filt = rule.get("filter") or {}
    prefix = filt.get("prefix") or (filt.get("and") or {}).get("prefix") or rule.get("prefix") or ""
    return str(prefix)


def check_lifecycle_expiry_scoped(res: Resource, ctx: RuleContext) -> list[str]:
    problems: list[str] = []
    for rule in _as_list(res.props.get("rules")):
        if rule.get("status") == "Enabled" and rule.get("expiration") and not _rule_prefix(rule):
            problems.append(f"lifecycle rule {rule.get('id')!r} expires every current object in the bucket")
    return problems


def check_bucket_expires_staged_uploads(resources: Sequence[Resource], ctx: RuleContext) -> list[tuple[str, str]]:
    """A bucket the browser uploads into (CORS allows POST or PUT) expires its staging prefix."""
    out: list[tuple[str, str]] = []
    for bucket in (r for r in resources if r.type == BUCKET):
        cors_rules = [c for r in _attached(resources, bucket, CORS) for c in _as_list(r.props.get("corsRules"))]
        if not any({"POST", "PUT"} & set(_as_list(c.get("allowedMethods"))) for c in cors_rules):
            continue
        expiring = [
            rule
            for life in _attached(resources, bucket, LIFECYCLE)
            for rule in _as_list(life.props.get("rules"))
            if rule.get("status") == "Enabled"
            and _rule_prefix(rule).endswith("/")
            and 0 < ((rule.get("expiration") or {}).get("days") or 0) <= MAX_STAGING_DAYS
        ]
        if not expiring:
            out.append(
                (
                    bucket.urn,
                    f"bucket {bucket.name}: accepts uploads but no lifecycle rule expires a staging prefix "
                    f"within {MAX_STAGING_DAYS} days",
                )
            )
    return out


# --------------------------------------------------------------------------- the rule sets

RESOURCE_RULES: tuple[ResourceRule, ...] = (
    ResourceRule(
        "iam-least-privilege",
        "No wildcard actions, no Resource '*' beyond actions AWS cannot scope (Polly, ECR login), no public Allow.",
        frozenset({ROLE, ROLE_POLICY, MANAGED_POLICY, BUCKET_POLICY}),
        check_iam,
    ),
    ResourceRule(
        "log-group-retention", "Every log group has a retention period.", frozenset({LOG_GROUP}), check_log_retention
    ),
    ResourceRule(
        "prod-table-pitr", "Prod DynamoDB tables have point-in-time recovery.", frozenset({TABLE}), check_table_pitr
    ),
    ResourceRule(
        "prod-table-deletion-protection",
        "Prod DynamoDB tables have deletion protection.",
        frozenset({TABLE}),
        check_table_deletion_protection,
    ),
    ResourceRule(
        "prod-user-pool-deletion-protection",
        "Prod Cognito user pools have deletion protection.",
        frozenset({USER_POOL}),
        check_user_pool_deletion_protection,
    ),
    ResourceRule(
        "prod-data-protected",
        "In prod, tables, user pools and buckets are protected (and retained) against stack destroy.",
        frozenset({TABLE, USER_POOL, BUCKET}),
        check_data_protected,
    ),
    ResourceRule(
        "no-ingress",
        "No security group accepts inbound traffic (the MQTT task only dials out).",
        frozenset({SECURITY_GROUP, SECURITY_GROUP_RULE, INGRESS_RULE}),
        check_no_ingress,
    ),
    ResourceRule(
        "s3-expiry-scoped",
        "No lifecycle rule expires a bucket's current objects outside a key prefix (that would delete the audio).",
        frozenset({LIFECYCLE}),
        check_lifecycle_expiry_scoped,
    ),
    ResourceRule(
        "cloudfront-https-only",
        "CloudFront serves viewers over HTTPS only and reaches custom origins over TLS.",
        frozenset({DISTRIBUTION}),
        check_cloudfront_https,
    ),
)

STACK_RULES: tuple[StackRule, ...] = (
    StackRule(
        "s3-block-public-access",
        "Every bucket has all four Block Public Access settings on.",
        check_bucket_public_access,
    ),
    StackRule("s3-owner-enforced", "Every bucket disables ACLs (BucketOwnerEnforced).", check_bucket_ownership),
    StackRule("s3-encryption", "Every bucket has default server-side encryption.", check_bucket_encryption),
    StackRule("s3-tls-only", "Every bucket's policy denies requests without TLS.", check_bucket_tls_only),
    StackRule(
        "s3-abort-incomplete-uploads", "Every bucket aborts incomplete multipart uploads.", check_bucket_abort_uploads
    ),
    StackRule(
        "s3-expire-staged-uploads",
        f"Every bucket that accepts browser uploads expires its staging prefix within {MAX_STAGING_DAYS} days.",
        check_bucket_expires_staged_uploads,
    ),
)


def evaluate(resources: Iterable[Resource], ctx: RuleContext) -> dict[str, list[str]]:
    """Run every rule over a whole stack: rule name -> violations (only rules that found some)."""
    items = list(resources)
    found: dict[str, list[str]] = {}
    for rule in RESOURCE_RULES:
        for res in items:
            if res.type in rule.types:
                found.setdefault(rule.name, []).extend(f"{res.name}: {v}" for v in rule.check(res, ctx))
    for stack_rule in STACK_RULES:
        found.setdefault(stack_rule.name, []).extend(msg for _, msg in stack_rule.check(items, ctx))
    return {name: msgs for name, msgs in found.items() if msgs}
