"""Cost Explorer for moto: GetCostForecast from a queue of results and ListCostAllocationTags."""

from __future__ import annotations

import calendar
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from moto.ce.models import CostExplorerBackend, ce_backends
from moto.ce.responses import CostExplorerResponse
from moto.core.exceptions import JsonRESTError

from ._common import DEFAULT_ACCOUNT_ID, ext_state, patch

__all__ = ["install", "queue_cost_forecast", "set_cost_allocation_tags"]

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


@dataclass
class CeState:
    """What the extension keeps on moto's Cost Explorer backend (reset with it)."""

    forecast_queue: list[dict[str, Any]] = field(default_factory=list)
    forecast_results: dict[str, dict[str, Any]] = field(default_factory=dict)
    cost_allocation_tags: list[dict[str, Any]] = field(default_factory=list)


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


def _r_get_cost_forecast(self: CostExplorerResponse) -> str:
    return json.dumps(get_cost_forecast(self.ce_backend, json.loads(self.body or "{}")))


def _r_list_cost_allocation_tags(self: CostExplorerResponse) -> str:
    return json.dumps(list_cost_allocation_tags(self.ce_backend, json.loads(self.body or "{}")))


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


def install() -> None:
    """Patch moto's Cost Explorer backend and response classes."""
    patch(CostExplorerBackend, "get_cost_forecast", get_cost_forecast)
    patch(CostExplorerBackend, "list_cost_allocation_tags", list_cost_allocation_tags)
    patch(CostExplorerResponse, "get_cost_forecast", _r_get_cost_forecast)
    patch(CostExplorerResponse, "list_cost_allocation_tags", _r_list_cost_allocation_tags)
