"""HTTP routes under /moto-api/ that expose the extensions' test hooks to other processes.

Every route takes and returns JSON. account_id and region are optional in each body.

    POST   /moto-api/static/ce/cost-forecast-results    {"results": [GetCostForecast response, ...]}
    POST   /moto-api/mlcost/ce/cost-allocation-tags      {"tags": [{"TagKey", "Status", "Type"?}]}
    POST   /moto-api/mlcost/ce/line-items                {"items": [{"date", "service"?, "usageType",
                                                                     "amount", "tags"?}]}
    POST   /moto-api/mlcost/ce/savings-plans-usage       {"total_commitment", "used_commitment",
                                                          "covered_spend", "on_demand_cost"}
    POST   /moto-api/mlcost/ce/savings-plans-recommendation
                                                         {"recommendation": {...} | null}
    POST   /moto-api/mlcost/savingsplans/plans           {"plans": [SavingsPlan, ...]}
    POST   /moto-api/mlcost/budgets/calculated-spend     {"budget_name", "actual", "forecasted"?}
    POST   /moto-api/mlcost/sagemaker/transition-delay   {"describes": 1}
    POST   /moto-api/mlcost/sagemaker/failing-endpoint-configs
                                                         {"endpoint_config_name", "reason"?,
                                                          "rollback"?}
    POST   /moto-api/mlcost/sagemaker/held-training-jobs {"names": [...], "started_at"?: ISO 8601}
    POST   /moto-api/mlcost/faults                       {"service", "operation", "code",
                                                          "message"?, "count"?, "status"?}
    DELETE /moto-api/mlcost/faults
    GET    /moto-api/mlcost/calls                        -> {"calls": [{"service", "operation",
                                                                        "count"}]}
    DELETE /moto-api/mlcost/calls
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any, cast

from moto.core.common_types import TYPE_RESPONSE
from moto.moto_api._internal import urls as moto_api_urls

from . import budgets, ce, dispatch, sagemaker, savingsplans
from ._common import DEFAULT_ACCOUNT_ID

__all__ = ["ROUTES", "install"]

Body = dict[str, Any]
Handler = Callable[[str, Body], Any]  # (HTTP method, JSON body) -> JSON-able result or None


def _account(body: Body) -> str:
    return str(body.get("account_id", DEFAULT_ACCOUNT_ID))


def _region(body: Body) -> str:
    return str(body.get("region", "us-east-1"))


def _forecast(_: str, body: Body) -> None:
    ce.queue_cost_forecast(body["results"], account_id=_account(body))


def _allocation_tags(_: str, body: Body) -> None:
    ce.set_cost_allocation_tags(body["tags"], account_id=_account(body))


def _line_items(_: str, body: Body) -> None:
    ce.add_cost_line_items(body["items"], account_id=_account(body))


def _savings_plans_usage(_: str, body: Body) -> None:
    ce.set_savings_plans_usage(
        total_commitment=str(body["total_commitment"]),
        used_commitment=str(body["used_commitment"]),
        covered_spend=str(body["covered_spend"]),
        on_demand_cost=str(body["on_demand_cost"]),
        account_id=_account(body),
    )


def _recommendation(_: str, body: Body) -> None:
    ce.set_savings_plans_recommendation(body["recommendation"], account_id=_account(body))


def _plans(_: str, body: Body) -> None:
    savingsplans.set_savings_plans(body["plans"], account_id=_account(body))


def _spend(_: str, body: Body) -> None:
    budgets.set_budget_spend(
        body["budget_name"],
        body["actual"],
        body.get("forecasted"),
        unit=body.get("unit", "USD"),
        account_id=_account(body),
    )


def _delay(_: str, body: Body) -> None:
    sagemaker.set_transition_delay(int(body["describes"]), region=_region(body), account_id=_account(body))


def _failing_config(_: str, body: Body) -> None:
    sagemaker.fail_endpoint_config(
        body["endpoint_config_name"],
        body.get("reason", sagemaker.DEFAULT_FAILURE_REASON),
        rollback=bool(body.get("rollback", True)),
        region=_region(body),
        account_id=_account(body),
    )


def _held_jobs(_: str, body: Body) -> None:
    started = body.get("started_at")
    sagemaker.hold_training_jobs(
        body["names"],
        started_at=datetime.fromisoformat(started) if started else None,
        region=_region(body),
        account_id=_account(body),
    )


def _faults(method: str, body: Body) -> None:
    if method == "DELETE":
        dispatch.clear_faults()
        return
    dispatch.inject_error(
        body["service"],
        body["operation"],
        body["code"],
        body.get("message"),
        count=body.get("count", 1),
        status=body.get("status"),
    )


def _calls(method: str, _: Body) -> Any:
    if method == "DELETE":
        dispatch.reset_calls()
        return None
    counted = dispatch.calls()
    return {
        "calls": [
            {"service": service, "operation": operation, "count": count}
            for (service, operation), count in sorted(counted.items())
        ]
    }


ROUTES: dict[str, Handler] = {
    "/moto-api/static/ce/cost-forecast-results": _forecast,
    "/moto-api/mlcost/ce/cost-allocation-tags": _allocation_tags,
    "/moto-api/mlcost/ce/line-items": _line_items,
    "/moto-api/mlcost/ce/savings-plans-usage": _savings_plans_usage,
    "/moto-api/mlcost/ce/savings-plans-recommendation": _recommendation,
    "/moto-api/mlcost/savingsplans/plans": _plans,
    "/moto-api/mlcost/budgets/calculated-spend": _spend,
    "/moto-api/mlcost/sagemaker/transition-delay": _delay,
    "/moto-api/mlcost/sagemaker/failing-endpoint-configs": _failing_config,
    "/moto-api/mlcost/sagemaker/held-training-jobs": _held_jobs,
    "/moto-api/mlcost/faults": _faults,
    "/moto-api/mlcost/calls": _calls,
}


def _view(path: str, handler: Handler) -> Callable[[Any, str, Any], TYPE_RESPONSE]:
    json_headers = {"Content-Type": "application/json"}

    def view(request: Any, full_url: str, headers: Any) -> TYPE_RESPONSE:
        try:
            raw = request.get_data() or b"{}"
            body = json.loads(raw) if request.method in ("POST", "PUT") else {}
            if not isinstance(body, dict):
                raise TypeError("the body must be a JSON object")
            result = handler(request.method, body)
        except KeyError as error:
            return 400, json_headers, json.dumps({"error": f"missing field {error}"})
        except LookupError as error:  # no such budget
            return 404, json_headers, json.dumps({"error": str(error)})
        except (TypeError, ValueError) as error:
            return 400, json_headers, json.dumps({"error": f"{type(error).__name__}: {error}"})
        if result is None:
            return 201, json_headers, json.dumps({"status": "ok"})
        return 200, json_headers, json.dumps(result)

    # Flask names its endpoints after the view; give each route its own name.
    view.__name__ = "mlcost" + path.replace("/", "_").replace("-", "_")
    return view


def install() -> None:
    """Add the routes to moto's /moto-api app (read when a server first serves /moto-api)."""
    url_paths = cast(dict[str, Any], moto_api_urls.url_paths)
    for path, handler in ROUTES.items():
        url_paths["{0}" + path] = _view(path, handler)
