"""Prometheus metrics: a store of what reconciles saw, exposed by a collector, plus counters."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from mlcost.api.v1alpha1.mlcostpolicy import BudgetStatus


@dataclass(frozen=True)
class _BudgetFigures:
    budget: str
    limit: Decimal | None
    actual: Decimal | None
    forecast: Decimal | None


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


class Metrics:
    """Every metric the operator exports; also the CallRecorder of its AWS clients."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self._lock = threading.Lock()
        self._budgets: dict[tuple[str, str], _BudgetFigures] = {}
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
        self.actions = Counter(
            "mlcost_actions",
            "Changes made in AWS by policy, action and outcome.",
            ["namespace", "policy", "action", "outcome"],
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

    def forget_policy(self, namespace: str, policy: str) -> None:
        with self._lock:
            self._budgets.pop((namespace, policy), None)

    def budgets(self) -> dict[tuple[str, str], _BudgetFigures]:
        with self._lock:
            return dict(self._budgets)

    def serve(self, port: int, address: str = "0.0.0.0") -> None:
        """Serve /metrics over HTTP in a background thread."""
        start_http_server(port, addr=address, registry=self.registry)
