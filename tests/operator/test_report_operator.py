"""The real operator (kopf, `mlcost.handlers.main`) with an MLCostReport: kubectl apply, the status
a platform team reads, Events, an edit, and deletion (nothing to release in AWS)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

from mlcost.embedded.server import EmbeddedAws
from tests.kube.fake_api import FakeKubeAPI
from tests.kube.harness import RunOperator
from tests.operator.test_policy_operator import condition, ready_for
from tests.reconcile.conftest import Clock, mutating_calls
from tests.reconcile.test_report import PLAN_ID, seed_all, seed_plan

MODULE = "mlcost.handlers.main"
PLURAL = "mlcostreports"
NS, NAME = "mlcost-system", "sagemaker-showback"

REPORT: dict[str, Any] = {
    "apiVersion": "mlcost.io/v1alpha1",
    "kind": "MLCostReport",
    "metadata": {"name": NAME, "namespace": NS},
    "spec": {"showback": {"groupByTag": "team"}},
}


async def test_report_becomes_ready_with_showback_and_savings_plans(
    kube: FakeKubeAPI, run_operator: RunOperator, aws: EmbeddedAws
) -> None:
    clock = Clock(now=datetime.now(UTC))
    seed_all(aws, clock)
    seed_plan(aws, clock, ends_in=timedelta(days=10))  # so that a Warning Event is due

    async with run_operator(MODULE):
        kube.create(copy.deepcopy(REPORT))
        obj = await kube.wait_for(PLURAL, NS, NAME, ready_for(1), timeout=20)

        status = obj["status"]
        spend = status["spend"]
        assert spend["groupBy"] == "team" and spend["total"] == "100.00"
        assert sum(float(g["amount"]) for g in spend["groups"]) == 100.0
        assert {"group": "no team", "usage": "Processing", "amount": "7.67"} in spend["groups"]
        assert spend["untaggedPercent"] == "12.7" and "computedAt" in spend
        plans = status["savingsPlans"]
        assert [p["savingsPlanId"] for p in plans["plans"]] == [PLAN_ID]
        assert plans["utilizationPercent"] == "96.0" and plans["coveragePercent"] == "28.8"
        assert plans["recommendation"]["estimatedMonthlySavings"] == "350.00"
        assert condition(obj, "SavingsPlansHealthy")["reason"] == "PlanExpiring"
        assert condition(obj, "SpendRead")["status"] == "True"
        await kube.wait_until(lambda: bool(kube.events(name=NAME, reason="PlanExpiring")), timeout=10)

        kube.patch_spec(PLURAL, NS, NAME, {"showback": {"maxUntaggedPercent": "5"}})
        obj = await kube.wait_for(PLURAL, NS, NAME, ready_for(2), timeout=20)
        assert condition(obj, "UntaggedSpendLow")["reason"] == "UntaggedSpendHigh"
        await kube.wait_until(lambda: bool(kube.events(name=NAME, reason="UntaggedSpendHigh")), timeout=10)

        kube.delete(PLURAL, NS, NAME)
        await kube.wait_for(PLURAL, NS, NAME, lambda o: o is None, timeout=15)
    assert mutating_calls(aws) == {}


async def test_report_with_a_missing_permission_is_not_ready_and_says_which(
    kube: FakeKubeAPI, run_operator: RunOperator, aws: EmbeddedAws
) -> None:
    seed_all(aws, Clock(now=datetime.now(UTC)))
    aws.inject_error("savingsplans", "DescribeSavingsPlans", "AccessDeniedException", "denied", count=None)

    async with run_operator(MODULE):
        kube.create(copy.deepcopy(REPORT))
        obj = await kube.wait_for(PLURAL, NS, NAME, ready_for(1, "False"), timeout=20)

        assert condition(obj, "Ready")["reason"] == "AccessDenied"
        assert "savingsplans:DescribeSavingsPlans" in condition(obj, "SavingsPlansRead")["message"]
        assert obj["status"]["spend"]["total"] == "100.00"  # the rest is still reported
        await kube.wait_until(lambda: bool(kube.events(name=NAME, reason="AccessDenied")), timeout=10)
