"""Cost Explorer: actual and forecast spend of one budget period, for the budget's filters."""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from mlcost.aws.errors import aws_call, error_code
from mlcost.domain.spend import BudgetPeriod, Spend


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
