"""AWS Savings Plans (`savingsplans`) for moto, which has none: DescribeSavingsPlans.

moto has no savingsplans backend, so its dispatcher cannot route these requests. As for the
Price List API (pricing.py), install() routes every request signed for `savingsplans` to a
small Flask app whose handler is a moto BaseResponse: the dispatch hooks count the calls,
inject errors and (strict mode) check the answers as for any other service. The service speaks
rest-json: POST /DescribeSavingsPlans with a JSON body (botocore's savingsplans model).

The plans are what a test seeds (set_savings_plans), dicts in botocore's SavingsPlan shape.
Other operations (CreateSavingsPlan, ...) answer 501: the operator never buys anything.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable
from typing import Any

from flask import Flask
from moto.core.exceptions import JsonRESTError
from moto.core.responses import BaseResponse
from moto.core.utils import convert_to_flask_response
from moto.moto_server.werkzeug_app import BackendRequest, DomainDispatcherApplication

from . import pricing
from ._common import DEFAULT_ACCOUNT_ID, on_reset, patch, register_operations

__all__ = ["SavingsPlansResponse", "describe_savings_plans", "install", "plans_of", "set_savings_plans"]

SIGNING_NAME = "savingsplans"
MAX_RESULTS = 1000  # DescribeSavingsPlansRequest.maxResults: 1..1000 (botocore's model)
# DescribeSavingsPlans filter name -> SavingsPlan member it compares (SavingsPlansFilterName).
# "term" compares termDurationInSeconds and "start"/"end" dates: how AWS matches their values
# is not documented (unsure), so the embedded AWS refuses them rather than guess.
_FILTER_MEMBERS = {
    "region": "region",
    "ec2-instance-family": "ec2InstanceFamily",
    "instance-family": "ec2InstanceFamily",
    "commitment": "commitment",
    "upfront": "upfrontPaymentAmount",
    "savings-plan-type": "savingsPlanType",
    "payment-option": "paymentOption",
}

_lock = threading.Lock()
# account id -> the plans seeded for it; emptied by POST /moto-api/reset.
_plans: dict[str, list[dict[str, Any]]] = {}


def _reset() -> None:
    with _lock:
        _plans.clear()


def set_savings_plans(plans: list[dict[str, Any]], *, account_id: str = DEFAULT_ACCOUNT_ID) -> None:
    """Test hook: the account's Savings Plans (botocore's SavingsPlan dicts), replacing any before.

    Each needs savingsPlanId, savingsPlanArn, start, end, state, savingsPlanType,
    paymentOption, commitment and termDurationInSeconds.
    """
    required = (
        "savingsPlanId",
        "savingsPlanArn",
        "start",
        "end",
        "state",
        "savingsPlanType",
        "paymentOption",
        "commitment",
        "termDurationInSeconds",
    )
    for plan in plans:
        missing = [name for name in required if name not in plan]
        if missing:
            raise ValueError(f"a Savings Plan needs {missing}: {plan}")
    with _lock:
        _plans[account_id] = [dict(plan) for plan in plans]


def plans_of(account_id: str) -> list[dict[str, Any]]:
    """The plans seeded for an account (Cost Explorer's Savings Plans reads look at their ARNs)."""
    with _lock:
        return [dict(plan) for plan in _plans.get(account_id, [])]


def _invalid(message: str) -> JsonRESTError:
    # DescribeSavingsPlans models ValidationException (and InternalServerException) only.
    return JsonRESTError("ValidationException", message)


def _matches(plan: dict[str, Any], filters: list[dict[str, Any]]) -> bool:
    for filter_ in filters:
        name = str(filter_.get("name"))
        member = _FILTER_MEMBERS.get(name)
        if member is None:
            raise _invalid(f"The embedded AWS does not filter Savings Plans on {name!r}")
        if str(plan.get(member)) not in [str(v) for v in filter_.get("values", [])]:
            return False
    return True


def _offset(token: object) -> int:
    if not token:
        return 0
    try:
        offset = int(base64.urlsafe_b64decode(str(token).encode()).decode())
    except ValueError:
        offset = -1
    if offset < 0:
        raise _invalid("The nextToken is invalid.")
    return offset


def describe_savings_plans(account_id: str, params: dict[str, Any]) -> dict[str, Any]:
    """DescribeSavingsPlans: the plans matching every criterion (arns, ids, states, filters), paged."""
    limit = params.get("maxResults") or MAX_RESULTS
    if not isinstance(limit, int) or not 1 <= limit <= MAX_RESULTS:
        raise _invalid(f"maxResults must be between 1 and {MAX_RESULTS}")
    arns, ids = params.get("savingsPlanArns"), params.get("savingsPlanIds")
    states, filters = params.get("states"), params.get("filters") or []
    with _lock:
        plans = list(_plans.get(account_id, []))
    found = [
        plan
        for plan in plans
        if (not arns or plan["savingsPlanArn"] in arns)
        and (not ids or plan["savingsPlanId"] in ids)
        and (not states or plan["state"] in states)
        and _matches(plan, filters)
    ]
    offset = _offset(params.get("nextToken"))
    answer: dict[str, Any] = {"savingsPlans": found[offset : offset + limit]}
    if offset + limit < len(found):
        answer["nextToken"] = base64.urlsafe_b64encode(str(offset + limit).encode()).decode()
    return answer


class SavingsPlansResponse(BaseResponse):
    """Handler of the savingsplans rest-json requests (POST /<Operation>)."""

    def __init__(self) -> None:
        super().__init__(service_name="savingsplans")

    def describe_savings_plans(self) -> str:
        params = json.loads(self.body or "{}")
        if not isinstance(params, dict):
            raise _invalid("The request body must be a JSON object")
        return json.dumps(describe_savings_plans(self.current_account, params))


_app_lock = threading.Lock()
_apps: dict[str, Flask] = {}


def _savingsplans_app() -> Flask:
    with _app_lock:
        if SIGNING_NAME not in _apps:
            app = Flask("mlcost-savingsplans")
            app.request_class = BackendRequest
            app.add_url_rule(
                "/<operation>",
                endpoint="SavingsPlansResponse.dispatch",
                view_func=convert_to_flask_response(SavingsPlansResponse.dispatch),
                methods=["POST"],
                strict_slashes=False,
            )
            _apps[SIGNING_NAME] = app
        return _apps[SIGNING_NAME]


def is_savingsplans_request(environ: dict[str, Any]) -> bool:
    """Whether a request is signed for savingsplans (its SigV4 credential scope)."""
    return f"/{SIGNING_NAME}/aws4_request" in str(environ.get("HTTP_AUTHORIZATION", ""))


def _get_application(self: DomainDispatcherApplication, environ: dict[str, Any]) -> Any:
    if is_savingsplans_request(environ):
        return _savingsplans_app()
    # The Price List router, which falls back to moto's own: both patch the same method.
    pricing_get_application: Callable[..., Any] = pricing._get_application
    return pricing_get_application(self, environ)


def install() -> None:
    """Route savingsplans requests to SavingsPlansResponse (after pricing.install())."""
    register_operations("savingsplans", "DescribeSavingsPlans")
    on_reset(_reset)
    patch(DomainDispatcherApplication, "get_application", _get_application)
