"""Cost Explorer: spend and forecast of a budget's filters, showback by tag and usage, Savings Plans."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from mlcost.api.v1alpha1.mlcostreport import SageMakerUsage
from mlcost.aws.errors import aws_call, error_code
from mlcost.domain.showback import (
    GroupedSpend,
    SavingsPlanRecommendation,
    SpendGroup,
    untagged_group,
    usage_of,
)
from mlcost.domain.spend import BudgetPeriod, Spend

SAGEMAKER_SERVICE = "Amazon SageMaker"  # Cost Explorer's SERVICE dimension value
SAGEMAKER_FILTER: dict[str, Any] = {"Dimensions": {"Key": "SERVICE", "Values": [SAGEMAKER_SERVICE]}}
SHOWBACK_METRIC = "UnblendedCost"


def ce_filter(cost_filters: dict[str, tuple[str, ...]]) -> dict[str, Any] | None:
    """Cost Explorer's Expression for a budget's CostFilters (Service, TagKeyValue)."""
    parts: list[dict[str, Any]] = []
    if services := cost_filters.get("Service"):
        parts.append({"Dimensions": {"Key": "SERVICE", "Values": list(services)}})
    tags: dict[str, list[str]] = defaultdict(list)
    for entry in cost_filters.get("TagKeyValue", ()):
        key, _, value = entry.removeprefix("user:").partition("$")
        tags[key].append(value)
    parts.extend({"Tags": {"Key": key, "Values": values}} for key, values in sorted(tags.items()))
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else {"And": parts}


def _forecast_metric(metric: str) -> str:
    """GetCostForecast's spelling of a GetCostAndUsage metric: AmortizedCost -> AMORTIZED_COST."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", metric).upper()


def _day(value: date) -> str:
    return value.isoformat()


def _amount(metrics: dict[str, Any], metric: str) -> Decimal:
    return Decimal(str(metrics.get(metric, {}).get("Amount", "0")))


def _decimal(value: object) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        number = Decimal(str(value))
    except ArithmeticError:
        return None
    return number if number.is_finite() else None


def _timestamp(value: object) -> datetime | None:
    """Cost Explorer's GenerationTimestamp ("2026-12-01T08:12:40Z"); None when absent or unreadable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _past_period(start: date, end: date, today: date) -> dict[str, str]:
    """A TimePeriod the Savings Plans reads accept: "The End date must be after the Start date,
    and before the current date. Future dates can't be used as an End date" (botocore's doc of
    GetSavingsPlansUtilizationRequest.TimePeriod). On the first day of a period, the last day
    of the one before stands in."""
    end = min(end, today)
    start = min(start, end - timedelta(days=1))
    return {"Start": _day(start), "End": _day(end)}


def _tag_value(key: str, tag_key: str) -> str:
    """The tag value of a TAG group key: Cost Explorer answers "team$fraud", and "team$" for
    spend without the tag (the format public clients parse; the API reference's Group.Keys
    does not spell it out)."""
    prefix, dollar, value = key.partition("$")
    if not dollar:
        return key
    return value if value else untagged_group(tag_key or prefix)


class CostExplorerClient:
    """Spend figures from Cost Explorer; every call here costs $0.01, so callers cache."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def spend(
        self,
        period: BudgetPeriod,
        cost_filters: dict[str, tuple[str, ...]],
        now: datetime,
        *,
        metric: str = "UnblendedCost",
    ) -> Spend:
        """Actual spend of the period and its forecast, in `metric` (GetCostAndUsage's spelling)."""
        today = now.date()
        expression = ce_filter(cost_filters)
        by_day = self._daily_costs(period, today, expression, metric)
        actual = sum(by_day.values(), Decimal(0))
        before_today = sum((v for d, v in by_day.items() if d < today), Decimal(0))
        remaining, note = self._forecast(today, period.end, expression, _forecast_metric(metric))
        # The forecast covers today onwards, so it replaces today's partial actual figure.
        forecast = before_today + remaining if remaining is not None else None
        return Spend(actual=actual, forecast=forecast, as_of=now, note=note)

    def _daily_costs(
        self, period: BudgetPeriod, today: date, expression: dict[str, Any] | None, metric: str
    ) -> dict[date, Decimal]:
        request: dict[str, Any] = {
            "TimePeriod": {
                "Start": _day(period.start),
                "End": _day(min(today + timedelta(days=1), period.end)),
            },
            "Granularity": "DAILY",
            "Metrics": [metric],
        }
        if expression:
            request["Filter"] = expression
        costs: dict[date, Decimal] = defaultdict(Decimal)
        while True:
            with aws_call("ce:GetCostAndUsage"):
                page = self._client.get_cost_and_usage(**request)
            for result in page.get("ResultsByTime", []):
                day = date.fromisoformat(result["TimePeriod"]["Start"])
                amount = result.get("Total", {}).get(metric, {}).get("Amount", "0")
                costs[day] += Decimal(amount)
            token = page.get("NextPageToken")
            if not token:
                return costs
            request["NextPageToken"] = token

    def _forecast(
        self, today: date, end: date, expression: dict[str, Any] | None, metric: str
    ) -> tuple[Decimal | None, str]:
        request: dict[str, Any] = {
            "TimePeriod": {"Start": _day(today), "End": _day(end)},
            "Metric": metric,
            "Granularity": "MONTHLY",
        }
        if expression:
            request["Filter"] = expression
        try:
            with aws_call("ce:GetCostForecast"):
                response = self._client.get_cost_forecast(**request)
        except Exception as exc:
            cause = exc.__cause__
            # A new account or filter has too little history to forecast: not an error.
            if isinstance(cause, ClientError) and error_code(cause) == "DataUnavailableException":
                return None, "Cost Explorer has too little history to forecast this budget yet"
            raise
        return Decimal(response["Total"]["Amount"]), ""

    # ------------------------------------------------------------------ showback, Savings Plans

    def grouped_spend(
        self, start: date, end: date, tag_key: str, *, today: date | None = None
    ) -> GroupedSpend:
        """SageMaker spend of [start, end) by value of `tag_key` and by usage group.

        Two questions: GetCostAndUsage grouped by TAG and USAGE_TYPE (paged), and the same
        request without GroupBy, whose Total is what the groups must add up to. The end is
        cut at tomorrow: Cost Explorer has nothing later.
        """
        today = today or datetime.now(UTC).date()
        request: dict[str, Any] = {
            "TimePeriod": {"Start": _day(start), "End": _day(min(end, today + timedelta(days=1)))},
            "Granularity": "MONTHLY",
            "Metrics": [SHOWBACK_METRIC],
            "Filter": SAGEMAKER_FILTER,
        }
        sums: dict[tuple[str, SageMakerUsage], Decimal] = defaultdict(Decimal)
        grouped = {
            **request,
            "GroupBy": [{"Type": "TAG", "Key": tag_key}, {"Type": "DIMENSION", "Key": "USAGE_TYPE"}],
        }
        for page in self._cost_and_usage_pages(grouped):
            for result in page.get("ResultsByTime", []):
                for group in result.get("Groups", []):
                    keys = [*group.get("Keys", []), "", ""]
                    name = _tag_value(str(keys[0]), tag_key)
                    sums[(name, usage_of(str(keys[1])))] += _amount(group.get("Metrics", {}), SHOWBACK_METRIC)
        total = Decimal(0)
        for page in self._cost_and_usage_pages(dict(request)):
            for result in page.get("ResultsByTime", []):
                total += _amount(result.get("Total", {}), SHOWBACK_METRIC)
        groups = sorted(
            (SpendGroup(group, usage, amount) for (group, usage), amount in sums.items()),
            key=lambda g: (-g.amount, g.group, g.usage.value),
        )
        return GroupedSpend(
            start=start,
            end=end,
            tag_key=tag_key,
            groups=tuple(groups),
            total=total,
            computed_at=datetime.now(UTC),
        )

    def _cost_and_usage_pages(self, request: dict[str, Any]) -> Iterator[dict[str, Any]]:
        while True:
            with aws_call("ce:GetCostAndUsage"):
                page = self._client.get_cost_and_usage(**request)
            yield page
            token = page.get("NextPageToken")
            if not token:
                return
            request["NextPageToken"] = token

    def savings_plans_utilization(
        self,
        start: date,
        end: date,
        *,
        plan_arns: Sequence[str] = (),
        today: date | None = None,
    ) -> Decimal | None:
        """Utilisation (percent) of the Savings Plans over [start, end) cut at today.

        `plan_arns` limits it to those plans (the SageMaker ones, from DescribeSavingsPlans):
        SAVINGS_PLAN_ARN is one of the filter dimensions the operation supports. None when
        AWS reports no commitment (no plans in the period). For an account without any plan
        AWS is taken to answer DataUnavailableException (CostDataUnavailable; one of the
        operation's modelled errors): callers that know there is no plan do not ask.
        """
        request: dict[str, Any] = {
            "TimePeriod": _past_period(start, end, today or datetime.now(UTC).date()),
            "Granularity": "MONTHLY",
        }
        if plan_arns:
            request["Filter"] = {"Dimensions": {"Key": "SAVINGS_PLAN_ARN", "Values": sorted(plan_arns)}}
        with aws_call("ce:GetSavingsPlansUtilization"):
            response = self._client.get_savings_plans_utilization(**request)
        utilization = response.get("Total", {}).get("Utilization", {})
        committed = _decimal(utilization.get("TotalCommitment"))
        if committed is None or committed <= 0:
            return None
        return _decimal(utilization.get("UtilizationPercentage"))

    def savings_plans_coverage(self, start: date, end: date, *, today: date | None = None) -> Decimal | None:
        """Share (percent) of SageMaker spend in [start, end) (cut at today) covered by Savings Plans.

        Computed from the sums of SpendCoveredBySavingsPlans and TotalCost over every period
        and page, so a multi-month range is weighted by spend. None without SageMaker spend.
        """
        request: dict[str, Any] = {
            "TimePeriod": _past_period(start, end, today or datetime.now(UTC).date()),
            "Granularity": "MONTHLY",
            "Filter": SAGEMAKER_FILTER,
        }
        covered, total = Decimal(0), Decimal(0)
        while True:
            with aws_call("ce:GetSavingsPlansCoverage"):
                page = self._client.get_savings_plans_coverage(**request)
            for item in page.get("SavingsPlansCoverages", []):
                coverage = item.get("Coverage", {})
                covered += _decimal(coverage.get("SpendCoveredBySavingsPlans")) or Decimal(0)
                total += _decimal(coverage.get("TotalCost")) or Decimal(0)
            token = page.get("NextToken")
            if not token:
                break
            request["NextToken"] = token
        if total <= 0:
            return None
        return (covered * 100 / total).quantize(Decimal("0.01"))

    def savings_plans_recommendation(
        self, term: str, payment_option: str, lookback: str
    ) -> SavingsPlanRecommendation | None:
        """AWS's SAGEMAKER_SP purchase recommendation for this term, payment option and lookback.

        None when AWS has none (too little SageMaker usage in the lookback period): an answer
        without a summary, without an hourly commitment or with TotalRecommendationCount "0".
        The API reference does not say which of these AWS sends (docs/aws-behaviour.md, Unsure).
        The upfront cost is the sum of the details' UpfrontCost (the summary has none).
        """
        request: dict[str, Any] = {
            "SavingsPlansType": "SAGEMAKER_SP",
            "TermInYears": term,
            "PaymentOption": payment_option,
            "LookbackPeriodInDays": lookback,
        }
        upfront = Decimal(0)
        first: dict[str, Any] | None = None
        while True:
            with aws_call("ce:GetSavingsPlansPurchaseRecommendation"):
                page = self._client.get_savings_plans_purchase_recommendation(**request)
            first = first or page
            found = page.get("SavingsPlansPurchaseRecommendation", {})
            for detail in found.get("SavingsPlansPurchaseRecommendationDetails", []):
                upfront += _decimal(detail.get("UpfrontCost")) or Decimal(0)
            token = page.get("NextPageToken")
            if not token:
                break
            request["NextPageToken"] = token
        found = first.get("SavingsPlansPurchaseRecommendation", {})
        summary = found.get("SavingsPlansPurchaseRecommendationSummary") or {}
        hourly = _decimal(summary.get("HourlyCommitmentToPurchase"))
        count = _decimal(summary.get("TotalRecommendationCount"))
        if hourly is None or hourly <= 0 or count == 0:
            return None
        return SavingsPlanRecommendation(
            term=str(found.get("TermInYears") or term),
            payment_option=str(found.get("PaymentOption") or payment_option),
            lookback=str(found.get("LookbackPeriodInDays") or lookback),
            hourly_commitment=hourly,
            estimated_monthly_savings=_decimal(summary.get("EstimatedMonthlySavingsAmount")) or Decimal(0),
            estimated_savings_percent=_decimal(summary.get("EstimatedSavingsPercentage")),
            upfront_cost=upfront,
            generated_at=_timestamp(first.get("Metadata", {}).get("GenerationTimestamp")),
        )


class CostAllocationTags:
    """Which tag keys are active cost-allocation tags (a budget filter on another key sees $0)."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def inactive(self, keys: list[str]) -> list[str]:
        """The keys among `keys` that Billing does not use for cost allocation."""
        active: set[str] = set()
        for start in range(0, len(keys), 100):
            request: dict[str, Any] = {"TagKeys": keys[start : start + 100], "Type": "UserDefined"}
            while True:
                with aws_call("ce:ListCostAllocationTags"):
                    page = self._client.list_cost_allocation_tags(**request)
                active.update(
                    t["TagKey"] for t in page.get("CostAllocationTags", []) if t.get("Status") == "Active"
                )
                token = page.get("NextToken")
                if not token:
                    break
                request["NextToken"] = token
        return [key for key in keys if key not in active]
