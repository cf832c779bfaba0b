"""The metrics a Grafana dashboard reads after a reconcile, with the names API.md fixes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from mlcost.api.v1alpha1.mlcostpolicy import MLCostPolicySpec
from mlcost.domain.enforcement import ActionKind
from mlcost.domain.spend import SpendCache
from mlcost.embedded.server import EmbeddedAws
from mlcost.metrics import Metrics, record_policy_result, record_report_result, record_rightsizing_result
from mlcost.reconcile.report import ReportReconciler
from mlcost.reconcile.rightsizing import RightsizingReconciler
from tests.reconcile.conftest import Clock, ReconcilerFactory, policy_spec
from tests.reconcile.test_budget_lifecycle import REF
from tests.reconcile.test_rightsizing import REF as REF_EPR
from tests.reconcile.test_rightsizing import sagemaker, scorer, spec
from tests.reconcile.test_spend import queue_month

__all__ = ["sagemaker", "scorer"]  # fixtures


def samples(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = generate_latest(metrics.registry).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_budget_and_aws_call_metrics(
    make_reconciler: ReconcilerFactory, aws: EmbeddedAws, clock: object
) -> None:
    metrics = Metrics()
    reconciler = make_reconciler(recorder=metrics)
    actual = queue_month(aws, clock, "10.00", "100.00")  # type: ignore[arg-type]
    aws.inject_error("budgets", "CreateBudget", "ThrottlingException", "slow down", count=1)

    result = reconciler.reconcile(REF, policy_spec(), None)
    metrics.set_budget(REF.namespace, REF.name, result.status.budget)

    found = samples(metrics)
    labels = (
        ("budget", "team-fraud-fraud-detection"),
        ("namespace", "team-fraud"),
        ("policy", "fraud-detection"),
    )
    assert found[("mlcost_budget_limit_usd", labels)] == 5000
    assert found[("mlcost_budget_actual_spend_usd", labels)] == float(actual)
    assert ("mlcost_budget_forecasted_spend_usd", labels) in found
    call = (("operation", "CreateBudget"), ("outcome", "success"), ("service", "budgets"))
    assert found[("mlcost_aws_api_calls_total", call)] == 1
    assert found[("mlcost_aws_throttles_total", (("operation", "CreateBudget"), ("service", "budgets")))] == 1

    metrics.forget_policy(REF.namespace, REF.name)
    assert ("mlcost_budget_limit_usd", labels) not in samples(metrics)


def test_endpoint_cost_metrics(make_reconciler: ReconcilerFactory, aws: EmbeddedAws, scorer: None) -> None:
    metrics = Metrics()
    policies = make_reconciler(recorder=metrics)
    rightsizing = RightsizingReconciler(policies.sessions, lambda: policies.governance.catalogue)

    result = rightsizing.reconcile(REF_EPR, spec(candidates={"instanceTypes": ["ml.c5.xlarge"]}), None)
    record_rightsizing_result(metrics, REF_EPR.namespace, REF_EPR.name, result, 0.1)

    found = samples(metrics)
    labels = (
        ("endpoint", "fraud-scorer"),
        ("namespace", "team-fraud"),
        ("rightsizing", "fraud-scorer"),
        ("variant", "AllTraffic"),
    )
    assert found[("mlcost_endpoint_hourly_cost_usd", labels)] == 0.816
    assert found[("mlcost_endpoint_recommended_hourly_cost_usd", labels)] == 0.204
    assert found[("mlcost_endpoint_monthly_savings_usd", labels)] == 446.76
    assert found[("mlcost_reconcile_total", (("kind", "EndpointRightsizing"), ("outcome", "success")))] == 1


def test_every_object_has_a_ready_series_until_it_is_deleted(
    make_reconciler: ReconcilerFactory, aws: EmbeddedAws, clock: object, scorer: None
) -> None:
    """mlcost_object_ready feeds the dashboard's $namespace: a budget-only policy counts too."""
    metrics = Metrics()
    policies = make_reconciler(recorder=metrics)
    queue_month(aws, clock, "10.00", "100.00")  # type: ignore[arg-type]
    record_policy_result(metrics, REF.namespace, REF.name, policies.reconcile(REF, policy_spec(), None), 0.1)
    rightsizing = RightsizingReconciler(policies.sessions, lambda: policies.governance.catalogue)
    sized = rightsizing.reconcile(REF_EPR, spec(candidates={"instanceTypes": ["ml.c5.xlarge"]}), None)
    record_rightsizing_result(metrics, REF_EPR.namespace, REF_EPR.name, sized, 0.1)

    found = samples(metrics)
    policy = (
        "mlcost_object_ready",
        (("kind", "MLCostPolicy"), ("name", REF.name), ("namespace", REF.namespace)),
    )
    epr = (
        "mlcost_object_ready",
        (("kind", "EndpointRightsizing"), ("name", REF_EPR.name), ("namespace", REF_EPR.namespace)),
    )
    assert found[policy] == 1
    assert found[epr] == 1

    metrics.forget_policy(REF.namespace, REF.name)
    found = samples(metrics)
    assert policy not in found
    assert found[epr] == 1


def test_an_object_that_is_not_ready_reads_0(make_reconciler: ReconcilerFactory, aws: EmbeddedAws) -> None:
    metrics = Metrics()
    reconciler = make_reconciler(recorder=metrics, max_attempts=1)
    aws.inject_error("budgets", "DescribeBudget", "AccessDeniedException", "not allowed", count=10)

    result = reconciler.reconcile(REF, policy_spec(), None)
    record_policy_result(metrics, REF.namespace, REF.name, result, 0.1)

    assert not result.ready
    key = (
        "mlcost_object_ready",
        (("kind", "MLCostPolicy"), ("name", REF.name), ("namespace", REF.namespace)),
    )
    assert samples(metrics)[key] == 0


def action(name: str, outcome: str = "success") -> tuple[str, tuple[tuple[str, str], ...]]:
    labels = (("action", name), ("namespace", REF.namespace), ("outcome", outcome), ("policy", REF.name))
    return ("mlcost_actions_total", labels)


def test_actions_start_at_zero_so_the_first_one_shows_in_increase(
    make_reconciler: ReconcilerFactory, aws: EmbeddedAws, sagemaker: Any
) -> None:
    """increase() needs a sample before the first action: every known action is exported at 0."""
    metrics = Metrics()
    reconciler = make_reconciler(recorder=metrics, inventory_max_age=timedelta(0))
    enforce = MLCostPolicySpec.model_validate(
        {
            "mode": "Enforce",
            "scope": {"tags": {"team": "fraud"}},
            "notebooks": {"allowedInstanceTypes": ["ml.t3.medium"]},
            "enforcement": {"gracePeriod": "1h"},
        }
    )

    first = reconciler.reconcile(REF, enforce, None)
    record_policy_result(metrics, REF.namespace, REF.name, first, 0.1)
    before = samples(metrics)
    assert {before[action(kind.value)] for kind in ActionKind} == {0}
    assert action("BudgetChange") not in before  # no budget in this policy, no budget action

    sagemaker.create_notebook_instance(
        NotebookInstanceName="fraud-gpu",
        InstanceType="ml.m5.xlarge",
        RoleArn="arn:aws:iam::123456789012:role/sm",
        Tags=[{"Key": "team", "Value": "fraud"}],
    )
    second = reconciler.reconcile(REF, enforce, first.status)
    record_policy_result(metrics, REF.namespace, REF.name, second, 0.1)

    after = samples(metrics)
    assert after[action("Marked")] == 1  # 0 -> 1: increase() over the two scrapes is 1
    assert after[action("Stopped")] == 0

    metrics.forget_policy(REF.namespace, REF.name)
    assert not [key for key in samples(metrics) if key[0] == "mlcost_actions_total"]


def test_budget_and_rightsizing_actions_start_at_zero(
    make_reconciler: ReconcilerFactory, aws: EmbeddedAws, clock: object, scorer: None
) -> None:
    metrics = Metrics()
    policies = make_reconciler(recorder=metrics, max_attempts=1)
    # The first reconcile cannot reach AWS Budgets: the budget's action series is there anyway.
    aws.inject_error("budgets", "DescribeBudget", "AccessDeniedException", "not allowed", count=1)
    failed = policies.reconcile(REF, policy_spec(), None)
    record_policy_result(metrics, REF.namespace, REF.name, failed, 0.1)
    assert not failed.ready
    assert samples(metrics)[action("BudgetChange")] == 0
    assert action("Stopped") not in samples(metrics)  # a budget-only policy governs nothing

    queue_month(aws, clock, "10.00", "100.00")  # type: ignore[arg-type]
    created = policies.reconcile(REF, policy_spec(), failed.status)
    record_policy_result(metrics, REF.namespace, REF.name, created, 0.1)
    assert samples(metrics)[action("BudgetChange")] == 1  # the creation, seen by increase()

    rightsizing = RightsizingReconciler(policies.sessions, lambda: policies.governance.catalogue)
    sized = rightsizing.reconcile(REF_EPR, spec(candidates={"instanceTypes": ["ml.c5.xlarge"]}), None)
    record_rightsizing_result(metrics, REF_EPR.namespace, REF_EPR.name, sized, 0.1)
    rollout = (
        ("action", "EndpointRollout"),
        ("namespace", REF_EPR.namespace),
        ("outcome", "success"),
        ("policy", REF_EPR.name),
    )
    assert samples(metrics)[("mlcost_actions_total", rollout)] == 0


def test_deleting_a_rightsizing_keeps_the_same_named_policys_actions() -> None:
    metrics = Metrics()
    metrics.count_action("MLCostPolicy", REF.namespace, REF.name, "BudgetChange", "success", 0)
    metrics.count_action("EndpointRightsizing", REF.namespace, REF.name, "BudgetChange", "success", 0)
    metrics.count_action("EndpointRightsizing", REF.namespace, REF.name, "EndpointRollout", "success")

    metrics.forget_rightsizing(REF.namespace, REF.name)

    found = samples(metrics)
    assert found[action("BudgetChange")] == 0
    assert action("EndpointRollout") not in found


def test_report_metrics_stack_by_group_and_usage_and_leave_unknown_out(
    make_reconciler: ReconcilerFactory, aws: EmbeddedAws, clock: Clock
) -> None:
    from tests.reconcile.test_report import PLAN_ID, seed_all
    from tests.reconcile.test_report import REF as REF_MCR
    from tests.reconcile.test_report import spec as report_spec

    metrics = Metrics()
    policies = make_reconciler(recorder=metrics)
    reports = ReportReconciler(policies.sessions, SpendCache(timedelta(hours=1)), clock=clock)
    seed_all(aws, clock)

    result = reports.reconcile(REF_MCR, report_spec(), None)
    record_report_result(metrics, REF_MCR.namespace, REF_MCR.name, result, 0.1)

    found = samples(metrics)
    report = (("namespace", "mlcost-system"), ("report", "sagemaker-showback"))

    def spend(group: str, usage: str) -> float:
        labels = tuple(sorted((*report, ("group_by", "team"), ("group", group), ("usage", usage))))
        return found[("mlcost_spend_usd", labels)]

    assert spend("fraud", "Hosting") == 50.0
    assert spend("no team", "Processing") == 7.67
    stacked = sum(v for (name, _), v in found.items() if name == "mlcost_spend_usd")
    assert round(stacked, 2) == found[("mlcost_spend_total_usd", report)] == 100.0
    assert ("mlcost_spend_forecast_usd", report) in found
    assert found[("mlcost_spend_untagged_percent", tuple(sorted((*report, ("group_by", "team")))))] == 12.7
    assert found[("mlcost_savings_plan_utilization_percent", report)] == 96.0
    assert found[("mlcost_savings_plan_coverage_percent", report)] == 28.8
    plan = tuple(sorted((*report, ("savings_plan_id", PLAN_ID))))
    assert found[("mlcost_savings_plan_commitment_usd_per_hour", plan)] == 1.25
    assert found[("mlcost_savings_plan_end_timestamp_seconds", plan)] > clock.now.timestamp()
    assert found[("mlcost_savings_plan_recommended_monthly_savings_usd", report)] == 350.0
    assert found[("mlcost_savings_plan_recommended_hourly_commitment_usd", report)] == 2.1
    ready = (("kind", "MLCostReport"), ("name", "sagemaker-showback"), ("namespace", "mlcost-system"))
    assert found[("mlcost_object_ready", ready)] == 1
    assert found[("mlcost_reconcile_total", (("kind", "MLCostReport"), ("outcome", "success")))] == 1

    # Unknown is no series, never 0: utilisation and the recommendation cannot be read.
    reports = ReportReconciler(policies.sessions, SpendCache(timedelta(hours=1)), clock=clock)
    aws.inject_error("ce", "GetSavingsPlansUtilization", "AccessDeniedException", "no", count=None)
    aws.set_savings_plans_recommendation(None)
    failed = reports.reconcile(REF_MCR, report_spec(), None)
    record_report_result(metrics, REF_MCR.namespace, REF_MCR.name, failed, 0.1)
    found = samples(metrics)
    assert ("mlcost_savings_plan_utilization_percent", report) not in found
    assert ("mlcost_savings_plan_recommended_monthly_savings_usd", report) not in found
    assert ("mlcost_savings_plan_coverage_percent", report) in found
    assert found[("mlcost_object_ready", ready)] == 0

    # Deleted: every series of the report goes with it.
    metrics.forget_report(REF_MCR.namespace, REF_MCR.name)
    left = [key for key in samples(metrics) if dict(key[1]).get("report") == "sagemaker-showback"]
    assert left == [] and ("mlcost_object_ready", ready) not in samples(metrics)
