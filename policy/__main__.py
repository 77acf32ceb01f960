"""CrossGuard policy pack: the rules of `infra/rules.py`, enforced during `pulumi preview/up`.

    pulumi preview --policy-pack policy

The policies are built by `build_policies()` so the tests can call each
policy's `validate` without the Pulumi CLI; constructing the `PolicyPack`
itself starts the analyzer's gRPC server and blocks, so that happens only
when the CLI runs this file as `__main__`.

Whether a stack holds a family's data (and so must have PITR, deletion
protection and protected resources) is decided from the stack name, with the
same function the program uses (`infra.config.is_production_stack`).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from pulumi_policy import (  # noqa: E402 - after the path set-up above
    EnforcementLevel,
    Policy,
    PolicyPack,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from infra.config import is_production_stack  # noqa: E402
from infra.rules import RESOURCE_RULES, STACK_RULES, Resource, ResourceRule, RuleContext, StackRule  # noqa: E402

PACK_NAME = "yoto-smart-stream-security"


def _context(stack: str | None) -> RuleContext:
    name = stack if stack is not None else os.environ.get("PULUMI_STACK", "")
    return RuleContext(production=is_production_stack(name))


def _protected(opts: Any) -> bool:
    return bool(getattr(opts, "protect", False))


def _resource_policy(rule: ResourceRule, stack: str | None) -> ResourceValidationPolicy:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        if args.resource_type not in rule.types:
            return
        res = Resource(args.resource_type, args.name, args.props, urn=args.urn, protect=_protected(args.opts))
        for message in rule.check(res, _context(stack)):
            report_violation(message, None)

    return ResourceValidationPolicy(
        name=rule.name,
        description=rule.description,
        validate=validate,
        enforcement_level=EnforcementLevel.MANDATORY,
    )


def _stack_policy(rule: StackRule, stack: str | None) -> StackValidationPolicy:
    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        resources = []
        for r in args.resources:
            deps = {d.urn for d in (getattr(r, "property_dependencies", None) or {}).get("bucket", [])}
            protect = _protected(r.opts)
            resources.append(
                Resource(r.resource_type, r.name, r.props, urn=r.urn, protect=protect, depends_on=frozenset(deps))
            )
        for urn, message in rule.check(resources, _context(stack)):
            report_violation(message, urn)

    return StackValidationPolicy(
        name=rule.name,
        description=rule.description,
        validate=validate,
        enforcement_level=EnforcementLevel.MANDATORY,
    )


def build_policies(stack: str | None = None) -> list[Policy]:
    """One CrossGuard policy per rule. `stack` overrides PULUMI_STACK (tests)."""
    policies: list[Policy] = [_resource_policy(rule, stack) for rule in RESOURCE_RULES]
    policies += [_stack_policy(rule, stack) for rule in STACK_RULES]
    return policies


if __name__ == "__main__":
    PolicyPack(name=PACK_NAME, policies=build_policies(), enforcement_level=EnforcementLevel.MANDATORY)
