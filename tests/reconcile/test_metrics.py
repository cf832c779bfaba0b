"""The metrics a Grafana dashboard reads after a reconcile, with the names API.md fixes."""

from __future__ import annotations

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from mlcost.embedded.server import EmbeddedAws
from mlcost.metrics import Metrics, record_rightsizing_result
from mlcost.reconcile.rightsizing import RightsizingReconciler
from tests.reconcile.conftest import ReconcilerFactory, policy_spec
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
