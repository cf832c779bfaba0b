"""Spend and forecast from Cost Explorer: figures in status, requests bounded and shared."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from mlcost.api.v1alpha1.mlcostpolicy import MLCostPolicySpec, Scope
from mlcost.embedded.server import EmbeddedAws
from mlcost.reconcile.policy import PolicyReconciler
from mlcost.reconcile.results import ObjectRef
from tests.reconcile.conftest import Clock, ReconcilerFactory, policy_spec
from tests.reconcile.test_budget_lifecycle import REF, condition


def queue_month(aws: EmbeddedAws, clock: Clock, per_day: str, forecast_rest: str) -> Decimal:
    today = clock.now.date()
    start = today.replace(day=1)
    days = [start + timedelta(days=i) for i in range((today - start).days + 1)]
    aws.queue_cost_and_usage(
        [
            {
                "ResultsByTime": [
                    {
                        "TimePeriod": {"Start": d.isoformat(), "End": (d + timedelta(days=1)).isoformat()},
                        "Total": {"UnblendedCost": {"Amount": per_day, "Unit": "USD"}},
                    }
                    for d in days
                ]
            }
        ]
    )
    aws.queue_cost_forecast([{"Total": {"Amount": forecast_rest, "Unit": "USD"}}])
    return Decimal(per_day) * len(days)


def ce_requests(aws: EmbeddedAws) -> int:
    return sum(n for (service, _), n in aws.calls().items() if service == "ce")


def test_spend_forecast_and_utilisation_in_status(
    reconciler: PolicyReconciler, aws: EmbeddedAws, clock: Clock
) -> None:
    actual = queue_month(aws, clock, "40.00", "600.00")

    result = reconciler.reconcile(REF, policy_spec(), None)

    budget = result.status.budget
    assert budget is not None
    assert budget.actual_spend == actual
    # The forecast covers today onwards, so it replaces today's partial figure.
    assert budget.forecasted_spend == actual - Decimal("40.00") + Decimal("600.00")
    assert budget.utilization_percent == (actual * 100 / 5000).quantize(Decimal("0.01"))
    assert budget.last_updated == clock.now


def test_cost_explorer_asked_at_most_once_an_hour(
    reconciler: PolicyReconciler, aws: EmbeddedAws, clock: Clock
) -> None:
    queue_month(aws, clock, "40.00", "600.00")
    status = reconciler.reconcile(REF, policy_spec(), None).status
    first_requests = ce_requests(aws)
    assert first_requests == 2  # GetCostAndUsage + GetCostForecast

    for _ in range(5):
        clock.advance(timedelta(minutes=10))
        status = reconciler.reconcile(REF, policy_spec(), status).status
    assert ce_requests(aws) == first_requests
    assert status.budget is not None and status.budget.last_updated == clock.now - timedelta(minutes=50)

    clock.advance(timedelta(minutes=10))
    reconciler.reconcile(REF, policy_spec(), status)
    assert ce_requests(aws) == 2 * first_requests


def test_policies_asking_the_same_question_share_one_answer(
    reconciler: PolicyReconciler, aws: EmbeddedAws, clock: Clock
) -> None:
    queue_month(aws, clock, "40.00", "600.00")
    reconciler.reconcile(REF, policy_spec(), None)
    other = ObjectRef("team-fraud", "fraud-batch", generation=1)

    result = reconciler.reconcile(other, policy_spec(), None)

    assert ce_requests(aws) == 2
    assert result.status.budget is not None and result.status.budget.actual_spend is not None


def test_restart_reuses_the_figure_in_status(
    make_reconciler: ReconcilerFactory, aws: EmbeddedAws, clock: Clock
) -> None:
    queue_month(aws, clock, "40.00", "600.00")
    status = make_reconciler().reconcile(REF, policy_spec(), None).status
    aws.reset_calls()
    clock.advance(timedelta(minutes=5))

    restarted = make_reconciler().reconcile(REF, policy_spec(), status)

    assert ce_requests(aws) == 0
    assert restarted.status.budget == status.budget


def test_cost_explorer_denied_keeps_budget_synced(reconciler: PolicyReconciler, aws: EmbeddedAws) -> None:
    aws.inject_error("ce", "GetCostAndUsage", "AccessDeniedException", "not allowed", count=None)

    result = reconciler.reconcile(REF, policy_spec(), None)

    assert condition(result, "BudgetSynced")[0] == "True"
    assert condition(result, "Ready")[:2] == ("False", "AccessDenied")
    assert result.status.budget is not None and result.status.budget.actual_spend is None


def governed_spec() -> MLCostPolicySpec:
    """A policy whose budget filters on the cost-allocation tag `team` and that governs resources."""
    spec = policy_spec()
    return spec.model_copy(update={"scope": Scope(tags={"team": "fraud"})})


def ce_calls(aws: EmbeddedAws, operation: str) -> int:
    return aws.calls()[("ce", operation)]


def test_failed_tag_status_is_cached_and_said_in_status(
    reconciler: PolicyReconciler, aws: EmbeddedAws, clock: Clock
) -> None:
    queue_month(aws, clock, "40.00", "600.00")
    aws.inject_error("ce", "ListCostAllocationTags", "InternalServerException", "boom", count=None)

    status = None
    results = []
    for _ in range(6):  # an hour of 10-minute resyncs
        result = reconciler.reconcile(REF, governed_spec(), status)
        results.append(result)
        status = result.status
        clock.advance(timedelta(minutes=10))

    # One question, one failed ask (two attempts: the first and one retry), then nothing for the
    # hour: before, every sweep asked again with five attempts.
    assert ce_calls(aws, "ListCostAllocationTags") == 2
    state, reason, message = condition(results[-1], "CostAllocationTagsActive")
    assert (state, reason) == ("Unknown", "AwsUnavailable")
    assert message.startswith("Cannot tell whether tag(s) team are active cost-allocation tags")
    assert "asked again after" in message
    # Said once, when it started; Ready is about the operator's own job and stays True.
    warnings = [
        e.reason for r in results for e in r.outcome.events if e.reason == "CostAllocationTagsUnknown"
    ]
    assert warnings == ["CostAllocationTagsUnknown"]
    assert condition(results[-1], "Ready")[0] == "True"

    aws.clear_errors()
    aws.set_cost_allocation_tags([{"TagKey": "team", "Status": "Active"}])
    recovered = reconciler.reconcile(REF, governed_spec(), status)
    assert ce_calls(aws, "ListCostAllocationTags") == 3
    assert condition(recovered, "CostAllocationTagsActive")[:2] == ("True", "Active")


def test_failed_spend_counts_in_the_hourly_bound(
    reconciler: PolicyReconciler, aws: EmbeddedAws, clock: Clock
) -> None:
    aws.inject_error("ce", "GetCostAndUsage", "InternalServerException", "boom", count=None)

    status = None
    for _ in range(6):
        result = reconciler.reconcile(REF, policy_spec(), status)
        status = result.status
        clock.advance(timedelta(minutes=10))

    assert ce_calls(aws, "GetCostAndUsage") == 2  # one ask an hour, one retry
    assert condition(result, "Ready")[:2] == ("False", "AwsUnavailable")
    assert "asked again after" in condition(result, "Ready")[2]

    aws.clear_errors()
    queue_month(aws, clock, "40.00", "600.00")
    result = reconciler.reconcile(REF, policy_spec(), status)
    assert ce_calls(aws, "GetCostAndUsage") == 3
    assert result.status.budget is not None and result.status.budget.actual_spend is not None
