"""Cost Explorer for moto: GetCostForecast from a queue of results, ListCostAllocationTags,
GetCostAndUsage computed from seeded line items (Filter, GroupBy, paging), and the Savings Plans
reads (GetSavingsPlansUtilization, GetSavingsPlansCoverage, GetSavingsPlansPurchaseRecommendation).

Written from the Cost Explorer API reference and botocore's ce model; what each answer does
where the shapes say nothing is cited next to it (and in docs/aws-behaviour.md).
"""

from __future__ import annotations

import base64
import calendar
import hashlib
import json
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from moto.ce.models import CostExplorerBackend, ce_backends
from moto.ce.responses import CostExplorerResponse
from moto.core.exceptions import JsonRESTError

from . import savingsplans
from ._common import DEFAULT_ACCOUNT_ID, ext_state, original, patch, to_decimal

__all__ = [
    "add_cost_line_items",
    "install",
    "queue_cost_forecast",
    "set_cost_allocation_tags",
    "set_savings_plans_recommendation",
    "set_savings_plans_usage",
]

FORECAST_METRICS = (
    "AMORTIZED_COST",
    "BLENDED_COST",
    "NET_AMORTIZED_COST",
    "NET_UNBLENDED_COST",
    "UNBLENDED_COST",
)
# "You can get 3 months of DAILY forecasts or 18 months of MONTHLY forecasts."
FORECAST_HORIZON_MONTHS = {"DAILY": 3, "MONTHLY": 18}
MAX_RESULTS = 1000


# GetCostAndUsage metrics computed from a line item's amount (its cost); UsageQuantity and
# NormalizedUsageAmount are quantities, which line items do not carry.
COST_METRICS = (
    "AmortizedCost",
    "BlendedCost",
    "NetAmortizedCost",
    "NetUnblendedCost",
    "UnblendedCost",
)
# Groups per GetCostAndUsage page. AWS does not document its page size (unsure); small
# enough here that a month of showback for a few dozen teams pages.
GROUPS_PER_PAGE = 50
# "You can group ... using up to two different groups" (GetCostAndUsageRequest.GroupBy).
MAX_GROUP_BY = 2
GROUP_DIMENSIONS = {"SERVICE": "service", "USAGE_TYPE": "usage_type"}
FILTER_DIMENSIONS = GROUP_DIMENSIONS
# GetSavingsPlansCoverage: "The default is 20, with a minimum value of 1" (MaxResults).
COVERAGE_PAGE_SIZE = 20
SAGEMAKER_SP = "SAGEMAKER_SP"


@dataclass(frozen=True)
class LineItem:
    """One day's cost of one usage type of one service, with the resource's tags."""

    day: date
    service: str
    usage_type: str
    amount: Decimal
    tags: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class SavingsPlansUsage:
    """What the Savings Plans reads report for every period asked (per period, not summed)."""

    total_commitment: Decimal
    used_commitment: Decimal
    covered_spend: Decimal
    on_demand_cost: Decimal


@dataclass
class CeState:
    """What the extension keeps on moto's Cost Explorer backend (reset with it)."""

    forecast_queue: list[dict[str, Any]] = field(default_factory=list)
    forecast_results: dict[str, dict[str, Any]] = field(default_factory=dict)
    cost_allocation_tags: list[dict[str, Any]] = field(default_factory=list)
    line_items: list[LineItem] = field(default_factory=list)
    savings_plans_usage: SavingsPlansUsage | None = None
    # None: no recommendation (AWS has too little history); unset means the same.
    recommendation: dict[str, Any] | None = None


def _state(backend: CostExplorerBackend) -> CeState:
    return ext_state(backend, CeState)


def _validation(message: str) -> JsonRESTError:
    return JsonRESTError("ValidationException", message)


def _parse_date(value: Any, name: str) -> date:
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise _validation(f"Invalid {name} date {value!r}: expected YYYY-MM-DD") from None


def _add_months(day: date, months: int) -> date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _periods(start: date, end: date, granularity: str) -> list[tuple[date, date]]:
    """The DAILY days or MONTHLY months (cut at start and end) between start and end."""
    step: Callable[[date], date] = (
        (lambda d: d + timedelta(days=1))
        if granularity == "DAILY"
        else (lambda d: _add_months(d.replace(day=1), 1))
    )
    periods, current = [], start
    while current < end:
        following = min(step(current), end)
        periods.append((current, following))
        current = following
    return periods


def _validate_forecast(params: dict[str, Any]) -> tuple[date, date, str]:
    period = params.get("TimePeriod") or {}
    start = _parse_date(period.get("Start"), "start")
    end = _parse_date(period.get("End"), "end")
    granularity = params.get("Granularity")
    metric = params.get("Metric")
    today = datetime.now(UTC).date()
    if start >= end:
        raise _validation(f"Requested Start: {start} must be before requested End: {end}")
    if start < today:
        raise _validation(
            f"Start date {start} is in the past: the start date of a forecast must be equal to "
            f"or later than the current date {today}"
        )
    if granularity not in FORECAST_HORIZON_MONTHS:
        raise _validation(
            f"Granularity {granularity!r} is not supported: GetCostForecast supports DAILY and MONTHLY"
        )
    if metric not in FORECAST_METRICS:
        raise _validation(f"Metric {metric!r} must be one of {list(FORECAST_METRICS)}")
    months = FORECAST_HORIZON_MONTHS[granularity]
    if end > _add_months(today, months) + timedelta(days=1):
        raise _validation(
            f"End date {end} is too far in the future: {granularity} forecasts cover at most {months} months"
        )
    return start, end, granularity


def get_cost_forecast(self: CostExplorerBackend, params: dict[str, Any]) -> dict[str, Any]:
    """GetCostForecast: the next queued result, or a zero forecast when none is queued.

    Like moto's get_cost_and_usage, a queued result is bound to the request's parameters:
    asking again with the same parameters returns the same result.
    """
    start, end, granularity = _validate_forecast(params)
    state = _state(self)
    key = json.dumps(params, sort_keys=True, default=str)
    if key not in state.forecast_results and state.forecast_queue:
        state.forecast_results[key] = state.forecast_queue.pop(0)
    if key in state.forecast_results:
        return state.forecast_results[key]
    with_interval = params.get("PredictionIntervalLevel") is not None
    by_time = []
    for first, following in _periods(start, end, granularity):
        item: dict[str, Any] = {
            "TimePeriod": {"Start": first.isoformat(), "End": following.isoformat()},
            "MeanValue": "0",
        }
        if with_interval:
            item["PredictionIntervalLowerBound"] = "0"
            item["PredictionIntervalUpperBound"] = "0"
        by_time.append(item)
    return {"Total": {"Amount": "0", "Unit": "USD"}, "ForecastResultsByTime": by_time}


def list_cost_allocation_tags(self: CostExplorerBackend, params: dict[str, Any]) -> dict[str, Any]:
    """ListCostAllocationTags with the Status, TagKeys and Type filters and paging."""
    status, keys, kind = params.get("Status"), params.get("TagKeys"), params.get("Type")
    tags = [
        tag
        for tag in _state(self).cost_allocation_tags
        if (status is None or tag["Status"] == status)
        and (kind is None or tag["Type"] == kind)
        and (not keys or tag["TagKey"] in keys)
    ]
    size = params.get("MaxResults") or 100
    if not 1 <= size <= MAX_RESULTS:
        raise _validation(f"MaxResults must be between 1 and {MAX_RESULTS}")
    token = params.get("NextToken")
    try:
        first = int(token) if token else 0
    except ValueError:
        raise JsonRESTError("InvalidNextTokenException", "Invalid NextToken") from None
    page = tags[first : first + size]
    result: dict[str, Any] = {"CostAllocationTags": page}
    if first + size < len(tags):
        result["NextToken"] = str(first + size)
    return result


# ---------------------------------------------------------------------------- GetCostAndUsage


def _period_bounds(params: dict[str, Any]) -> tuple[date, date]:
    period = params.get("TimePeriod") or {}
    start = _parse_date(period.get("Start"), "start")
    end = _parse_date(period.get("End"), "end")
    if start >= end:
        raise _validation(f"Start date {start} must be before end date {end}")
    return start, end


def _active_tag_keys(state: CeState) -> set[str] | None:
    """The tag keys Cost Explorer knows; None when no cost-allocation tag is seeded (all count).

    Only active cost-allocation tags reach Cost Explorer's data ("After you activate cost
    allocation tags, AWS uses them to organize your resource costs", Billing User Guide): spend
    of a resource tagged with an inactive key is reported without the tag.
    """
    if not state.cost_allocation_tags:
        return None
    return {t["TagKey"] for t in state.cost_allocation_tags if t["Status"] == "Active"}


def _tag_of(item: LineItem, key: str, active: set[str] | None) -> str | None:
    if active is not None and key not in active:
        return None
    return dict(item.tags).get(key)


def _matches(expression: dict[str, Any], item: LineItem, active: set[str] | None) -> bool:
    """Whether a line item passes a Cost Explorer Expression (And/Or/Not/Dimensions/Tags)."""
    if "And" in expression:
        return all(_matches(e, item, active) for e in expression["And"])
    if "Or" in expression:
        return any(_matches(e, item, active) for e in expression["Or"])
    if "Not" in expression:
        return not _matches(expression["Not"], item, active)
    if "Dimensions" in expression:
        dimension = expression["Dimensions"]
        attribute = FILTER_DIMENSIONS.get(str(dimension.get("Key")))
        if attribute is None:
            raise _validation(
                f"The embedded AWS filters line items on {sorted(FILTER_DIMENSIONS)} only, "
                f"not {dimension.get('Key')!r}"
            )
        return str(getattr(item, attribute)) in dimension.get("Values", [])
    if "Tags" in expression:
        tags = expression["Tags"]
        value = _tag_of(item, str(tags.get("Key")), active)
        # MatchOptions ABSENT: "the tag is absent" (API reference, TagValues / MatchOption).
        if "ABSENT" in (tags.get("MatchOptions") or []):
            return value is None
        return value is not None and value in tags.get("Values", [])
    raise _validation(f"The embedded AWS does not filter on {sorted(expression)}")


def _group_definitions(params: dict[str, Any]) -> list[dict[str, str]]:
    group_by = params.get("GroupBy") or []
    if len(group_by) > MAX_GROUP_BY:
        raise _validation(f"GroupBy accepts up to {MAX_GROUP_BY} groups, got {len(group_by)}")
    for group in group_by:
        if group.get("Type") == "DIMENSION" and group.get("Key") in GROUP_DIMENSIONS:
            continue
        if group.get("Type") == "TAG" and group.get("Key"):
            continue
        raise _validation(
            f"The embedded AWS groups by TAG or DIMENSION {sorted(GROUP_DIMENSIONS)} only, not {group}"
        )
    return [{"Type": str(g["Type"]), "Key": str(g["Key"])} for g in group_by]


def _group_key(definition: dict[str, str], item: LineItem, active: set[str] | None) -> str:
    if definition["Type"] == "TAG":
        # "team$fraud", and "team$" for spend without the tag (API reference, Group.Keys).
        return f"{definition['Key']}${_tag_of(item, definition['Key'], active) or ''}"
    return str(getattr(item, GROUP_DIMENSIONS[definition["Key"]]))


def _metrics(params: dict[str, Any]) -> list[str]:
    metrics = params.get("Metrics") or []
    if not metrics:
        raise _validation("Metrics is required")
    unknown = [m for m in metrics if m not in COST_METRICS]
    if unknown:
        raise _validation(f"The embedded AWS computes the cost metrics {list(COST_METRICS)}, not {unknown}")
    return list(metrics)


def _money(metrics: list[str], amount: Decimal) -> dict[str, dict[str, str]]:
    return {metric: {"Amount": f"{amount:f}", "Unit": "USD"} for metric in metrics}


def _page_token(offset: int, params: dict[str, Any], token_key: str) -> str:
    query = {k: v for k, v in params.items() if k != token_key}
    digest = hashlib.sha256(json.dumps(query, sort_keys=True, default=str).encode()).hexdigest()[:16]
    return base64.urlsafe_b64encode(json.dumps({"offset": offset, "query": digest}).encode()).decode()


def _page_offset(params: dict[str, Any], token_key: str) -> int:
    token = params.get(token_key)
    if not token:
        return 0
    query = {k: v for k, v in params.items() if k != token_key}
    digest = hashlib.sha256(json.dumps(query, sort_keys=True, default=str).encode()).hexdigest()[:16]
    try:
        decoded = json.loads(base64.urlsafe_b64decode(str(token).encode()))
        offset, same = int(decoded["offset"]), decoded["query"] == digest
    except (ValueError, KeyError, TypeError):
        offset, same = -1, False
    if not same or offset < 0:
        raise JsonRESTError("InvalidNextTokenException", "The pagination token is invalid.")
    return offset


def cost_and_usage_from_line_items(state: CeState, params: dict[str, Any]) -> dict[str, Any]:
    """GetCostAndUsage computed from the seeded line items, as AWS computes it from the bill.

    Without GroupBy each period has its Total; with GroupBy its Groups (Keys in GroupBy's
    order, Metrics) and an empty Total, as AWS answers. Pages hold GROUPS_PER_PAGE groups.
    A period ending after today is Estimated (its costs may still change).
    """
    start, end = _period_bounds(params)
    granularity = params.get("Granularity") or "MONTHLY"
    if granularity not in ("DAILY", "MONTHLY"):
        raise _validation(f"The embedded AWS computes DAILY and MONTHLY costs, not {granularity!r}")
    metrics = _metrics(params)
    definitions = _group_definitions(params)
    active = _active_tag_keys(state)
    expression = params.get("Filter")
    items = [
        item
        for item in state.line_items
        if start <= item.day < end and (not expression or _matches(expression, item, active))
    ]
    today = datetime.now(UTC).date()
    periods = _periods(start, end, granularity)
    rows: list[tuple[int, tuple[str, ...] | None, Decimal]] = []
    for index, (first, following) in enumerate(periods):
        inside = [item for item in items if first <= item.day < following]
        if not definitions:
            rows.append((index, None, sum((i.amount for i in inside), Decimal(0))))
            continue
        sums: dict[tuple[str, ...], Decimal] = defaultdict(Decimal)
        for item in inside:
            sums[tuple(_group_key(d, item, active) for d in definitions)] += item.amount
        rows.extend((index, keys, amount) for keys, amount in sorted(sums.items()))
    offset = _page_offset(params, "NextPageToken")
    page = rows[offset : offset + GROUPS_PER_PAGE] if definitions else rows
    by_period: dict[int, dict[str, Any]] = {}
    for index, keys, amount in page:
        first, following = periods[index]
        result = by_period.setdefault(
            index,
            {
                "TimePeriod": {"Start": first.isoformat(), "End": following.isoformat()},
                "Total": {},
                "Groups": [],
                "Estimated": following > today,
            },
        )
        if keys is None:
            result["Total"] = _money(metrics, amount)
        else:
            result["Groups"].append({"Keys": list(keys), "Metrics": _money(metrics, amount)})
    answer: dict[str, Any] = {
        "ResultsByTime": [by_period[i] for i in sorted(by_period)],
        "DimensionValueAttributes": [],
    }
    if definitions:
        answer["GroupDefinitions"] = definitions
        if offset + GROUPS_PER_PAGE < len(rows):
            answer["NextPageToken"] = _page_token(offset + GROUPS_PER_PAGE, params, "NextPageToken")
    return answer


def get_cost_and_usage(self: CostExplorerBackend, body: str) -> dict[str, Any]:
    """GetCostAndUsage: from the line items when any are seeded, else moto's queued results."""
    state = _state(self)
    if not state.line_items:
        moto_get: Callable[..., dict[str, Any]] = original(CostExplorerBackend, "get_cost_and_usage")
        return moto_get(self, body)
    return cost_and_usage_from_line_items(state, json.loads(body or "{}"))


# ---------------------------------------------------------------------------- Savings Plans reads


def _savings_plans_period(params: dict[str, Any], granularity: str | None) -> list[tuple[date, date]]:
    """The periods of a Savings Plans read, checked as the API reference states: "The Start
    date must be within 13 months. The End date must be after the Start date, and before the
    current date. Future dates can't be used as an End date."; DAILY and MONTHLY only."""
    start, end = _period_bounds(params)
    today = datetime.now(UTC).date()
    if end > today:
        raise _validation(f"End date {end} is in the future: it must be before the current date {today}")
    if start < _add_months(today, -13):
        raise _validation(f"Start date {start} must be within 13 months")
    if granularity not in (None, "DAILY", "MONTHLY"):
        raise _validation(f"Granularity {granularity!r} is not supported: use DAILY or MONTHLY")
    return _periods(start, end, granularity or "MONTHLY")


def _dimension_values(expression: dict[str, Any] | None, key: str) -> list[str] | None:
    """The Values of a Dimensions `key` in a filter (alone or in an And), None when absent."""
    if not expression:
        return None
    parts = expression.get("And") or [expression]
    for part in parts:
        dimension = part.get("Dimensions") or {}
        if dimension.get("Key") == key:
            return [str(v) for v in dimension.get("Values", [])]
    return None


def _percent(part: Decimal, whole: Decimal) -> str:
    return f"{(part * 100 / whole).quantize(Decimal('0.01')):f}" if whole > 0 else "0"


def _usage_or_unavailable(state: CeState) -> SavingsPlansUsage:
    if state.savings_plans_usage is None:
        # An account without Savings Plans has no utilisation data (DataUnavailableException,
        # one of the operation's modelled errors; the message is ours).
        raise JsonRESTError("DataUnavailableException", "No Savings Plans utilization data is available.")
    return state.savings_plans_usage


def get_savings_plans_utilization(self: CostExplorerBackend, params: dict[str, Any]) -> dict[str, Any]:
    """GetSavingsPlansUtilization: the seeded figures in every period and their sums as Total."""
    periods = _savings_plans_period(params, params.get("Granularity"))
    usage = _usage_or_unavailable(_state(self))
    arns = _dimension_values(params.get("Filter"), "SAVINGS_PLAN_ARN")
    seeded = {plan["savingsPlanArn"] for plan in savingsplans.plans_of(self.account_id)}
    if arns is not None and seeded and not set(arns) & seeded:
        # The filter names no plan of the account: there is no utilisation to report.
        raise JsonRESTError("DataUnavailableException", "No Savings Plans utilization data is available.")

    def utilization(total: Decimal, used: Decimal) -> dict[str, str]:
        return {
            "TotalCommitment": f"{total:f}",
            "UsedCommitment": f"{used:f}",
            "UnusedCommitment": f"{total - used:f}",
            "UtilizationPercentage": _percent(used, total),
        }

    count = len(periods)
    return {
        "SavingsPlansUtilizationsByTime": [
            {
                "TimePeriod": {"Start": first.isoformat(), "End": following.isoformat()},
                "Utilization": utilization(usage.total_commitment, usage.used_commitment),
            }
            for first, following in periods
        ],
        "Total": {"Utilization": utilization(usage.total_commitment * count, usage.used_commitment * count)},
    }


def get_savings_plans_coverage(self: CostExplorerBackend, params: dict[str, Any]) -> dict[str, Any]:
    """GetSavingsPlansCoverage: the seeded covered and on-demand spend in every period.

    Without seeded usage nothing is covered: the on-demand cost is the period's spend of the
    line items that pass the Filter (0% coverage), and no line items answer no coverages.
    """
    if params.get("GroupBy") and params.get("Granularity"):
        # "Granularity can't be set if GroupBy is set" (GetSavingsPlansCoverageRequest).
        raise _validation("Granularity can't be set if GroupBy is set")
    if params.get("GroupBy"):
        raise _validation("The embedded AWS does not group Savings Plans coverage")
    state = _state(self)
    periods = _savings_plans_period(params, params.get("Granularity"))
    active = _active_tag_keys(state)
    expression = params.get("Filter")
    coverages = []
    for first, following in periods:
        if state.savings_plans_usage is not None:
            covered, on_demand = (
                state.savings_plans_usage.covered_spend,
                state.savings_plans_usage.on_demand_cost,
            )
        else:
            spent = [
                i.amount
                for i in state.line_items
                if first <= i.day < following and (not expression or _matches(expression, i, active))
            ]
            if not spent:
                continue
            covered, on_demand = Decimal(0), sum(spent, Decimal(0))
        total = covered + on_demand
        coverages.append(
            {
                "TimePeriod": {"Start": first.isoformat(), "End": following.isoformat()},
                "Coverage": {
                    "SpendCoveredBySavingsPlans": f"{covered:f}",
                    "OnDemandCost": f"{on_demand:f}",
                    "TotalCost": f"{total:f}",
                    "CoveragePercentage": _percent(covered, total),
                },
            }
        )
    size = params.get("MaxResults") or COVERAGE_PAGE_SIZE
    offset = _page_offset(params, "NextToken")
    answer: dict[str, Any] = {"SavingsPlansCoverages": coverages[offset : offset + size]}
    if offset + size < len(coverages):
        answer["NextToken"] = _page_token(offset + size, params, "NextToken")
    return answer


def get_savings_plans_purchase_recommendation(
    self: CostExplorerBackend, params: dict[str, Any]
) -> dict[str, Any]:
    """GetSavingsPlansPurchaseRecommendation: the seeded recommendation echoing the request.

    The response "Contains your request parameters, Savings Plan Recommendations Summary, and
    Details" (botocore's doc of SavingsPlansPurchaseRecommendation): SavingsPlansType,
    TermInYears, PaymentOption, LookbackPeriodInDays and AccountScope are the request's.
    Without a recommendation (too little usage in the lookback period, or a type other than
    SAGEMAKER_SP seeded here) the answer has the request's parameters and no summary or
    details (unsure: AWS's exact answer then is not documented).
    """
    state = _state(self)
    echoed = {
        "AccountScope": params.get("AccountScope") or "PAYER",
        "SavingsPlansType": params["SavingsPlansType"],
        "TermInYears": params["TermInYears"],
        "PaymentOption": params["PaymentOption"],
        "LookbackPeriodInDays": params["LookbackPeriodInDays"],
    }
    metadata = {
        "RecommendationId": str(uuid.uuid5(uuid.NAMESPACE_URL, json.dumps(echoed, sort_keys=True))),
        "GenerationTimestamp": datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
    }
    seeded = state.recommendation
    if seeded is None or params["SavingsPlansType"] != SAGEMAKER_SP:
        return {"Metadata": metadata, "SavingsPlansPurchaseRecommendation": echoed}
    details = list(seeded.get("SavingsPlansPurchaseRecommendationDetails", []))
    size = params.get("PageSize") or len(details) or 1
    offset = _page_offset(params, "NextPageToken")
    recommendation = {
        **seeded,
        **echoed,
        "SavingsPlansPurchaseRecommendationDetails": details[offset : offset + size],
    }
    answer: dict[str, Any] = {"Metadata": metadata, "SavingsPlansPurchaseRecommendation": recommendation}
    if offset + size < len(details):
        answer["NextPageToken"] = _page_token(offset + size, params, "NextPageToken")
    return answer


def _r_get_cost_forecast(self: CostExplorerResponse) -> str:
    return json.dumps(get_cost_forecast(self.ce_backend, json.loads(self.body or "{}")))


def _r_list_cost_allocation_tags(self: CostExplorerResponse) -> str:
    return json.dumps(list_cost_allocation_tags(self.ce_backend, json.loads(self.body or "{}")))


def _r_get_savings_plans_utilization(self: CostExplorerResponse) -> str:
    return json.dumps(get_savings_plans_utilization(self.ce_backend, json.loads(self.body or "{}")))


def _r_get_savings_plans_coverage(self: CostExplorerResponse) -> str:
    return json.dumps(get_savings_plans_coverage(self.ce_backend, json.loads(self.body or "{}")))


def _r_get_savings_plans_purchase_recommendation(self: CostExplorerResponse) -> str:
    params = json.loads(self.body or "{}")
    return json.dumps(get_savings_plans_purchase_recommendation(self.ce_backend, params))


def _backend(account_id: str) -> CostExplorerBackend:
    # Cost Explorer is global: moto keeps one backend per partition ("aws").
    return ce_backends[account_id]["aws"]


def queue_cost_forecast(results: list[dict[str, Any]], *, account_id: str = DEFAULT_ACCOUNT_ID) -> None:
    """Test hook: queue GetCostForecast responses ({"Total": ..., "ForecastResultsByTime": ...})."""
    _state(_backend(account_id)).forecast_queue.extend(results)


def set_cost_allocation_tags(tags: list[dict[str, Any]], *, account_id: str = DEFAULT_ACCOUNT_ID) -> None:
    """Test hook: the account's cost-allocation tags, replacing any set before.

    Each tag needs TagKey and Status (Active | Inactive); Type defaults to UserDefined.
    """
    checked = []
    for tag in tags:
        if not tag.get("TagKey") or tag.get("Status") not in ("Active", "Inactive"):
            raise ValueError(f"a cost allocation tag needs TagKey and Status Active|Inactive: {tag}")
        checked.append({"Type": "UserDefined", **tag})
    _state(_backend(account_id)).cost_allocation_tags = checked


def _line_item(raw: dict[str, Any]) -> LineItem:
    amount = to_decimal(raw.get("amount"))
    if amount is None:
        raise ValueError(f"a line item needs a numeric amount: {raw}")
    tags = raw.get("tags") or {}
    if not isinstance(tags, dict):
        raise TypeError(f"a line item's tags are a JSON object: {raw}")
    return LineItem(
        day=date.fromisoformat(str(raw["date"])),
        service=str(raw.get("service", "Amazon SageMaker")),
        usage_type=str(raw["usageType"]),
        amount=amount,
        tags=tuple(sorted((str(k), str(v)) for k, v in tags.items())),
    )


def add_cost_line_items(items: list[dict[str, Any]], *, account_id: str = DEFAULT_ACCOUNT_ID) -> None:
    """Test hook: add line items ({"date", "service"?, "usageType", "amount", "tags"?}).

    Once an account has line items, GetCostAndUsage answers from them instead of moto's queue.
    """
    parsed = [_line_item(raw) for raw in items]  # all or nothing
    _state(_backend(account_id)).line_items.extend(parsed)


def set_savings_plans_usage(
    *,
    total_commitment: str,
    used_commitment: str,
    covered_spend: str,
    on_demand_cost: str,
    account_id: str = DEFAULT_ACCOUNT_ID,
) -> None:
    """Test hook: what GetSavingsPlansUtilization and GetSavingsPlansCoverage report per period."""
    values = [to_decimal(v) for v in (total_commitment, used_commitment, covered_spend, on_demand_cost)]
    if any(v is None or v < 0 for v in values):
        raise ValueError("Savings Plans usage figures are non-negative numbers")
    total, used, covered, on_demand = (v for v in values if v is not None)
    if used > total:
        raise ValueError("used_commitment cannot exceed total_commitment")
    _state(_backend(account_id)).savings_plans_usage = SavingsPlansUsage(total, used, covered, on_demand)


def set_savings_plans_recommendation(
    recommendation: dict[str, Any] | None, *, account_id: str = DEFAULT_ACCOUNT_ID
) -> None:
    """Test hook: the SavingsPlansPurchaseRecommendation (botocore shape) for SAGEMAKER_SP, or
    None for "no recommendation". The request's term, payment option and lookback are echoed."""
    if recommendation is not None and not isinstance(recommendation, dict):
        raise TypeError("the recommendation is a JSON object or null")
    _state(_backend(account_id)).recommendation = recommendation


def install() -> None:
    """Patch moto's Cost Explorer backend and response classes."""
    patch(CostExplorerBackend, "get_cost_and_usage", get_cost_and_usage)
    patch(CostExplorerBackend, "get_savings_plans_utilization", get_savings_plans_utilization)
    patch(CostExplorerBackend, "get_savings_plans_coverage", get_savings_plans_coverage)
    patch(
        CostExplorerBackend,
        "get_savings_plans_purchase_recommendation",
        get_savings_plans_purchase_recommendation,
    )
    patch(CostExplorerResponse, "get_savings_plans_utilization", _r_get_savings_plans_utilization)
    patch(CostExplorerResponse, "get_savings_plans_coverage", _r_get_savings_plans_coverage)
    patch(
        CostExplorerResponse,
        "get_savings_plans_purchase_recommendation",
        _r_get_savings_plans_purchase_recommendation,
    )
    patch(CostExplorerBackend, "get_cost_forecast", get_cost_forecast)
    patch(CostExplorerBackend, "list_cost_allocation_tags", list_cost_allocation_tags)
    patch(CostExplorerResponse, "get_cost_forecast", _r_get_cost_forecast)
    patch(CostExplorerResponse, "list_cost_allocation_tags", _r_list_cost_allocation_tags)
