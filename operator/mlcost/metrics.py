"""Prometheus metrics: a store of what reconciles saw, exposed by a collector, plus counters."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from mlcost.api.v1alpha1.endpointrightsizing import VariantStatus
from mlcost.api.v1alpha1.mlcostpolicy import BudgetStatus, ComplianceStatus
from mlcost.api.v1alpha1.mlcostreport import MLCostReportStatus, SpendGroupStatus
from mlcost.domain import conditions as cond
from mlcost.domain.enforcement import ActionKind
from mlcost.reconcile.policy import PolicyResult, violations_by_rule_and_type
from mlcost.reconcile.report import ReportResult
from mlcost.reconcile.rightsizing import RightsizingResult

POLICY_KIND = "MLCostPolicy"
RIGHTSIZING_KIND = "EndpointRightsizing"
REPORT_KIND = "MLCostReport"

BUDGET_CHANGE = "BudgetChange"
ENDPOINT_ROLLOUT = "EndpointRollout"
# The (action, outcome) pairs a policy or rightsizing can produce, created at 0 on its first
# reconcile: Prometheus' increase() needs a sample before the first action to see it at all.
# Governance actions are created in Audit mode too, so the first action after a switch to
# Enforce shows. Failed actions carry an AWS error code, an open set, so only success is known.
_BUDGET_ACTIONS = ((BUDGET_CHANGE, "success"),)
_GOVERNANCE_ACTIONS = tuple((kind.value, "success") for kind in ActionKind)
_RIGHTSIZING_ACTIONS = ((ENDPOINT_ROLLOUT, "success"),)
# The reasons PolicyReconciler gives when spec.budget or spec.scope is not set.
_NO_BUDGET = "NoBudget"
_NOTHING_GOVERNED = "NothingGoverned"


@dataclass(frozen=True)
class _BudgetFigures:
    budget: str
    limit: Decimal | None
    actual: Decimal | None
    forecast: Decimal | None


@dataclass(frozen=True)
class _ComplianceFigures:
    violations: dict[tuple[str, str], int]
    governed: dict[str, int]
    idle_waste: Decimal | None
    spot_percent: Decimal | None


class _StateCollector(Collector):
    """Yields gauges from the latest state, so a deleted policy's series disappear with it."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        labels = ["namespace", "policy", "budget"]
        families = {
            "limit": GaugeMetricFamily(
                "mlcost_budget_limit_usd", "Budget limit in USD per period.", labels=labels
            ),
            "actual": GaugeMetricFamily(
                "mlcost_budget_actual_spend_usd",
                "Actual spend in USD in the budget's current period (Cost Explorer).",
                labels=labels,
            ),
            "forecast": GaugeMetricFamily(
                "mlcost_budget_forecasted_spend_usd",
                "Forecast spend in USD for the budget's whole current period (Cost Explorer).",
                labels=labels,
            ),
        }
        for (namespace, policy), figures in self._metrics.budgets().items():
            for field, family in families.items():
                value = getattr(figures, field)
                if value is not None:
                    family.add_metric([namespace, policy, figures.budget], float(value))
        yield from families.values()
        yield from self._compliance_families()
        yield from self._endpoint_families()
        yield from self._report_families()
        ready = GaugeMetricFamily(
            "mlcost_object_ready",
            "1 when the object's last reconcile left it Ready=True, else 0; one series per object "
            "the operator reconciles, so dashboards can list every team namespace.",
            labels=["kind", "namespace", "name"],
        )
        for (kind, namespace, name), is_ready in sorted(self._metrics.readiness().items()):
            ready.add_metric([kind, namespace, name], 1.0 if is_ready else 0.0)
        yield ready
        actions = CounterMetricFamily(
            "mlcost_actions",
            "Changes made in AWS by policy, action and outcome.",
            labels=["namespace", "policy", "action", "outcome"],
        )
        for key, (count, created) in sorted(self._metrics.action_counts().items()):
            actions.add_metric(list(key), count, created=created)
        yield actions

    def _endpoint_families(self) -> Iterator[Metric]:
        labels = ["namespace", "rightsizing", "endpoint", "variant"]
        current = GaugeMetricFamily(
            "mlcost_endpoint_hourly_cost_usd", "What the variant costs per hour now.", labels=labels
        )
        recommended = GaugeMetricFamily(
            "mlcost_endpoint_recommended_hourly_cost_usd",
            "What the recommended configuration would cost per hour.",
            labels=labels,
        )
        savings = GaugeMetricFamily(
            "mlcost_endpoint_monthly_savings_usd", "USD per month the recommendation saves.", labels=labels
        )
        for (namespace, name), (endpoint, variants) in self._metrics.rightsizings().items():
            for variant in variants:
                key = [namespace, name, endpoint, variant.name]
                if variant.current and variant.current.hourly_cost is not None:
                    current.add_metric(key, float(variant.current.hourly_cost))
                rec = variant.recommendation
                if rec and rec.hourly_cost is not None:
                    recommended.add_metric(key, float(rec.hourly_cost))
                if rec and rec.monthly_savings is not None:
                    savings.add_metric(key, float(rec.monthly_savings))
        yield from (current, recommended, savings)

    def _report_families(self) -> Iterator[Metric]:
        # Unknown figures are absent from the status, and so are their series: never a 0.
        report = ["namespace", "report"]
        spend = GaugeMetricFamily(
            "mlcost_spend_usd",
            "SageMaker spend of the report's current period (Cost Explorer, UnblendedCost) by value "
            'of the group_by tag ("no <tag>" for untagged spend) and usage; stack by group or usage.',
            labels=[*report, "group_by", "group", "usage"],
        )
        total = GaugeMetricFamily(
            "mlcost_spend_total_usd",
            "SageMaker spend of the report's current period as Cost Explorer reports it ungrouped.",
            labels=report,
        )
        forecast = GaugeMetricFamily(
            "mlcost_spend_forecast_usd",
            "SageMaker spend forecast of the report's whole current period (Cost Explorer).",
            labels=report,
        )
        untagged = GaugeMetricFamily(
            "mlcost_spend_untagged_percent",
            "Share of the period's SageMaker spend without the group_by tag, in percent.",
            labels=[*report, "group_by"],
        )
        utilization = GaugeMetricFamily(
            "mlcost_savings_plan_utilization_percent",
            "Used share of the SageMaker Savings Plans' commitment this period, in percent.",
            labels=report,
        )
        coverage = GaugeMetricFamily(
            "mlcost_savings_plan_coverage_percent",
            "Share of SageMaker's eligible spend this period covered by Savings Plans, in percent.",
            labels=report,
        )
        commitment = GaugeMetricFamily(
            "mlcost_savings_plan_commitment_usd_per_hour",
            "Hourly commitment of each active SageMaker Savings Plan, USD.",
            labels=[*report, "savings_plan_id"],
        )
        end = GaugeMetricFamily(
            "mlcost_savings_plan_end_timestamp_seconds",
            "When each active SageMaker Savings Plan ends, Unix time.",
            labels=[*report, "savings_plan_id"],
        )
        savings = GaugeMetricFamily(
            "mlcost_savings_plan_recommended_monthly_savings_usd",
            "Monthly saving AWS estimates for its SageMaker Savings Plan purchase recommendation, USD.",
            labels=report,
        )
        hourly = GaugeMetricFamily(
            "mlcost_savings_plan_recommended_hourly_commitment_usd",
            "Hourly commitment of AWS's SageMaker Savings Plan purchase recommendation, USD.",
            labels=report,
        )
        for (namespace, name), status in sorted(self._metrics.reports().items()):
            key = [namespace, name]
            if status.spend is not None:
                group_by = status.spend.group_by or ""
                for group in status.spend.groups or []:
                    spend.add_metric([*key, group_by, group.group, group.usage.value], float(group.amount))
                if status.spend.total is not None:
                    total.add_metric(key, float(status.spend.total))
                if status.spend.forecast is not None:
                    forecast.add_metric(key, float(status.spend.forecast))
                if status.spend.untagged_percent is not None:
                    untagged.add_metric([*key, group_by], float(status.spend.untagged_percent))
            plans = status.savings_plans
            if plans is None:
                continue
            for family, value in (
                (utilization, plans.utilization_percent),
                (coverage, plans.coverage_percent),
                (savings, plans.recommendation.estimated_monthly_savings if plans.recommendation else None),
                (hourly, plans.recommendation.hourly_commitment if plans.recommendation else None),
            ):
                if value is not None:
                    family.add_metric(key, float(value))
            for plan in plans.plans or []:
                commitment.add_metric([*key, plan.savings_plan_id], float(plan.commitment_per_hour))
                if plan.end is not None:
                    end.add_metric([*key, plan.savings_plan_id], plan.end.timestamp())
        yield from (spend, total, forecast, untagged, utilization, coverage, commitment, end, savings, hourly)

    def _compliance_families(self) -> Iterator[Metric]:
        violations = GaugeMetricFamily(
            "mlcost_compliance_violations",
            "Violations found in the last sweep, by rule and resource type.",
            labels=["namespace", "policy", "rule", "resource_type"],
        )
        governed = GaugeMetricFamily(
            "mlcost_governed_resources",
            "SageMaker resources in the policy's scope, by resource type.",
            labels=["namespace", "policy", "resource_type"],
        )
        waste = GaugeMetricFamily(
            "mlcost_idle_endpoint_waste_usd",
            "USD per month spent on idle endpoints in scope (known prices only).",
            labels=["namespace", "policy"],
        )
        spot = GaugeMetricFamily(
            "mlcost_spot_savings_percent",
            "Managed Spot savings of finished in-scope training jobs: 1 - billable / training time.",
            labels=["namespace", "policy"],
        )
        for (namespace, policy), figures in self._metrics.compliance().items():
            for (rule, resource_type), count in sorted(figures.violations.items()):
                violations.add_metric([namespace, policy, rule, resource_type], count)
            for resource_type, count in sorted(figures.governed.items()):
                governed.add_metric([namespace, policy, resource_type], count)
            if figures.idle_waste is not None:
                waste.add_metric([namespace, policy], float(figures.idle_waste))
            if figures.spot_percent is not None:
                spot.add_metric([namespace, policy], float(figures.spot_percent))
        yield from (violations, governed, waste, spot)


class Metrics:
    """Every metric the operator exports; also the CallRecorder of its AWS clients."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self._lock = threading.Lock()
        self._budgets: dict[tuple[str, str], _BudgetFigures] = {}
        self._compliance: dict[tuple[str, str], _ComplianceFigures] = {}
        self._rightsizings: dict[tuple[str, str], tuple[str, list[VariantStatus]]] = {}
        self._ready: dict[tuple[str, str, str], bool] = {}
        self._reports: dict[tuple[str, str], MLCostReportStatus] = {}
        # Which (action, outcome) children each object created, so forgetting it removes them.
        self._action_labels: dict[tuple[str, str, str], set[tuple[str, str]]] = {}
        # (namespace, policy, action, outcome) -> [count, created]: counted here and exported by
        # the collector, not as prometheus_client Counter children, which cost ~1.5 KB each (a
        # lock, a value and a created time of their own) with about 6 per object.
        self._actions: dict[tuple[str, str, str, str], list[float]] = {}
        self.reconciles = Counter(
            "mlcost_reconcile",
            "Reconciles by kind and outcome (success, error).",
            ["kind", "outcome"],
            registry=self.registry,
        )
        self.reconcile_duration = Histogram(
            "mlcost_reconcile_duration_seconds",
            "Time one reconcile took, AWS calls included.",
            ["kind"],
            registry=self.registry,
        )
        self.aws_calls = Counter(
            "mlcost_aws_api_calls",
            "AWS API calls by service, operation and outcome (success or the AWS error code).",
            ["service", "operation", "outcome"],
            registry=self.registry,
        )
        self.aws_throttles = Counter(
            "mlcost_aws_throttles",
            "Attempts AWS throttled (each is retried with backoff).",
            ["service", "operation"],
            registry=self.registry,
        )
        self.registry.register(_StateCollector(self))

    def record_call(self, service: str, operation: str, outcome: str) -> None:
        self.aws_calls.labels(service, operation, outcome).inc()

    def record_throttle(self, service: str, operation: str) -> None:
        self.aws_throttles.labels(service, operation).inc()

    def set_budget(self, namespace: str, policy: str, status: BudgetStatus | None) -> None:
        with self._lock:
            if status is None or status.name is None:
                self._budgets.pop((namespace, policy), None)
                return
            self._budgets[(namespace, policy)] = _BudgetFigures(
                status.name, status.limit, status.actual_spend, status.forecasted_spend
            )

    def set_compliance(
        self,
        namespace: str,
        policy: str,
        status: ComplianceStatus | None,
        by_rule_and_type: Mapping[tuple[str, str], int] | None = None,
    ) -> None:
        """Record a sweep's compliance; every violation is counted, not only the 50 listed."""
        with self._lock:
            if status is None:
                self._compliance.pop((namespace, policy), None)
                return
            self._compliance[(namespace, policy)] = _ComplianceFigures(
                violations=dict(by_rule_and_type or {}),
                governed=dict(status.governed or {}),
                idle_waste=status.idle_monthly_waste,
                spot_percent=status.spot_savings_percent,
            )

    def set_ready(self, kind: str, namespace: str, name: str, ready: bool) -> None:
        with self._lock:
            self._ready[(kind, namespace, name)] = ready

    def readiness(self) -> dict[tuple[str, str, str], bool]:
        with self._lock:
            return dict(self._ready)

    def count_action(
        self, kind: str, namespace: str, name: str, action: str, outcome: str, amount: int = 1
    ) -> None:
        """Count changes made in AWS; amount 0 only creates the series (see _GOVERNANCE_ACTIONS)."""
        with self._lock:
            self._action_labels.setdefault((kind, namespace, name), set()).add((action, outcome))
            self._actions.setdefault((namespace, name, action, outcome), [0.0, time.time()])[0] += amount

    def action_counts(self) -> dict[tuple[str, str, str, str], tuple[float, float]]:
        with self._lock:
            return {labels: (count, created) for labels, (count, created) in self._actions.items()}

    def _forget(self, kind: str, namespace: str, name: str) -> None:
        with self._lock:
            self._ready.pop((kind, namespace, name), None)
            mine = self._action_labels.pop((kind, namespace, name), set())
            # A policy and a rightsizing may share a namespace and name, hence label values.
            shared = {
                labels
                for (_, other_ns, other_name), used in self._action_labels.items()
                if (other_ns, other_name) == (namespace, name)
                for labels in used
            }
            for action, outcome in mine - shared:
                self._actions.pop((namespace, name, action, outcome), None)

    def forget_policy(self, namespace: str, policy: str) -> None:
        with self._lock:
            self._budgets.pop((namespace, policy), None)
            self._compliance.pop((namespace, policy), None)
        self._forget(POLICY_KIND, namespace, policy)

    def set_rightsizing(
        self, namespace: str, name: str, endpoint: str, variants: list[VariantStatus]
    ) -> None:
        with self._lock:
            self._rightsizings[(namespace, name)] = (endpoint, list(variants))

    def forget_rightsizing(self, namespace: str, name: str) -> None:
        with self._lock:
            self._rightsizings.pop((namespace, name), None)
        self._forget(RIGHTSIZING_KIND, namespace, name)

    def set_report(
        self,
        namespace: str,
        name: str,
        status: MLCostReportStatus,
        all_groups: list[SpendGroupStatus] | None = None,
    ) -> None:
        """Keep the report's figures; `all_groups` (when known) replaces the status's bounded list,
        so the stacked spend adds up to the total however many groups there are."""
        copy = status.model_copy(deep=True)
        if all_groups is not None and copy.spend is not None:
            copy.spend.groups = [g.model_copy() for g in all_groups]
        with self._lock:
            self._reports[(namespace, name)] = copy

    def forget_report(self, namespace: str, name: str) -> None:
        with self._lock:
            self._reports.pop((namespace, name), None)
        self._forget(REPORT_KIND, namespace, name)

    def reports(self) -> dict[tuple[str, str], MLCostReportStatus]:
        with self._lock:
            return dict(self._reports)

    def rightsizings(self) -> dict[tuple[str, str], tuple[str, list[VariantStatus]]]:
        with self._lock:
            return dict(self._rightsizings)

    def compliance(self) -> dict[tuple[str, str], _ComplianceFigures]:
        with self._lock:
            return dict(self._compliance)

    def budgets(self) -> dict[tuple[str, str], _BudgetFigures]:
        with self._lock:
            return dict(self._budgets)

    def serve(self, port: int, address: str = "0.0.0.0") -> None:
        """Serve /metrics over HTTP in a background thread."""
        start_http_server(port, addr=address, registry=self.registry)


def record_policy_result(
    metrics: Metrics, namespace: str, name: str, result: PolicyResult, seconds: float
) -> None:
    """Everything one MLCostPolicy reconcile tells the metrics (operator and demo alike)."""
    metrics.reconcile_duration.labels(POLICY_KIND).observe(seconds)
    metrics.reconciles.labels(POLICY_KIND, "error" if result.outcome.error else "success").inc()
    metrics.set_budget(namespace, name, result.status.budget)
    metrics.set_compliance(namespace, name, result.status.compliance, violations_by_rule_and_type(result))
    metrics.set_ready(POLICY_KIND, namespace, name, result.ready)
    # Read from the conditions, not from what this reconcile got to: a policy whose first
    # reconcile failed still has its series at 0 before its first successful action.
    budget = cond.get_condition(result.status.conditions, cond.BUDGET_SYNCED)
    compliant = cond.get_condition(result.status.conditions, cond.COMPLIANT)
    known = (_BUDGET_ACTIONS if budget is None or budget.reason != _NO_BUDGET else ()) + (
        _GOVERNANCE_ACTIONS if compliant is None or compliant.reason != _NOTHING_GOVERNED else ()
    )
    for action, outcome in known:
        metrics.count_action(POLICY_KIND, namespace, name, action, outcome, 0)
    if result.budget and result.budget.plan:
        applied = len(result.budget.plan.changes) if not result.outcome.error else 0
        if applied:
            metrics.count_action(POLICY_KIND, namespace, name, BUDGET_CHANGE, "success", applied)
    if result.governance:
        for applied_action in result.governance.applied:
            metrics.count_action(
                POLICY_KIND, namespace, name, applied_action.action.kind.value, applied_action.outcome
            )


def record_rightsizing_result(
    metrics: Metrics, namespace: str, name: str, result: RightsizingResult, seconds: float
) -> None:
    """Everything one EndpointRightsizing reconcile tells the metrics."""
    metrics.reconcile_duration.labels(RIGHTSIZING_KIND).observe(seconds)
    metrics.reconciles.labels(RIGHTSIZING_KIND, "error" if result.outcome.error else "success").inc()
    if result.endpoint_name and result.status.variants is not None:
        metrics.set_rightsizing(namespace, name, result.endpoint_name, result.status.variants)
    metrics.set_ready(RIGHTSIZING_KIND, namespace, name, result.ready)
    for action, outcome in _RIGHTSIZING_ACTIONS:
        metrics.count_action(RIGHTSIZING_KIND, namespace, name, action, outcome, 0)
    for change in result.outcome.changes:
        action = ENDPOINT_ROLLOUT if "rolled out" in change else "Change"
        metrics.count_action(RIGHTSIZING_KIND, namespace, name, action, "success")


def record_report_result(
    metrics: Metrics, namespace: str, name: str, result: ReportResult, seconds: float
) -> None:
    """Everything one MLCostReport reconcile tells the metrics (operator and demo alike)."""
    metrics.reconcile_duration.labels(REPORT_KIND).observe(seconds)
    metrics.reconciles.labels(REPORT_KIND, "error" if result.outcome.error else "success").inc()
    metrics.set_report(namespace, name, result.status, result.all_groups)
    metrics.set_ready(REPORT_KIND, namespace, name, result.ready)
