"""`mlcost plan`: what the operator would change in AWS for a set of manifests, changing nothing."""

from __future__ import annotations

import logging
import os
from datetime import timedelta
from pathlib import Path

from mlcost.api.v1alpha1 import MLCostPolicy, MLCostReport
from mlcost.api.v1alpha1.endpointrightsizing import EndpointRightsizing
from mlcost.api.v1alpha1.mlcostpolicy import PolicyMode
from mlcost.aws.config_cache import FileConfigStore
from mlcost.aws.session import AwsSessions, AwsTarget
from mlcost.config import Config
from mlcost.domain.governance import needs_endpoint_configs
from mlcost.domain.spend import SpendCache
from mlcost.manifests import Manifest
from mlcost.plan_output import DEFAULT_MAX_FINDINGS, ObjectPlan, all_findings, render_json, render_markdown
from mlcost.reconcile.policy import PolicyReconciler, PolicyResult
from mlcost.reconcile.results import ObjectRef
from mlcost.reconcile.rightsizing import RightsizingReconciler, RightsizingResult
from mlcost.report import plan_lines, rightsizing_plan_lines

EXIT_OK, EXIT_ERROR, EXIT_CHANGES = 0, 1, 2

log = logging.getLogger(__name__)


def plan_manifests(
    manifests: list[Manifest],
    *,
    region: str | None,
    endpoint_url: str | None,
    output: str = "text",
    max_findings: int = DEFAULT_MAX_FINDINGS,
    cache_dir: Path | None = None,
    endpoint_configs: str | None = None,
) -> int:
    """Print each object's pending changes; 0 = none, 2 = changes pending, 1 = an error.

    The exit code is the same for every output format, so a CI job can branch on it alone.
    Endpoint configs described are kept in `cache_dir` (None: kept nowhere), so that the next
    plan of the same account describes only new ones.
    """
    config = Config.from_env()
    sessions = AwsSessions(
        default_region=region or config.aws_region,
        endpoint_url=endpoint_url or config.aws_endpoint_url or os.environ.get("AWS_ENDPOINT_URL"),
        max_attempts=config.aws_max_attempts,
    )
    reconciler = PolicyReconciler(
        sessions,
        SpendCache(timedelta(hours=1)),
        config_store=FileConfigStore(cache_dir) if cache_dir else None,
        always_describe_configs=(endpoint_configs or config.endpoint_configs) == "always",
        describe_concurrency=config.describe_concurrency,
        describe_rate=config.describe_rate,
    )
    rightsizings = RightsizingReconciler(sessions, lambda: reconciler.governance.catalogue)
    # Policies whose rules need endpoint configs first: their inventory read (configs included)
    # then serves the tag-only ones of the same account, which would otherwise have read its
    # pages without configs, only for the next policy to read them all again. Printed in order.
    order = sorted(range(len(manifests)), key=lambda i: not _needs_configs(manifests[i]))
    by_index: dict[int, ObjectPlan] = {}
    code = EXIT_OK
    for index in order:
        manifest = manifests[index]
        ref = ObjectRef(manifest.metadata.namespace, manifest.metadata.name, generation=1)
        if isinstance(manifest, MLCostReport):
            # A report only reads Cost Explorer and Savings Plans: there is never a change to plan,
            # and reading would cost $0.01 a request for nothing a pull request needs.
            by_index[index] = ObjectPlan(
                "MLCostReport",
                ref.namespace,
                ref.name,
                outcome="ReadOnly",
                text=[f"MLCostReport {ref.key}: read-only (showback and Savings Plans), nothing to change"],
            )
            continue
        if isinstance(manifest, EndpointRightsizing):
            target = rightsizings.target(manifest.spec)
            sized = rightsizings.reconcile(ref, manifest.spec, None, dry_run=True)
            plan = _rightsizing_plan(ref, manifest, sized, target, max_findings)
        else:
            target = reconciler.target(manifest.spec)
            result = reconciler.reconcile(ref, manifest.spec, None, dry_run=True, read_spend=False)
            plan = _policy_plan(ref, manifest, result, target, max_findings)
        plan.account = _account(sessions, target)
        by_index[index] = plan
        if plan.outcome == "Error":
            code = EXIT_ERROR
        elif plan.outcome == "ChangesPending" and code == EXIT_OK:
            code = EXIT_CHANGES
    plans = [by_index[i] for i in range(len(manifests))]
    if output == "json":
        print(render_json(plans, code, max_findings))
    elif output == "markdown":
        print(render_markdown(plans, code, max_findings))
    else:
        for plan in plans:
            for line in plan.text:
                print(line)
    return code


def _needs_configs(manifest: Manifest) -> bool:
    return isinstance(manifest, MLCostPolicy) and needs_endpoint_configs(manifest.spec)


def _account(sessions: AwsSessions, target: AwsTarget) -> str | None:
    """The account acted in: from the role ARN, else STS (asked once per role, already by a sweep)."""
    if target.role_arn:
        return target.role_arn.split(":")[4] or None
    try:
        return sessions.account_id(target)
    except Exception as error:  # the account is informative: the plan stands without it
        log.warning("mlcost plan: account unknown: %s", error)
        return None


def _policy_plan(
    ref: ObjectRef, manifest: MLCostPolicy, result: PolicyResult, target: AwsTarget, max_findings: int
) -> ObjectPlan:
    spec, mode = manifest.spec, manifest.spec.mode
    findings = all_findings(spec, result.governance) if result.governance else []
    plan = ObjectPlan(
        "MLCostPolicy",
        ref.namespace,
        ref.name,
        region=target.region,
        role_arn=target.role_arn,
        mode=mode.value,
        findings=findings,
        evaluated=result.governance.compliance.evaluated if result.governance else None,
        text=[
            f"MLCostPolicy {line}"
            for line in plan_lines(ref, result, mode, findings=findings, max_findings=max_findings)
        ],
    )
    budget = result.budget.plan if result.budget else None
    if result.outcome.error:
        plan.outcome, plan.error = "Error", result.outcome.error.message
        return plan
    if budget and budget.blocker:
        plan.outcome, plan.error = "Error", f"{budget.blocker.value}: {budget.blocker_message}"
        return plan
    if budget:
        plan.changes += [
            {"action": c.kind.value, "target": f"budget {budget.desired.name}", "detail": c.detail}
            for c in budget.changes
        ]
    if mode is PolicyMode.ENFORCE and result.governance:
        plan.changes += [
            {
                "action": a.kind.value,
                "target": f"{a.resource.type.value} {a.resource.name}",
                "detail": a.detail,
            }
            for a in result.governance.plan.actions
        ]
    if _changes_pending(result, mode):
        plan.outcome = "ChangesPending"
    return plan


def _rightsizing_plan(
    ref: ObjectRef,
    manifest: EndpointRightsizing,
    sized: RightsizingResult,
    target: AwsTarget,
    max_findings: int,
) -> ObjectPlan:
    plan = ObjectPlan(
        "EndpointRightsizing",
        ref.namespace,
        ref.name,
        region=target.region,
        role_arn=target.role_arn,
        mode=manifest.spec.mode.value,
        text=[
            f"EndpointRightsizing {line}" for line in rightsizing_plan_lines(ref, sized, manifest.spec.mode)
        ],
        changes=[
            {"action": "UpdateEndpoint", "target": f"Endpoint {manifest.spec.endpoint_name}", "detail": a}
            for a in sized.actions
        ],
    )
    for variant in sized.status.variants or []:
        current, rec = variant.current, variant.recommendation
        plan.recommendations.append(
            {
                "variant": variant.name,
                "outcome": variant.outcome,
                "current": f"{current.instance_type} x{current.instance_count}" if current else None,
                "currentMonthlyCost": _money(current.monthly_cost if current else None),
                "recommended": f"{rec.instance_type} x{rec.instance_count}" if rec else None,
                "monthlySavings": _money(rec.monthly_savings if rec else None),
                "reason": variant.reason,
            }
        )
    if sized.outcome.error:
        plan.outcome, plan.error = "Error", sized.outcome.error.message
    elif sized.actions:
        plan.outcome = "ChangesPending"
    return plan


def _money(value: object) -> str | None:
    return None if value is None else str(value)


def _changes_pending(result: PolicyResult, mode: PolicyMode) -> bool:
    """Budget changes always count; governance actions only where Enforce would take them."""
    if result.budget and result.budget.plan and result.budget.plan.changes:
        return True
    return bool(mode is PolicyMode.ENFORCE and result.governance and result.governance.plan.actions)
