"""`mlcost plan`: what the operator would change in AWS for a set of manifests, changing nothing."""

from __future__ import annotations

import os
from datetime import timedelta

from mlcost.api.v1alpha1 import MLCostPolicy, MLCostReport
from mlcost.api.v1alpha1.mlcostpolicy import PolicyMode
from mlcost.aws.session import AwsSessions
from mlcost.config import Config
from mlcost.domain.spend import SpendCache
from mlcost.manifests import Manifest
from mlcost.reconcile.policy import PolicyReconciler, PolicyResult
from mlcost.reconcile.results import ObjectRef
from mlcost.reconcile.rightsizing import RightsizingReconciler
from mlcost.report import plan_lines, rightsizing_plan_lines

EXIT_OK, EXIT_ERROR, EXIT_CHANGES = 0, 1, 2


def plan_manifests(manifests: list[Manifest], *, region: str | None, endpoint_url: str | None) -> int:
    """Print each object's pending changes; 0 = none, 2 = changes pending, 1 = an error."""
    config = Config.from_env()
    sessions = AwsSessions(
        default_region=region or config.aws_region,
        endpoint_url=endpoint_url or config.aws_endpoint_url or os.environ.get("AWS_ENDPOINT_URL"),
        max_attempts=config.aws_max_attempts,
    )
    reconciler = PolicyReconciler(sessions, SpendCache(timedelta(hours=1)))
    rightsizings = RightsizingReconciler(sessions, lambda: reconciler.governance.catalogue)
    code = EXIT_OK
    for manifest in manifests:
        ref = ObjectRef(manifest.metadata.namespace, manifest.metadata.name, generation=1)
        if isinstance(manifest, MLCostReport):
            # A report only reads Cost Explorer and Savings Plans: there is never a change to plan,
            # and reading would cost $0.01 a request for nothing a pull request needs.
            print(f"MLCostReport {ref.key}: read-only (showback and Savings Plans), nothing to change")
            continue
        if not isinstance(manifest, MLCostPolicy):
            sized = rightsizings.reconcile(ref, manifest.spec, None, dry_run=True)
            for line in rightsizing_plan_lines(ref, sized, manifest.spec.mode):
                print(f"EndpointRightsizing {line}")
            if sized.outcome.error:
                code = EXIT_ERROR
            elif sized.actions and code == EXIT_OK:
                code = EXIT_CHANGES
            continue
        result = reconciler.reconcile(ref, manifest.spec, None, dry_run=True, read_spend=False)
        for line in plan_lines(ref, result, manifest.spec.mode):
            print(f"MLCostPolicy {line}")
        if result.outcome.error or (result.budget and result.budget.plan and result.budget.plan.blocker):
            code = EXIT_ERROR
        elif _changes_pending(result, manifest.spec.mode) and code == EXIT_OK:
            code = EXIT_CHANGES
    return code


def _changes_pending(result: PolicyResult, mode: PolicyMode) -> bool:
    """Budget changes always count; governance actions only where Enforce would take them."""
    if result.budget and result.budget.plan and result.budget.plan.changes:
        return True
    return bool(mode is PolicyMode.ENFORCE and result.governance and result.governance.plan.actions)
