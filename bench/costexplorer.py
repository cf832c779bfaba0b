"""Benchmark: Cost Explorer requests per day (and their price) of a cluster with many policies.

    .venv/bin/python bench/costexplorer.py [--policies 50] [--hours 24] [--min-interval 1h]

Cost Explorer charges $0.01 a request. On a fake clock through a simulated day (today,
00:00-24:00 UTC), every MLCostPolicy (a budget filtered by its team tag, resyncInterval 10m)
and one MLCostReport (resyncInterval 1h) are reconciled by the real reconcilers at their resync
interval against the embedded AWS, sharing one Cost Explorer cache as the operator does
(MLCOST_COST_EXPLORER_MIN_INTERVAL). Requests are counted where they arrive, at the embedded
AWS, by operation, and compared with the naive count: every question of an object asked again
at every resync (each object's requests when nothing is cached, times its resyncs in the day).
A shorter --hours run is scaled to a day.
"""

from __future__ import annotations

import argparse
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import boto3

from mlcost.api.v1alpha1.mlcostpolicy import MLCostPolicySpec
from mlcost.api.v1alpha1.mlcostreport import MLCostReportSpec
from mlcost.aws.session import AwsSessions, CountingRecorder
from mlcost.config import Config
from mlcost.domain import conditions as cond
from mlcost.domain.spend import CostExplorerCache
from mlcost.embedded.server import EmbeddedAws
from mlcost.reconcile.policy import PolicyReconciler
from mlcost.reconcile.report import ReportReconciler
from mlcost.reconcile.results import ObjectRef

PRICE = 0.01  # USD per Cost Explorer request (AWS Cost Management pricing)
USAGE_TYPES = ("USE1-Host:ml.m5.xlarge", "USE1-Train:ml.g5.xlarge", "USE1-Notebk:ml.t3.medium")


@dataclass
class Clock:
    """The fake clock the reconcilers read.

    The embedded AWS checks dates against the real clock, as AWS does (no forecast starting in
    the past, no utilization period ending in the future), so the simulated day is today's UTC
    calendar day, 00:00 to 24:00: every date the reconcilers ask about is the real today.
    """

    now: datetime = field(
        default_factory=lambda: datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    )

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Tally:
    """AWS requests of one kind of object, by (service, operation), and how often it was reconciled."""

    objects: int = 0
    reconciles: int = 0
    calls: Counter[tuple[str, str]] = field(default_factory=Counter)
    first: Counter[tuple[str, str]] = field(default_factory=Counter)  # its first reconciles, nothing cached

    def ce(self, counter: Counter[tuple[str, str]] | None = None) -> int:
        return sum(n for (service, _), n in (counter or self.calls).items() if service == "ce")


def duration(text: str) -> timedelta:
    match = re.fullmatch(r"(\d+)([mh])", text)
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r}: give minutes or hours, e.g. 30m or 6h")
    number, unit = int(match[1]), match[2]
    return timedelta(minutes=number) if unit == "m" else timedelta(hours=number)


def policy(team: int) -> MLCostPolicySpec:
    return MLCostPolicySpec.model_validate(
        {
            "resyncInterval": "10m",
            "budget": {
                "limit": "5000",
                "costFilters": {"services": ["Amazon SageMaker"], "tags": {"team": [f"team-{team}"]}},
                "notifications": [
                    {"type": "FORECASTED", "threshold": "100", "emails": [f"leads-{team}@example.com"]}
                ],
            },
        }
    )


def seed(aws: EmbeddedAws, teams: int, today: date) -> str:
    """30 days of SageMaker spend per team (and untagged), one active Savings Plan, a recommendation."""
    aws.set_cost_allocation_tags([{"TagKey": "team", "Status": "Active", "Type": "UserDefined"}])
    items: list[dict[str, Any]] = []
    for back in range(30):
        on = (today - timedelta(days=back)).isoformat()
        for team in range(teams + 1):  # the last "team" is the untagged spend
            tags = {"team": f"team-{team}"} if team < teams else {}
            for n, usage in enumerate(USAGE_TYPES):
                amount = f"{10 + team % 7 + n}.25"
                items.append(
                    {
                        "date": on,
                        "service": "Amazon SageMaker",
                        "usageType": usage,
                        "amount": amount,
                        "tags": tags,
                    }
                )
    aws.add_cost_line_items(items)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=300)
    aws.set_savings_plans(
        [
            {
                "savingsPlanId": "sp-bench-0001",
                "savingsPlanArn": f"arn:aws:savingsplans::{aws.account_id}:savingsplan/sp-bench-0001",
                "start": start.isoformat(),
                "end": (start + timedelta(days=365)).isoformat(),
                "state": "active",
                "savingsPlanType": "SageMaker",
                "paymentOption": "No Upfront",
                "commitment": "1.50",
                "currency": "USD",
                "termDurationInSeconds": 31536000,
            }
        ]
    )
    aws.set_savings_plans_usage(
        total_commitment="1080", used_commitment="950", covered_spend="950", on_demand_cost="1400"
    )
    aws.set_savings_plans_recommendation(
        {
            "SavingsPlansType": "SAGEMAKER_SP",
            "TermInYears": "ONE_YEAR",
            "PaymentOption": "NO_UPFRONT",
            "LookbackPeriodInDays": "THIRTY_DAYS",
            "SavingsPlansPurchaseRecommendationDetails": [
                {
                    "HourlyCommitmentToPurchase": "0.85",
                    "EstimatedMonthlySavingsAmount": "180.00",
                    "EstimatedSavingsPercentage": "21.5",
                    "UpfrontCost": "0",
                    "CurrencyCode": "USD",
                }
            ],
            "SavingsPlansPurchaseRecommendationSummary": {
                "HourlyCommitmentToPurchase": "0.85",
                "EstimatedMonthlySavingsAmount": "180.00",
                "EstimatedSavingsPercentage": "21.5",
                "TotalRecommendationCount": "1",
                "CurrencyCode": "USD",
            },
        }
    )
    lines = f"{len(items):,} cost line items ({teams} teams and untagged, 30 days)"
    return f"{lines}, 1 Savings Plan, 1 recommendation"


def reconcile_policy(
    policies: PolicyReconciler, ref: ObjectRef, spec: MLCostPolicySpec
) -> Callable[[Any], Any]:
    """One policy's reconcile, from its last status to its next, as the operator's timer runs it."""
    return lambda previous: policies.reconcile(ref, spec, previous).status


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policies", type=int, default=50)
    parser.add_argument("--hours", type=int, default=24, help="length of the simulated day")
    parser.add_argument(
        "--min-interval",
        type=duration,
        default=Config.model_fields["cost_explorer_min_interval"].default,
        help="MLCOST_COST_EXPLORER_MIN_INTERVAL (the operator's default: 1h)",
    )
    args = parser.parse_args()
    if not 1 <= args.hours <= 24:
        parser.error("--hours: 1 to 24 (the simulated day is today's UTC calendar day)")
    clock = Clock()
    with EmbeddedAws() as aws:
        seeded = seed(aws, args.policies, clock.now.date())
        sessions = AwsSessions(
            default_region="us-east-1",
            endpoint_url=aws.endpoint_url,
            recorder=CountingRecorder(),
            base_session=boto3.Session(
                aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
            ),
        )
        cache = CostExplorerCache(args.min_interval)  # one cache for every object, as in the operator
        policies = PolicyReconciler(sessions, cache, clock=clock)
        objects: dict[str, tuple[timedelta, Callable[[Any], Any]]] = {}
        for team in range(args.policies):
            ref, spec = ObjectRef(f"team-{team}", "cost", generation=1), policy(team)
            objects[f"MLCostPolicy/{ref.key}"] = (spec.resync_interval, reconcile_policy(policies, ref, spec))
        reports = ReportReconciler(sessions, cache, clock=clock)
        report_ref = ObjectRef("mlcost-system", "sagemaker-showback", generation=1)
        report_spec = MLCostReportSpec.model_validate(
            {"resyncInterval": "1h", "showback": {"groupByTag": "team"}}
        )
        objects[f"MLCostReport/{report_ref.key}"] = (
            report_spec.resync_interval,
            lambda previous: reports.reconcile(report_ref, report_spec, previous).status,
        )

        # Each object is reconciled at its creation and then every resyncInterval, as its timer does.
        start, end = clock.now, clock.now + timedelta(hours=args.hours)
        schedule = sorted(
            (start + k * every, name)
            for name, (every, _) in objects.items()
            for k in range(int((end - start) / every) + (1 if (end - start) % every else 0))
        )
        tallies: dict[str, Tally] = {}
        for name in objects:
            tallies.setdefault(name.split("/")[0], Tally()).objects += 1
        statuses: dict[str, Any] = {}
        aws.reset_calls()
        started = time.perf_counter()
        for at, name in schedule:
            clock.now = at
            before = aws.calls()
            statuses[name] = objects[name][1](statuses.get(name))
            made = aws.calls() - before
            tally = tallies[name.split("/")[0]]
            if tally.reconciles < tally.objects:
                # Schedules start together, so every object's first reconcile comes before any
                # second one: what it asks with nothing cached, which naively is every resync.
                tally.first += made
            tally.reconciles += 1
            tally.calls += made
        seconds = time.perf_counter() - started
    print_report(args, start, seeded, tallies, seconds, statuses)


def by_operation(calls: Counter[tuple[str, str]], *, ce: bool, scale: float) -> str:
    return ", ".join(
        f"{operation} {n * scale:,.0f}" if ce else f"{service}:{operation} {n * scale:,.0f}"
        for (service, operation), n in sorted(calls.items())
        if (service == "ce") == ce
    )


def print_report(
    args: argparse.Namespace,
    start: datetime,
    seeded: str,
    tallies: dict[str, Tally],
    seconds: float,
    statuses: dict[str, Any],
) -> None:
    scale = timedelta(hours=24) / timedelta(hours=args.hours)  # figures per day
    print(
        f"{args.policies} MLCostPolicy (a budget filtered by its team tag, resyncInterval 10m)"
        + " + 1 MLCostReport (resyncInterval 1h)"
    )
    print(
        f"simulated {args.hours}h from {start:%Y-%m-%d %H:%M} UTC in {seconds:.0f}s, "
        f"MLCOST_COST_EXPLORER_MIN_INTERVAL {args.min_interval / timedelta(hours=1):g}h; "
        f"seeded: {seeded}"
    )
    # A count is only worth having for objects that got their answers: say which did not.
    for name, status in statuses.items():
        if not cond.is_ready(status.conditions):
            failed = [f"{c.type}={c.status} {c.reason}" for c in status.conditions if c.status != "True"]
            print(f"  not Ready at the end: {name}: {', '.join(failed)}")
    report = next(status for name, status in statuses.items() if name.startswith("MLCostReport/"))
    spend, plans = report.spend, report.savings_plans
    print(
        f"  the report read: total {spend.total} USD in {len(spend.groups)} groups "
        f"(untagged {spend.untagged_percent}%), {len(plans.plans or [])} plan(s), utilization "
        f"{plans.utilization_percent}%, coverage {plans.coverage_percent}%, recommended saving "
        f"{plans.recommendation.estimated_monthly_savings if plans.recommendation else None} USD/month"
    )
    total = naive = 0.0
    for kind, tally in tallies.items():
        per_day = tally.ce() * scale
        # Naive: each object's first-reconcile questions asked again at each of its resyncs.
        naive_kind = tally.ce(tally.first) / tally.objects * tally.reconciles * scale
        total, naive = total + per_day, naive + naive_kind
        print(
            f"  {kind} x{tally.objects}: {tally.reconciles * scale:,.0f} reconciles/day, "
            f"Cost Explorer {per_day:,.0f} requests/day ({by_operation(tally.calls, ce=True, scale=scale)}), "
            f"naive {naive_kind:,.0f}"
        )
        if other := by_operation(tally.calls, ce=False, scale=scale):
            print(f"    other AWS requests/day (not Cost Explorer): {other}")
    print(
        f"Cost Explorer: {total:,.0f} requests/day = ${total * PRICE:,.2f}/day "
        f"(${total * PRICE * 30:,.0f} in 30 days)"
    )
    print(
        f"naive (one request per question per resync): {naive:,.0f} requests/day = "
        f"${naive * PRICE:,.2f}/day; "
        f"the shared cache asks {naive / total if total else 0:.1f}x less"
    )


if __name__ == "__main__":
    main()
