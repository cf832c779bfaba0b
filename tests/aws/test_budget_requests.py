"""The UpdateBudget request we send: every field the spec does not manage goes back as read.

AWS's UpdateBudget replaces the whole budget ("You can change every part of a budget except for
the budgetName and the calculatedSpend", botocore's UpdateBudget doc), so a field left out is
reset. botocore's Stubber checks the exact parameters, which no fake's answer can show.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from mlcost.api.v1alpha1.mlcostpolicy import BudgetSpec
from mlcost.aws.budgets import BudgetsClient
from mlcost.domain.budget import ChangeKind, ObservedBudget, desired_budget, plan_budget

ACCOUNT = "123456789012"
NAME = "team-fraud-ml"
OWNER = "team-fraud/fraud-detection"
TIME_PERIOD = {"Start": datetime(2026, 1, 1, tzinfo=UTC), "End": datetime(2087, 6, 15, tzinfo=UTC)}
COST_TYPES = {
    "IncludeTax": False,
    "IncludeSubscription": True,
    "UseBlended": False,
    "IncludeRefund": False,
    "IncludeCredit": False,
    "IncludeUpfront": True,
    "IncludeRecurring": False,
    "IncludeOtherSubscription": True,
    "IncludeSupport": False,
    "IncludeDiscount": True,
    "UseAmortized": True,
}
AUTO_ADJUST = {
    "AutoAdjustType": "HISTORICAL",
    "HistoricalOptions": {"BudgetAdjustmentPeriod": 6, "LookBackAvailablePeriods": 6},
    "LastAutoAdjustTime": datetime(2026, 11, 1, tzinfo=UTC),
}
# What AWS computes: never sent back.
COMPUTED = {
    "CalculatedSpend": {"ActualSpend": {"Amount": "12.5", "Unit": "USD"}},
    "LastUpdatedTime": datetime(2026, 11, 20, tzinfo=UTC),
    "HealthStatus": {"Status": "HEALTHY"},
}


def raw_budget(limit: str | None = "5000", **fields: Any) -> dict[str, Any]:
    """A monthly COST budget named NAME, as AWS holds or is sent it: `limit` (None: no BudgetLimit)
    and `fields`."""
    amount = {"BudgetLimit": {"Amount": limit, "Unit": "USD"}} if limit is not None else {}
    return {"BudgetName": NAME, **amount, "TimeUnit": "MONTHLY", "BudgetType": "COST", **fields}


def spec(limit: str = "5000") -> BudgetSpec:
    return BudgetSpec.model_validate(
        {
            "name": NAME,
            "limit": limit,
            "costFilters": {"services": ["Amazon SageMaker"], "tags": {"team": ["fraud"]}},
        }
    )


@pytest.fixture
def client() -> Any:
    return boto3.client(
        "budgets", region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )


def observe(client: Any, stubber: Stubber, raw: dict[str, Any]) -> ObservedBudget:
    stubber.add_response("describe_budget", {"Budget": raw}, {"AccountId": ACCOUNT, "BudgetName": NAME})
    stubber.add_response(
        "describe_notifications_for_budget", {"Notifications": []}, {"AccountId": ACCOUNT, "BudgetName": NAME}
    )
    stubber.add_response(
        "list_tags_for_resource",
        {"ResourceTags": [{"Key": "mlcost.io/managed-by", "Value": OWNER}]},
        {"ResourceARN": f"arn:aws:budgets::{ACCOUNT}:budget/{NAME}"},
    )
    observed = BudgetsClient(client, ACCOUNT).describe(NAME)
    assert observed is not None
    return observed


def send_update(
    client: Any, raw: dict[str, Any], expected_budget: dict[str, Any], limit: str = "5000"
) -> None:
    with Stubber(client) as stubber:
        observed = observe(client, stubber, raw)
        desired = desired_budget(spec(limit), "team-fraud", "fraud-detection")
        plan = plan_budget(desired, observed, owner=OWNER, adopt=False)
        assert [c.kind for c in plan.changes] == [ChangeKind.UPDATE_BUDGET]
        stubber.add_response("update_budget", {}, {"AccountId": ACCOUNT, "NewBudget": expected_budget})
        BudgetsClient(client, ACCOUNT).update(desired, observed)
        stubber.assert_no_pending_responses()


def test_cost_filter_budget_keeps_cost_types_auto_adjust_and_the_rest(client: Any) -> None:
    kept = {
        "CostTypes": COST_TYPES,
        "TimePeriod": TIME_PERIOD,
        "AutoAdjustData": AUTO_ADJUST,
        "BillingViewArn": f"arn:aws:billing::{ACCOUNT}:billingview/primary",
    }
    raw = raw_budget("4000.0", CostFilters={"Service": ["Amazon SageMaker"]}, **kept, **COMPUTED)
    # The limit is AWS's to set on an auto-adjusting budget: the spec agrees with it here.
    send_update(
        client,
        raw,
        raw_budget(
            "4000",
            CostFilters={"Service": ["Amazon SageMaker"], "TagKeyValue": ["user:team$fraud"]},
            **kept,
        ),
        limit="4000",
    )


def test_filter_expression_budget_is_sent_in_its_own_form_with_planned_limits(client: Any) -> None:
    planned = {
        "1764547200": {"Amount": "5000", "Unit": "USD"},  # 2025-12-01: long started, so it is current
        "4102444800": {"Amount": "9000", "Unit": "USD"},  # 2100-01-01
    }
    # AWS may answer a planned budget with the current limit too; only one may be sent.
    raw = raw_budget(
        "5000",
        PlannedBudgetLimits=planned,
        FilterExpression={"Tags": {"Key": "team", "Values": ["fraud"]}},
        Metrics=["NetUnblendedCost"],
        TimePeriod=TIME_PERIOD,
        **COMPUTED,
    )
    send_update(
        client,
        raw,
        raw_budget(
            None,
            PlannedBudgetLimits=planned,
            FilterExpression={
                "And": [
                    {"Dimensions": {"Key": "SERVICE", "Values": ["Amazon SageMaker"]}},
                    {"Tags": {"Key": "team", "Values": ["fraud"]}},
                ]
            },
            Metrics=["NetUnblendedCost"],
            TimePeriod=TIME_PERIOD,
        ),
    )


def test_reading_a_filter_expression_budget(client: Any) -> None:
    raw = raw_budget(
        FilterExpression={
            "And": [
                {"Dimensions": {"Key": "SERVICE", "Values": ["Amazon SageMaker"]}},
                {"Tags": {"Key": "team", "Values": ["fraud", "risk"]}},
            ]
        },
        Metrics=["AmortizedCost"],
    )
    with Stubber(client) as stubber:
        budget = observe(client, stubber, raw).budget
    assert budget.cost_filters == {
        "Service": ("Amazon SageMaker",),
        "TagKeyValue": ("user:team$fraud", "user:team$risk"),
    }
    assert budget.metric == "AmortizedCost"
    assert budget.unsupported == ""
    assert budget.limit == Decimal(5000)


@pytest.mark.parametrize(
    ("fields", "why"),
    [
        ({"FilterExpression": {"Not": {"Dimensions": {"Key": "SERVICE", "Values": ["Tax"]}}}}, "uses Not"),
        (
            {"FilterExpression": {"Dimensions": {"Key": "REGION", "Values": ["us-east-1"]}}},
            "the dimension REGION",
        ),
        (
            {
                "FilterExpression": {
                    "Tags": {"Key": "team", "Values": ["fr"], "MatchOptions": ["STARTS_WITH"]}
                }
            },
            "MatchOptions ['STARTS_WITH']",
        ),
        ({"Metrics": ["UsageQuantity"]}, "measures UsageQuantity, not cost"),
        ({"BudgetType": "USAGE"}, "tracks USAGE, not cost"),
    ],
)
def test_what_the_spec_cannot_say_is_named(client: Any, fields: dict[str, Any], why: str) -> None:
    raw = raw_budget(**fields)
    with Stubber(client) as stubber:
        observed = observe(client, stubber, raw)
    assert why in observed.budget.unsupported
    plan = plan_budget(
        desired_budget(spec(), "team-fraud", "fraud-detection"), observed, owner=OWNER, adopt=True
    )
    assert plan.changes == [] and plan.blocker is not None
    assert why in plan.blocker_message


# The embedded AWS answers UpdateBudget as AWS does, so a request that leaves fields out shows.


def test_embedded_update_budget_resets_what_it_is_not_sent(aws_client: Any) -> None:
    budgets = aws_client("budgets")
    budgets.create_budget(
        AccountId=ACCOUNT,
        Budget=raw_budget(
            CostFilters={"Service": ["Amazon SageMaker"]},
            CostTypes=COST_TYPES,
            AutoAdjustData={
                "AutoAdjustType": "HISTORICAL",
                "HistoricalOptions": {"BudgetAdjustmentPeriod": 6},
            },
        ),
    )
    # What the operator sent before it read back the fields it does not manage.
    budgets.update_budget(
        AccountId=ACCOUNT,
        NewBudget=raw_budget("6000", CostFilters={"Service": ["Amazon SageMaker"]}),
    )
    after = budgets.describe_budget(AccountId=ACCOUNT, BudgetName=NAME)["Budget"]
    assert "AutoAdjustData" not in after
    assert after["CostTypes"]["IncludeCredit"] is True  # back to AWS's default
    assert after["CostTypes"]["UseAmortized"] is False


def test_embedded_budget_refuses_a_mix_of_filter_forms(aws_client: Any) -> None:
    budgets = aws_client("budgets")
    with pytest.raises(budgets.exceptions.InvalidParameterException, match="not both"):
        budgets.create_budget(
            AccountId=ACCOUNT,
            Budget=raw_budget(CostFilters={"Service": ["Amazon SageMaker"]}, Metrics=["UnblendedCost"]),
        )
    budgets.create_budget(
        AccountId=ACCOUNT,
        Budget=raw_budget(
            FilterExpression={"Dimensions": {"Key": "SERVICE", "Values": ["Amazon SageMaker"]}},
            Metrics=["UnblendedCost"],
        ),
    )
    # No CostTypes defaults on a FilterExpression budget: sent back, they would make a mix.
    assert "CostTypes" not in budgets.describe_budget(AccountId=ACCOUNT, BudgetName=NAME)["Budget"]
