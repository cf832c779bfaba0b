"""Many policies reconciled at once share one Cost Explorer and one STS request per question."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from mlcost.api.v1alpha1.mlcostpolicy import MLCostPolicySpec, Scope
from mlcost.embedded.server import EmbeddedAws
from mlcost.reconcile.policy import PolicyReconciler, PolicyResult
from mlcost.reconcile.results import ObjectRef
from tests.reconcile.conftest import Clock, policy_spec
from tests.reconcile.test_budget_lifecycle import condition
from tests.reconcile.test_spend import queue_month

# The operator's kopf workers are threads; more of them than policies per question would race.
WORKERS = 16


def spec_of(index: int) -> MLCostPolicySpec:
    """A policy of its own budget, asking the same spend and tag questions as every other."""
    spec = policy_spec(name=f"team-fraud-ml-{index}")
    return spec.model_copy(update={"scope": Scope(tags={"team": "fraud"})})


@pytest.mark.parametrize("policies", [50, 200])
def test_concurrent_policies_ask_each_question_once(
    policies: int, reconciler: PolicyReconciler, aws: EmbeddedAws, clock: Clock
) -> None:
    actual = queue_month(aws, clock, "40.00", "600.00")
    aws.set_cost_allocation_tags([{"TagKey": "team", "Status": "Active"}])
    aws.reset_calls()

    def reconcile(index: int) -> PolicyResult:
        ref = ObjectRef("team-fraud", f"policy-{index}", generation=1)
        return reconciler.reconcile(ref, spec_of(index), None)

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        results = list(pool.map(reconcile, range(policies)))

    calls = aws.calls()
    # Before single-flight each of these went out about once per worker that missed at once.
    assert calls[("ce", "GetCostAndUsage")] == 1
    assert calls[("ce", "GetCostForecast")] == 1
    assert calls[("ce", "ListCostAllocationTags")] == 1
    assert calls[("sts", "GetCallerIdentity")] == 1
    assert calls[("budgets", "CreateBudget")] == policies
    for result in results:
        assert condition(result, "Ready")[0] == "True", condition(result, "Ready")
        assert result.status.budget is not None and result.status.budget.actual_spend == actual
        assert condition(result, "CostAllocationTagsActive")[:2] == ("True", "Active")
