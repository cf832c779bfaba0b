"""`mlcost demo`: the operator's sweep against an embedded AWS seeded with an ML team's account."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

from mlcost.api.v1alpha1 import MLCostPolicy, MLCostReport
from mlcost.api.v1alpha1.mlcostreport import SavingsPlansStatus
from mlcost.aws.session import AwsSessions
from mlcost.domain import conditions as cond
from mlcost.domain.spend import SpendCache
from mlcost.manifests import Manifest
from mlcost.metrics import Metrics, record_policy_result, record_report_result, record_rightsizing_result
from mlcost.reconcile.policy import PolicyReconciler, PolicyResult
from mlcost.reconcile.report import ReportReconciler, ReportResult
from mlcost.reconcile.results import ObjectRef, utcnow
from mlcost.reconcile.rightsizing import RightsizingReconciler, RightsizingResult
from mlcost.report import budget_table, changes_and_events, compliance_report, rightsizing_report


@dataclass
class _Sweep:
    """What one sweep produced, per kind."""

    policies: list[tuple[ObjectRef, PolicyResult]] = field(default_factory=list)
    rightsizings: list[tuple[ObjectRef, RightsizingResult]] = field(default_factory=list)
    reports: list[tuple[ObjectRef, ReportResult]] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        results: list[PolicyResult | RightsizingResult | ReportResult] = [
            *(r for _, r in self.policies),
            *(r for _, r in self.rightsizings),
            *(r for _, r in self.reports),
        ]
        return all(r.ready for r in results)


@dataclass
class _Demo:
    """The demo's operator: the reconcilers of every kind, metrics, and each object's last status."""

    policies: PolicyReconciler
    rightsizings: RightsizingReconciler
    reports: ReportReconciler
    metrics: Metrics
    statuses: dict[tuple[str, ObjectRef], Any] = field(default_factory=dict)

    def sweep(self, manifests: list[Manifest]) -> _Sweep:
        done = _Sweep()
        for manifest in manifests:
            ref = ObjectRef(manifest.metadata.namespace, manifest.metadata.name, generation=1)
            started = time.monotonic()
            previous = self.statuses.get((manifest.kind, ref))
            if isinstance(manifest, MLCostPolicy):
                result = self.policies.reconcile(ref, manifest.spec, previous)
                record_policy_result(
                    self.metrics, ref.namespace, ref.name, result, time.monotonic() - started
                )
                done.policies.append((ref, result))
                status: Any = result.status
            elif isinstance(manifest, MLCostReport):
                report = self.reports.reconcile(ref, manifest.spec, previous)
                record_report_result(
                    self.metrics, ref.namespace, ref.name, report, time.monotonic() - started
                )
                done.reports.append((ref, report))
                status = report.status
            else:
                sized = self.rightsizings.reconcile(ref, manifest.spec, previous)
                record_rightsizing_result(
                    self.metrics, ref.namespace, ref.name, sized, time.monotonic() - started
                )
                done.rightsizings.append((ref, sized))
                status = sized.status
            self.statuses[(manifest.kind, ref)] = status
        return done


def run_demo(manifests: list[Manifest], *, once: bool, metrics_port: int, interval: float) -> int:
    from mlcost.embedded.seed import demo_session, seed_account
    from mlcost.embedded.server import EmbeddedAws

    if not manifests:
        print(
            "mlcost demo: no MLCostPolicy, EndpointRightsizing or MLCostReport among the manifests; "
            "nothing to do"
        )
        return 1
    aws = EmbeddedAws().start()
    try:
        metrics = Metrics()
        sessions = AwsSessions(
            default_region=aws.region,
            endpoint_url=aws.endpoint_url,
            recorder=metrics,
            base_session=demo_session(aws),
        )
        # One Cost Explorer cache for every kind, as the operator has.
        spend_cache = SpendCache(timedelta(hours=1))
        policies = PolicyReconciler(sessions, spend_cache)
        demo = _Demo(
            policies,
            RightsizingReconciler(sessions, lambda: policies.governance.catalogue),
            ReportReconciler(sessions, spend_cache),
            metrics,
        )
        first = manifests[0].spec.aws
        target = sessions.target(first.region if first else None, first.role_arn if first else None)
        account = sessions.account_id(target)
        seeded = seed_account(
            aws,
            utcnow().date(),
            sessions.client("sagemaker", target),
            sessions.client("cloudwatch", target),
            account,
        )
        print(f"Embedded AWS (moto) at {aws.endpoint_url}, account {account}, region {target.region}")
        print(
            f"Seeded: {seeded.endpoints} endpoints, {seeded.notebooks} notebook instances, "
            f"{seeded.training_jobs} training jobs, {seeded.spend_days} days of Cost Explorer spend, "
            "3 days of endpoint metrics"
        )
        print(
            f"Seeded showback: {seeded.line_items} Cost Explorer line items of {len(seeded.teams)} teams "
            f"({', '.join(seeded.teams)}) and untagged spend, {seeded.savings_plans} active SageMaker "
            "Savings Plan, a purchase recommendation"
        )
        if metrics_port:
            metrics.serve(metrics_port, "127.0.0.1")
            print(f"Metrics: http://127.0.0.1:{metrics_port}/metrics")
        return _sweep_until_stopped(demo, manifests, once=once, interval=interval)
    finally:
        aws.stop()


def _sweep_until_stopped(demo: _Demo, manifests: list[Manifest], *, once: bool, interval: float) -> int:
    sweep = 0
    try:
        while True:
            sweep += 1
            done = demo.sweep(manifests)
            print(f"\nSweep {sweep} at {utcnow().isoformat()}")
            if done.policies:
                print(budget_table(done.policies))
                print(compliance_report(done.policies))
            if done.rightsizings:
                print(rightsizing_report(done.rightsizings))
            for ref, report in done.reports:
                print(showback_report(ref, report))
            print("What happened in AWS:")
            print(changes_and_events([*done.policies, *done.rightsizings]))
            for ref, report in done.reports:
                for event in report.outcome.events:
                    print(f"  {ref.key}: {event.type.value} {event.reason}: {event.message}")
                print(f"  {ref.key}: no change in AWS (a report only reads)")
            if once:
                return 0 if done.ready else 1
            print(f"\nNext sweep in {interval:g}s (Ctrl-C to stop)")
            time.sleep(interval)
    except KeyboardInterrupt:
        print("\nStopped.")
        return 0


def _money(value: Decimal | None) -> str:
    return "unknown" if value is None else f"{value:,.2f}"


def showback_report(ref: ObjectRef, result: ReportResult) -> str:
    """What `mlcost demo` prints for one MLCostReport: spend by team and usage, Savings Plans."""
    status = result.status
    ready = cond.get_condition(status.conditions, cond.READY)
    lines = [f"\nREPORT {ref.key}: Ready {ready.status.value if ready else 'Unknown'}"]
    spend = status.spend
    if spend is not None:
        tag = spend.group_by or "?"
        lines.append(
            f"SageMaker spend {spend.period_start} to {spend.period_end} by {tag} and usage "
            f"(Cost Explorer, read {spend.computed_at:%H:%M} UTC):"
            if spend.computed_at
            else f"SageMaker spend {spend.period_start} to {spend.period_end} by {tag}: unknown"
        )
        by_team: dict[str, Decimal] = {}
        by_usage: dict[str, Decimal] = {}
        for group in spend.groups or []:
            by_team[group.group] = by_team.get(group.group, Decimal(0)) + group.amount
            by_usage[group.usage.value] = by_usage.get(group.usage.value, Decimal(0)) + group.amount
        lines.append(f"  {tag.upper():<20} {'USAGE':<18} {'SPEND $':>10}")
        for group in spend.groups or []:
            lines.append(f"  {group.group:<20} {group.usage.value:<18} {_money(group.amount):>10}")
        lines.append(
            "  by " + tag + ": " + ", ".join(f"{name} {_money(amount)}" for name, amount in by_team.items())
        )
        lines.append(
            "  by usage: " + ", ".join(f"{name} {_money(amount)}" for name, amount in by_usage.items())
        )
        untagged = "unknown" if spend.untagged_percent is None else f"{spend.untagged_percent}%"
        lines.append(f"  total {_money(spend.total)}, forecast {_money(spend.forecast)}, untagged {untagged}")
    lines.extend(_savings_plans_lines(status.savings_plans))
    for condition in status.conditions:
        if condition.type != cond.READY and condition.status.value != "True":
            lines.append(
                f"  {condition.type} {condition.status.value} ({condition.reason}): {condition.message}"
            )
    return "\n".join(lines)


def _savings_plans_lines(plans: SavingsPlansStatus | None) -> list[str]:
    if plans is None:
        return ["Savings Plans: not read"]
    lines = ["SageMaker Savings Plans:"]
    if plans.plans is None:
        lines.append("  active plans: unknown")
    elif not plans.plans:
        lines.append("  no active plan")
    for plan in plans.plans or []:
        ends = f"{plan.end:%Y-%m-%d}" if plan.end else "?"
        lines.append(
            f"  {plan.savings_plan_id}: {plan.commitment_per_hour} USD/h, {plan.term}, "
            f"{plan.payment_option}, ends {ends}"
        )
    utilization = "unknown" if plans.utilization_percent is None else f"{plans.utilization_percent}%"
    coverage = "unknown" if plans.coverage_percent is None else f"{plans.coverage_percent}%"
    lines.append(f"  utilisation {utilization}, coverage {coverage}")
    rec = plans.recommendation
    if rec is None:
        lines.append("  recommendation: none")
    else:
        break_even = "never" if rec.break_even_months is None else f"{rec.break_even_months} months"
        lines.append(
            f"  recommendation ({rec.term}, {rec.payment_option}, {rec.lookback}): commit "
            f"{rec.hourly_commitment} USD/h, save {_money(rec.estimated_monthly_savings)} USD/month"
            f"{f' ({rec.estimated_savings_percent}%)' if rec.estimated_savings_percent is not None else ''}, "
            f"upfront {_money(rec.upfront_cost)}, break-even {break_even} (the operator never buys)"
        )
    return lines
