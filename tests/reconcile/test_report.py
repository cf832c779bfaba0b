"""MLCostReport against the embedded AWS: showback that adds up, Savings Plans, and every fault."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from mlcost.api.v1alpha1.mlcostreport import MLCostReportSpec
from mlcost.aws.session import CountingRecorder
from mlcost.domain import conditions as cond
from mlcost.domain.spend import SpendCache
from mlcost.embedded.server import EmbeddedAws
from mlcost.reconcile.report import ReportReconciler, ReportResult
from mlcost.reconcile.results import ObjectRef
from tests.conftest import client_of
from tests.reconcile.conftest import Clock, embedded_sessions, mutating_calls

REF = ObjectRef("mlcost-system", "sagemaker-showback", generation=1)
ACCOUNT = "123456789012"
PLAN_ID = "sp-0123456789abcdef0"

ReportsFactory = Callable[..., ReportReconciler]


@pytest.fixture
def clock() -> Clock:
    # Early today (UTC): the embedded AWS judges dates by the real today (a forecast may not start
    # in the past, a Savings Plans read not end in the future), so hours the tests advance the
    # clock by must not carry it into tomorrow.
    now = datetime.now(UTC).replace(hour=1, minute=0, second=0, microsecond=0)
    return Clock(now=now)


@pytest.fixture
def make_reports(aws: EmbeddedAws, clock: Clock) -> ReportsFactory:
    """make_reports(cache=None, max_attempts=5, recorder=None) -> a ReportReconciler."""

    def make(
        *, cache: SpendCache | None = None, max_attempts: int = 5, recorder: CountingRecorder | None = None
    ) -> ReportReconciler:
        sessions = embedded_sessions(aws.endpoint_url, max_attempts=max_attempts, recorder=recorder)
        return ReportReconciler(sessions, cache or SpendCache(timedelta(hours=1)), clock=clock)

    return make


@pytest.fixture
def reports(make_reports: ReportsFactory) -> ReportReconciler:
    return make_reports()


def spec(**savings_plans: Any) -> MLCostReportSpec:
    raw: dict[str, Any] = {"showback": {"groupByTag": "team"}}
    if savings_plans:
        raw["savingsPlans"] = savings_plans
    return MLCostReportSpec.model_validate(raw)


def item(day: str, usage_type: str, amount: str, team: str | None, service: str = "Amazon SageMaker") -> Any:
    return {
        "date": day,
        "service": service,
        "usageType": usage_type,
        "amount": amount,
        "tags": {"team": team} if team else {},
    }


def seed_spend(aws: EmbeddedAws, clock: Clock) -> None:
    """Today's SageMaker line items of two teams and untagged resources, plus EC2 that must not count."""
    day = clock.now.date().isoformat()
    aws.add_cost_line_items(
        [
            item(day, "USE1-Host:ml.m5.xlarge", "40.10", "fraud"),
            item(day, "USE1-Host:ml.c5.xlarge", "9.90", "fraud"),  # same group as the line above
            item(day, "USE1-Train:ml.g5.xlarge", "25.00", "fraud"),
            item(day, "USE1-Notebk:ml.t3.medium", "12.33", "risk"),
            item(day, "USE1-Processing:ml.m5.large", "7.67", None),
            item(day, "USE1-Tsform:ml.c5.xlarge", "5.00", None),
            item(day, "USE1-BoxUsage:m5.large", "99.99", "fraud", service="Amazon Elastic Compute Cloud"),
        ]
    )
    aws.set_cost_allocation_tags([{"TagKey": "team", "Status": "Active"}])


def seed_plan(aws: EmbeddedAws, clock: Clock, *, ends_in: timedelta = timedelta(days=200)) -> None:
    end = clock.now + ends_in
    aws.set_savings_plans(
        [
            {
                "savingsPlanId": PLAN_ID,
                "savingsPlanArn": f"arn:aws:savingsplans::{ACCOUNT}:savingsplan/{PLAN_ID}",
                "start": (end - timedelta(days=365)).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                "end": end.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                "state": "active",
                "savingsPlanType": "SageMaker",
                "paymentOption": "Partial Upfront",
                "currency": "USD",
                "commitment": "1.25",
                "upfrontPaymentAmount": "5475",
                "recurringPaymentAmount": "0.625",
                "termDurationInSeconds": 31_536_000,
                "productTypes": ["SageMaker"],
            }
        ]
    )


def seed_usage(aws: EmbeddedAws, *, used: str = "28.80") -> None:
    aws.set_savings_plans_usage(
        total_commitment="30.00", used_commitment=used, covered_spend=used, on_demand_cost="71.20"
    )


RECOMMENDATION = {
    "SavingsPlansPurchaseRecommendationDetails": [
        {
            "UpfrontCost": "0",
            "CurrencyCode": "USD",
            "HourlyCommitmentToPurchase": "2.10",
            "EstimatedMonthlySavingsAmount": "350.00",
            "EstimatedSavingsPercentage": "22.0",
        }
    ],
    "SavingsPlansPurchaseRecommendationSummary": {
        "CurrencyCode": "USD",
        "HourlyCommitmentToPurchase": "2.10",
        "EstimatedMonthlySavingsAmount": "350.00",
        "EstimatedSavingsPercentage": "22.0",
        "TotalRecommendationCount": "1",
    },
}


def seed_all(aws: EmbeddedAws, clock: Clock) -> None:
    seed_spend(aws, clock)
    seed_plan(aws, clock)
    seed_usage(aws)
    aws.set_savings_plans_recommendation(RECOMMENDATION)


def condition(result: ReportResult, type_: str) -> tuple[str, str, str]:
    found = cond.get_condition(result.status.conditions, type_)
    assert found is not None, f"no {type_} condition"
    return found.status.value, found.reason, found.message


def ce_calls(aws: EmbeddedAws) -> dict[str, int]:
    return {operation: count for (service, operation), count in aws.calls().items() if service == "ce"}


def ungrouped_sagemaker_total(aws: EmbeddedAws, clock: Clock) -> Decimal:
    """What Cost Explorer itself reports for the report's filter, asked by someone else."""
    today = clock.now.date()
    answer = client_of(aws, "ce").get_cost_and_usage(
        TimePeriod={
            "Start": today.replace(day=1).isoformat(),
            "End": (today + timedelta(days=1)).isoformat(),
        },
        Granularity="MONTHLY",
        Metrics=["UnblendedCost"],
        Filter={"Dimensions": {"Key": "SERVICE", "Values": ["Amazon SageMaker"]}},
    )
    return sum((Decimal(r["Total"]["UnblendedCost"]["Amount"]) for r in answer["ResultsByTime"]), Decimal(0))


# ---------------------------------------------------------------------------- the money adds up


def test_groups_sum_to_the_total_cost_explorer_reports(
    reports: ReportReconciler, aws: EmbeddedAws, clock: Clock
) -> None:
    seed_all(aws, clock)

    result = reports.reconcile(REF, spec(), None)

    assert condition(result, "Ready")[:2] == ("True", "Reconciled")
    spend = result.status.spend
    assert spend is not None and spend.total is not None
    assert sum(g.amount for g in spend.groups) == spend.total == ungrouped_sagemaker_total(aws, clock)
    assert spend.total == Decimal("100.00")  # EC2's 99.99 is not SageMaker's
    assert [(g.group, g.usage.value, g.amount) for g in spend.groups] == [
        ("fraud", "Hosting", Decimal("50.00")),
        ("fraud", "Training", Decimal("25.00")),
        ("risk", "NotebookInstances", Decimal("12.33")),
        ("no team", "Processing", Decimal("7.67")),
        ("no team", "BatchTransform", Decimal("5.00")),
    ]
    assert spend.untagged_percent == Decimal("12.7")
    assert spend.group_by == "team"
    assert spend.period_start == clock.now.date().replace(day=1)
    assert spend.computed_at == clock.now
    assert condition(result, "SpendRead")[:2] == ("True", "Read")
    assert condition(result, "UntaggedSpendLow")[:2] == ("True", "WithinLimit")
    assert condition(result, "CostAllocationTagsActive")[:2] == ("True", "Active")
    # Read-only: the operator never buys, tags or changes anything.
    assert mutating_calls(aws) == {}


def test_savings_plans_utilisation_coverage_and_recommendation(
    reports: ReportReconciler, aws: EmbeddedAws, clock: Clock
) -> None:
    seed_all(aws, clock)

    result = reports.reconcile(REF, spec(), None)

    plans = result.status.savings_plans
    assert plans is not None and plans.plans is not None
    (plan,) = plans.plans
    assert (plan.savings_plan_id, plan.commitment_per_hour, plan.term, plan.payment_option) == (
        PLAN_ID,
        Decimal("1.25"),
        "ONE_YEAR",
        "PARTIAL_UPFRONT",
    )
    assert plans.utilization_percent == Decimal("96.0")
    assert plans.coverage_percent == Decimal("28.8")
    assert plans.computed_at == clock.now and plans.plans_read_at == clock.now
    rec = plans.recommendation
    assert rec is not None
    assert (rec.term, rec.payment_option, rec.lookback) == ("ONE_YEAR", "NO_UPFRONT", "THIRTY_DAYS")
    assert (rec.hourly_commitment, rec.estimated_monthly_savings, rec.estimated_savings_percent) == (
        Decimal("2.10"),
        Decimal("350.00"),
        Decimal("22.0"),
    )
    assert rec.break_even_months == 0 and rec.generated_at is not None
    assert condition(result, "SavingsPlansRead")[:2] == ("True", "Read")
    assert condition(result, "SavingsPlansHealthy")[:2] == ("True", "Healthy")
    # The status is what the CRD accepts (bounded lists, money strings).
    assert result.status.to_api()["savingsPlans"]["recommendation"]["hourlyCommitment"] == "2.10"


def test_recommendation_with_upfront_cost_has_a_break_even(
    reports: ReportReconciler, aws: EmbeddedAws, clock: Clock
) -> None:
    seed_all(aws, clock)
    upfront = {
        **RECOMMENDATION,
        "SavingsPlansPurchaseRecommendationDetails": [
            {**RECOMMENDATION["SavingsPlansPurchaseRecommendationDetails"][0], "UpfrontCost": "1050"}  # type: ignore[index]
        ],
    }
    aws.set_savings_plans_recommendation(upfront)

    result = reports.reconcile(REF, spec(recommendation={"paymentOption": "ALL_UPFRONT"}), None)

    rec = result.status.savings_plans.recommendation if result.status.savings_plans else None
    assert rec is not None
    assert rec.payment_option == "ALL_UPFRONT"  # what the spec asked for, echoed by AWS
    assert (rec.upfront_cost, rec.break_even_months) == (Decimal("1050.00"), Decimal("3.0"))


def test_more_groups_than_the_status_holds_still_add_up(
    reports: ReportReconciler, aws: EmbeddedAws, clock: Clock
) -> None:
    day = clock.now.date().isoformat()
    # 130 teams: three pages of GroupBy answers, more groups than status lists.
    aws.add_cost_line_items(
        [item(day, "USE1-Host:ml.m5.xlarge", f"{100 + n}.01", f"team-{n:03}") for n in range(130)]
    )
    aws.set_cost_allocation_tags([{"TagKey": "team", "Status": "Active"}])

    result = reports.reconcile(REF, spec(enabled=False), None)

    assert ce_calls(aws)["GetCostAndUsage"] == 3 + 1 + 1  # grouped pages, the total, the daily actual
    spend = result.status.spend
    assert spend is not None and spend.total is not None and spend.omitted_amount is not None
    assert len(spend.groups) == 100 and spend.omitted_groups == 30
    assert spend.groups[0].group == "team-129"  # largest first
    assert sum(g.amount for g in spend.groups) + spend.omitted_amount == spend.total
    assert spend.total == ungrouped_sagemaker_total(aws, clock)
    # The metrics stack every group, not only the 100 the status lists.
    from mlcost.metrics import Metrics, record_report_result
    from tests.reconcile.test_metrics import samples

    metrics = Metrics()
    record_report_result(metrics, REF.namespace, REF.name, result, 0.1)
    stacked = {k: v for k, v in samples(metrics).items() if k[0] == "mlcost_spend_usd"}
    assert len(stacked) == 130
    assert round(sum(stacked.values()), 2) == float(spend.total)


# ---------------------------------------------------------------------------- Cost Explorer bound


def test_a_second_reconcile_asks_cost_explorer_nothing(
    reports: ReportReconciler, aws: EmbeddedAws, clock: Clock
) -> None:
    seed_all(aws, clock)
    first = reports.reconcile(REF, spec(), None)
    asked = sum(ce_calls(aws).values())
    clock.advance(timedelta(minutes=30))

    second = reports.reconcile(REF, spec(), first.status)

    assert sum(ce_calls(aws).values()) == asked
    assert (
        asked == 8
    )  # grouped, total, daily actual, forecast, tag status, utilisation, coverage, recommendation
    assert second.status.spend == first.status.spend
    assert second.outcome.events == []
    assert mutating_calls(aws) == {}
    clock.advance(timedelta(minutes=31))
    reports.reconcile(REF, spec(), second.status)
    assert sum(ce_calls(aws).values()) == 2 * asked  # asked again once the hour is over


def test_reports_asking_at_once_share_one_request_per_question(
    reports: ReportReconciler, aws: EmbeddedAws, clock: Clock
) -> None:
    seed_all(aws, clock)
    results: list[ReportResult] = []
    barrier = threading.Barrier(20)

    def run(n: int) -> None:
        barrier.wait()
        results.append(reports.reconcile(ObjectRef("mlcost-system", f"r{n}", 1), spec(), None))

    threads = [threading.Thread(target=run, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert all(r.ready for r in results) and len(results) == 20
    assert sum(ce_calls(aws).values()) == 8


# ---------------------------------------------------------------------------- findings


def test_inactive_tag_is_said_once_and_spend_still_shown(
    reports: ReportReconciler, aws: EmbeddedAws, clock: Clock
) -> None:
    seed_all(aws, clock)
    aws.set_cost_allocation_tags([{"TagKey": "team", "Status": "Inactive"}])

    first = reports.reconcile(REF, spec(), None)

    status, reason, message = condition(first, "CostAllocationTagsActive")
    assert (status, reason) == ("False", "TagsInactive")
    assert "team" in message and "Billing > Cost allocation tags" in message
    assert [e.reason for e in first.outcome.events].count("CostAllocationTagsInactive") == 1
    spend = first.status.spend
    assert spend is not None and spend.total == Decimal("100.00")
    # Cost Explorer groups nothing by an inactive tag: all of it is untagged, and said so.
    assert {g.group for g in spend.groups} == {"no team"}
    assert condition(first, "UntaggedSpendLow")[:2] == ("False", "UntaggedSpendHigh")
    clock.advance(timedelta(hours=2))
    second = reports.reconcile(REF, spec(), first.status)
    assert "CostAllocationTagsInactive" not in [e.reason for e in second.outcome.events]


def test_untagged_spend_over_the_share_warns_when_it_starts(
    reports: ReportReconciler, aws: EmbeddedAws, clock: Clock
) -> None:
    seed_all(aws, clock)
    lenient = MLCostReportSpec.model_validate(
        {"showback": {"groupByTag": "team", "maxUntaggedPercent": "10"}}
    )

    result = reports.reconcile(REF, lenient, None)

    status, reason, message = condition(result, "UntaggedSpendLow")
    assert (status, reason) == ("False", "UntaggedSpendHigh")
    assert "12.7%" in message and "no team" in message
    assert [e.type.value for e in result.outcome.events if e.reason == "UntaggedSpendHigh"] == ["Warning"]
    assert condition(result, "Ready")[0] == "True"  # a finding, not a failure


def test_plan_expiring_within_the_horizon_warns_once(
    reports: ReportReconciler, aws: EmbeddedAws, clock: Clock
) -> None:
    seed_all(aws, clock)
    seed_plan(aws, clock, ends_in=timedelta(days=12))

    first = reports.reconcile(REF, spec(), None)

    status, reason, message = condition(first, "SavingsPlansHealthy")
    assert (status, reason) == ("False", "PlanExpiring")
    assert PLAN_ID in message and "within 30d" in message
    assert [e.reason for e in first.outcome.events] == ["PlanExpiring"]
    clock.advance(timedelta(hours=2))
    second = reports.reconcile(REF, spec(), first.status)
    assert second.outcome.events == []
    # A shorter horizon: the same plan is fine.
    assert condition(reports.reconcile(REF, spec(expiryWarning="7d"), None), "SavingsPlansHealthy")[1] == (
        "Healthy"
    )


def test_low_utilisation_warns(reports: ReportReconciler, aws: EmbeddedAws, clock: Clock) -> None:
    seed_all(aws, clock)
    seed_usage(aws, used="15.00")

    result = reports.reconcile(REF, spec(), None)

    status, reason, message = condition(result, "SavingsPlansHealthy")
    assert (status, reason) == ("False", "LowUtilization")
    assert "50.0%" in message and "90%" in message
    assert [e.reason for e in result.outcome.events] == ["LowUtilization"]
    assert result.status.savings_plans is not None
    assert result.status.savings_plans.utilization_percent == Decimal("50.0")


# ---------------------------------------------------------------------------- faults


def test_account_without_savings_plans_is_not_an_error(
    reports: ReportReconciler, aws: EmbeddedAws, clock: Clock
) -> None:
    seed_spend(aws, clock)  # no plan, no usage, no recommendation

    result = reports.reconcile(REF, spec(), None)

    assert condition(result, "Ready")[0] == "True"
    plans = result.status.savings_plans
    assert plans is not None
    assert plans.plans == [] and plans.utilization_percent is None and plans.recommendation is None
    # Without a plan AWS has no utilisation (DataUnavailableException): not asked at all.
    assert "GetSavingsPlansUtilization" not in ce_calls(aws)
    status, reason, message = condition(result, "SavingsPlansRead")
    assert (status, reason) == ("True", "Read")
    assert (
        "no active SageMaker Savings Plan" in message
        and "no SageMaker Savings Plan recommendation" in message
    )
    assert condition(result, "SavingsPlansHealthy")[:2] == ("True", "NoPlans")
    assert (
        "savingsPlans" in result.status.to_api()
        and "utilizationPercent" not in result.status.to_api()["savingsPlans"]
    )


def test_recommendation_aws_cannot_compute_stays_absent(
    reports: ReportReconciler, aws: EmbeddedAws, clock: Clock
) -> None:
    seed_all(aws, clock)
    aws.set_savings_plans_recommendation(None)

    result = reports.reconcile(REF, spec(), None)

    assert result.status.savings_plans is not None and result.status.savings_plans.recommendation is None
    assert "too little usage history" in condition(result, "SavingsPlansRead")[2]
    assert condition(result, "Ready")[0] == "True"
    assert result.status.savings_plans.utilization_percent == Decimal("96.0")


@pytest.mark.parametrize(
    ("code", "reason"),
    [("DataUnavailableException", "CostDataUnavailable"), ("BillExpirationException", "BillExpired")],
)
def test_cost_explorer_without_data_leaves_spend_unknown_not_zero(
    reports: ReportReconciler, aws: EmbeddedAws, clock: Clock, code: str, reason: str
) -> None:
    seed_all(aws, clock)
    aws.inject_error("ce", "GetCostAndUsage", code, "no data for that period", count=None)

    result = reports.reconcile(REF, spec(), None)

    status, got, message = condition(result, "SpendRead")
    assert (status, got) == ("False", reason)
    assert "ce:GetCostAndUsage" in message
    spend = result.status.to_api()["spend"]
    assert "total" not in spend and "groups" not in spend and "untaggedPercent" not in spend
    assert condition(result, "UntaggedSpendLow")[:2] == ("Unknown", "SpendUnknown")
    assert condition(result, "Ready")[:2] == ("False", reason)
    # The rest is still reported.
    assert (
        result.status.savings_plans is not None and result.status.savings_plans.coverage_percent is not None
    )
    assert [e.reason for e in result.outcome.events] == [reason]


ACCESS_DENIED = [
    ("ce", "GetCostAndUsage", "SpendRead", "ce:GetCostAndUsage"),
    ("ce", "GetCostForecast", "SpendRead", "ce:GetCostForecast"),
    ("savingsplans", "DescribeSavingsPlans", "SavingsPlansRead", "savingsplans:DescribeSavingsPlans"),
    ("ce", "GetSavingsPlansUtilization", "SavingsPlansRead", "ce:GetSavingsPlansUtilization"),
    ("ce", "GetSavingsPlansCoverage", "SavingsPlansRead", "ce:GetSavingsPlansCoverage"),
    (
        "ce",
        "GetSavingsPlansPurchaseRecommendation",
        "SavingsPlansRead",
        "ce:GetSavingsPlansPurchaseRecommendation",
    ),
]


@pytest.mark.parametrize(("service", "operation", "type_", "permission"), ACCESS_DENIED)
def test_access_denied_names_the_permission_and_the_rest_is_reported(
    reports: ReportReconciler,
    aws: EmbeddedAws,
    clock: Clock,
    service: str,
    operation: str,
    type_: str,
    permission: str,
) -> None:
    seed_all(aws, clock)
    aws.inject_error(service, operation, "AccessDeniedException", "User is not authorized", count=None)

    result = reports.reconcile(REF, spec(), None)

    status, reason, message = condition(result, type_)
    assert (status, reason) == ("False", "AccessDenied")
    assert permission in message and "iam-policy.json" in message
    assert condition(result, "Ready")[:2] == ("False", "AccessDenied")
    other = "SavingsPlansRead" if type_ == "SpendRead" else "SpendRead"
    assert condition(result, other)[0] == "True"
    status_api = result.status.to_api()
    if type_ == "SavingsPlansRead":
        assert status_api["spend"]["total"] == "100.00"
    else:
        assert status_api["savingsPlans"]["plans"][0]["savingsPlanId"] == PLAN_ID
    if operation == "GetCostForecast":
        assert "forecast" not in status_api["spend"] and status_api["spend"]["total"] == "100.00"
    if operation == "DescribeSavingsPlans":
        assert "plans" not in status_api["savingsPlans"]
        assert status_api["savingsPlans"]["coveragePercent"] == "28.8"
        assert condition(result, "SavingsPlansHealthy")[:2] == ("Unknown", "PlansUnknown")
    assert [e.reason for e in result.outcome.events] == ["AccessDenied"]


def test_tag_status_access_denied_is_unknown_not_inactive(
    reports: ReportReconciler, aws: EmbeddedAws, clock: Clock
) -> None:
    seed_all(aws, clock)
    aws.inject_error("ce", "ListCostAllocationTags", "AccessDeniedException", "not authorized", count=None)

    result = reports.reconcile(REF, spec(), None)

    status, reason, message = condition(result, "CostAllocationTagsActive")
    assert (status, reason) == ("Unknown", "AccessDenied")
    assert "ce:ListCostAllocationTags" in message
    assert condition(result, "Ready")[0] == "True"  # spend and plans were read


def test_throttling_is_retried_then_reported_and_kept_for_the_hour(
    make_reports: ReportsFactory, aws: EmbeddedAws, clock: Clock
) -> None:
    seed_all(aws, clock)
    recorder = CountingRecorder()
    reports = make_reports(recorder=recorder)
    # Cost Explorer calls retry once: one throttle is absorbed.
    aws.inject_error("ce", "GetSavingsPlansCoverage", "ThrottlingException", "Rate exceeded", count=1)
    healed = reports.reconcile(REF, spec(), None)
    assert healed.ready and recorder.throttles[("ce", "GetSavingsPlansCoverage")] == 1

    reports = make_reports()
    aws.clear_errors()
    aws.reset_calls()
    aws.inject_error("ce", "GetCostAndUsage", "ThrottlingException", "Rate exceeded", count=None)
    throttled = reports.reconcile(REF, spec(), None)

    assert condition(throttled, "SpendRead")[:2] == ("False", "Throttled")
    assert throttled.outcome.error is not None and throttled.outcome.error.transient
    asked = ce_calls(aws)["GetCostAndUsage"]
    # The failure stands for the hour: a resync in between costs no request.
    clock.advance(timedelta(minutes=10))
    again = reports.reconcile(REF, spec(), throttled.status)
    assert ce_calls(aws)["GetCostAndUsage"] == asked
    assert "asked again after" in condition(again, "SpendRead")[2]
    aws.clear_errors()
    clock.advance(timedelta(hours=1))
    recovered = reports.reconcile(REF, spec(), again.status)
    assert recovered.ready and recovered.status.spend is not None
    assert recovered.status.spend.total == Decimal("100.00")


def test_savings_plans_disabled_reads_none_of_them(
    reports: ReportReconciler, aws: EmbeddedAws, clock: Clock
) -> None:
    seed_all(aws, clock)

    result = reports.reconcile(REF, spec(enabled=False), None)

    assert result.ready and result.status.savings_plans is None
    assert not [k for k in aws.calls() if k[0] == "savingsplans" or "SavingsPlans" in k[1]]
    assert condition(result, "SavingsPlansRead")[1] == "Disabled"


def test_status_fields_have_their_times(reports: ReportReconciler, aws: EmbeddedAws, clock: Clock) -> None:
    seed_all(aws, clock)
    first = reports.reconcile(REF, spec(), None)
    clock.advance(timedelta(minutes=20))

    second = reports.reconcile(REF, spec(), first.status)

    # Served from the cache: the figures say when Cost Explorer was read, not when status was written.
    assert second.status.spend is not None and second.status.savings_plans is not None
    read_at: datetime = first.status.last_sweep  # type: ignore[assignment]
    assert second.status.spend.computed_at == read_at
    assert second.status.savings_plans.computed_at == read_at
    assert second.status.savings_plans.recommendation_read_at == read_at
    assert second.status.last_sweep == clock.now


def test_after_a_restart_the_status_answers_until_the_hour_is_over(
    make_reports: ReportsFactory, aws: EmbeddedAws, clock: Clock
) -> None:
    seed_all(aws, clock)
    first = make_reports().reconcile(REF, spec(), None)
    asked = sum(ce_calls(aws).values())
    clock.advance(timedelta(minutes=20))

    # A new operator process: an empty cache, only the status it reads back from Kubernetes.
    restarted = make_reports()
    again = restarted.reconcile(REF, spec(), first.status)

    # Only the tag status (not in the report's status) is asked again.
    assert sum(ce_calls(aws).values()) == asked + 1
    assert again.ready and again.status.spend == first.status.spend
    assert again.status.savings_plans is not None and first.status.savings_plans is not None
    assert again.status.savings_plans.recommendation == first.status.savings_plans.recommendation
    assert again.status.savings_plans.utilization_percent == Decimal("96.0")
    # ...and the remembered answers expire when the first ones would have (the tag status, asked
    # after the restart, is still fresh).
    clock.advance(timedelta(minutes=41))
    restarted.reconcile(REF, spec(), again.status)
    assert sum(ce_calls(aws).values()) == (asked + 1) + (asked - 1)
