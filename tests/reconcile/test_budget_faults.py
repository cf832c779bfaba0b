"""Bad input and faults: AWS rejections, missing permissions, throttling, AWS unreachable."""

from __future__ import annotations

import socket
from typing import Any

from mlcost.aws.session import CountingRecorder
from mlcost.embedded.server import EmbeddedAws
from mlcost.reconcile.policy import PolicyReconciler
from mlcost.reconcile.results import ObjectRef
from tests.reconcile.conftest import ReconcilerFactory, mutating_calls, policy_spec
from tests.reconcile.test_budget_lifecycle import ACCOUNT, NAME, REF, condition, describe, notifications


def budgets_in_aws(budgets_api: Any) -> list[str]:
    return [b["BudgetName"] for b in budgets_api.describe_budgets(AccountId=ACCOUNT).get("Budgets", [])]


def test_name_aws_rejects_gives_invalid_spec_and_creates_nothing(
    reconciler: PolicyReconciler, budgets_api: Any
) -> None:
    result = reconciler.reconcile(REF, policy_spec(name="team/action/fraud"), None)

    status, reason, message = condition(result, "BudgetSynced")
    assert (status, reason) == ("False", "InvalidSpec")
    assert "InvalidParameterException" in message
    assert condition(result, "Ready")[:2] == ("False", "InvalidSpec")
    assert budgets_in_aws(budgets_api) == []
    assert [e.type.value for e in result.outcome.events] == ["Warning"]


def test_sns_topic_of_other_region_is_refused_before_any_change(
    reconciler: PolicyReconciler, aws: EmbeddedAws
) -> None:
    spec = policy_spec(
        notifications=[
            {"type": "ACTUAL", "threshold": "80", "snsTopicArn": "arn:aws:sns:eu-west-1:123456789012:t"}
        ]
    )

    result = reconciler.reconcile(REF, spec, None)

    status, reason, message = condition(result, "BudgetSynced")
    assert (status, reason) == ("False", "InvalidSpec")
    assert "eu-west-1" in message
    assert mutating_calls(aws) == {}


def test_access_denied_has_its_own_reason(
    reconciler: PolicyReconciler, aws: EmbeddedAws, budgets_api: Any
) -> None:
    aws.inject_error("budgets", "CreateBudget", "AccessDeniedException", "User is not authorized", count=None)

    result = reconciler.reconcile(REF, policy_spec(), None)

    _, reason, message = condition(result, "BudgetSynced")
    assert reason == "AccessDenied"
    assert "budgets:CreateBudget" in message and "iam-policy.json" in message
    assert budgets_in_aws(budgets_api) == []


def test_throttling_is_retried_with_backoff_and_applied_once(
    make_reconciler: ReconcilerFactory, aws: EmbeddedAws, budgets_api: Any
) -> None:
    recorder = CountingRecorder()
    reconciler = make_reconciler(recorder=recorder)
    aws.inject_error("budgets", "CreateBudget", "ThrottlingException", "Rate exceeded", count=2)

    result = reconciler.reconcile(REF, policy_spec(), None)

    assert condition(result, "Ready")[0] == "True"
    assert budgets_in_aws(budgets_api) == [NAME]
    assert recorder.throttles[("budgets", "CreateBudget")] == 2
    assert recorder.calls[("budgets", "CreateBudget", "success")] == 1


def test_persistent_throttling_reports_then_converges_without_duplicates(
    make_reconciler: ReconcilerFactory, aws: EmbeddedAws, budgets_api: Any
) -> None:
    reconciler = make_reconciler(max_attempts=2)
    aws.inject_error("budgets", "UpdateBudget", "ThrottlingException", "Rate exceeded", count=None)
    first = reconciler.reconcile(REF, policy_spec(), None)
    edited = policy_spec(limit="6000")

    throttled = reconciler.reconcile(ObjectRef(REF.namespace, REF.name, 2), edited, first.status)

    assert condition(throttled, "BudgetSynced")[:2] == ("False", "Throttled")
    assert condition(throttled, "Ready")[1] == "Throttled"
    aws.clear_errors()
    healed = reconciler.reconcile(ObjectRef(REF.namespace, REF.name, 2), edited, throttled.status)
    assert condition(healed, "Ready")[0] == "True"
    assert float(describe(budgets_api)["BudgetLimit"]["Amount"]) == 6000
    assert len(notifications(budgets_api)) == 2


def test_failure_halfway_is_reported_and_finished_next_time(
    reconciler: PolicyReconciler, aws: EmbeddedAws, budgets_api: Any
) -> None:
    first = reconciler.reconcile(REF, policy_spec(), None)
    edited = policy_spec(
        limit="6000",
        notifications=[{"type": "ACTUAL", "threshold": "90", "emails": ["ml-leads@example.com"]}],
    )
    aws.inject_error(
        "budgets", "CreateNotification", "InternalErrorException", "boom", count=None, status=500
    )
    ref = ObjectRef(REF.namespace, REF.name, 2)

    failed = reconciler.reconcile(ref, edited, first.status)

    assert "after 1 of" in condition(failed, "BudgetSynced")[2]
    aws.clear_errors()
    aws.reset_calls()
    healed = reconciler.reconcile(ref, edited, failed.status)
    assert condition(healed, "Ready")[0] == "True"
    assert notifications(budgets_api) == {("ACTUAL", 90.0): {"ml-leads@example.com"}}
    assert ("budgets", "UpdateBudget") not in mutating_calls(aws)  # done before, not repeated


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unreachable_aws_is_reported(make_reconciler: ReconcilerFactory) -> None:
    reconciler = make_reconciler(max_attempts=1, endpoint_url=f"http://127.0.0.1:{_closed_port()}")

    result = reconciler.reconcile(REF, policy_spec(), None)

    _, reason, message = condition(result, "Ready")
    assert reason == "AwsUnavailable"
    assert "unreachable" in message


def test_aws_outage_then_recovery_converges(
    make_reconciler: ReconcilerFactory, aws: EmbeddedAws, budgets_api: Any
) -> None:
    reconciler = make_reconciler(max_attempts=1)
    aws.inject_error("budgets", "*", "ServiceUnavailable", "down", count=None, status=503)

    down = reconciler.reconcile(REF, policy_spec(), None)

    assert condition(down, "Ready")[1] == "AwsUnavailable"
    aws.clear_errors()
    up = reconciler.reconcile(REF, policy_spec(), down.status)
    assert condition(up, "Ready")[0] == "True"
    assert budgets_in_aws(budgets_api) == [NAME]


# ------------------------------------------------------------------ adopting what the spec does not manage

CUSTOM_COST_TYPES = {
    "IncludeTax": False,
    "IncludeSubscription": True,
    "UseBlended": False,
    "IncludeRefund": False,
    "IncludeCredit": False,
    "IncludeUpfront": True,
    "IncludeRecurring": True,
    "IncludeOtherSubscription": True,
    "IncludeSupport": False,
    "IncludeDiscount": True,
    "UseAmortized": False,
}


def create_console_budget(budgets_api: Any, **fields: Any) -> None:
    """A budget someone made in the console, with the settings the spec has no words for. A planned
    budget gets no BudgetLimit: AWS takes PlannedBudgetLimits or BudgetLimit, not both."""
    budget = {"BudgetName": NAME, "TimeUnit": "MONTHLY", "BudgetType": "COST", **fields}
    if "PlannedBudgetLimits" not in budget:
        budget["BudgetLimit"] = {"Amount": "5000", "Unit": "USD"}
    budgets_api.create_budget(AccountId=ACCOUNT, Budget=budget)


def adopt_spec(**budget: Any) -> Any:
    return policy_spec(adopt=True, notifications=[], **budget)


def test_adopting_keeps_cost_types_and_auto_adjust(
    reconciler: PolicyReconciler, aws: EmbeddedAws, budgets_api: Any
) -> None:
    auto_adjust = {"AutoAdjustType": "HISTORICAL", "HistoricalOptions": {"BudgetAdjustmentPeriod": 6}}
    create_console_budget(
        budgets_api,
        CostFilters={"Service": ["Amazon SageMaker"]},
        CostTypes=CUSTOM_COST_TYPES,
        AutoAdjustData=auto_adjust,
    )

    result = reconciler.reconcile(REF, adopt_spec(), None)
    # The spec adds the tag filter: one UpdateBudget, which must carry the rest back unchanged.
    assert condition(result, "BudgetSynced")[:2] == ("True", "Applied")
    assert mutating_calls(aws)[("budgets", "UpdateBudget")] == 1
    budget = describe(budgets_api)
    assert budget["CostFilters"] == {"Service": ["Amazon SageMaker"], "TagKeyValue": ["user:team$fraud"]}
    assert budget["CostTypes"] == CUSTOM_COST_TYPES
    assert budget["AutoAdjustData"]["HistoricalOptions"] == {"BudgetAdjustmentPeriod": 6}

    # And at every resync after it: nothing to change, nothing sent.
    aws.reset_calls()
    again = reconciler.reconcile(REF, adopt_spec(), result.status)
    assert condition(again, "BudgetSynced")[:2] == ("True", "InSync")
    assert mutating_calls(aws) == {}


def test_planned_limits_are_kept_when_the_limit_agrees(
    reconciler: PolicyReconciler, aws: EmbeddedAws, budgets_api: Any, clock: Any
) -> None:
    month = clock.now.replace(day=1, hour=0, minute=0, second=0)
    starts = [month.replace(month=m) if m >= month.month else month.replace(year=month.year + 1, month=m)
              for m in range(1, 13)]  # fmt: skip
    planned = {
        str(int(s.timestamp())): {"Amount": "5000" if s == month else "6000", "Unit": "USD"} for s in starts
    }
    create_console_budget(budgets_api, PlannedBudgetLimits=planned)

    result = reconciler.reconcile(REF, adopt_spec(), None)

    assert condition(result, "BudgetSynced")[:2] == ("True", "Applied")
    budget = describe(budgets_api)
    assert budget["PlannedBudgetLimits"] == planned
    assert "TagKeyValue" in budget["CostFilters"]


def test_planned_limits_that_disagree_are_refused_before_any_change(
    reconciler: PolicyReconciler, aws: EmbeddedAws, budgets_api: Any, clock: Any
) -> None:
    month = clock.now.replace(day=1, hour=0, minute=0, second=0)
    planned = {str(int(month.timestamp())): {"Amount": "4000", "Unit": "USD"}}
    create_console_budget(budgets_api, PlannedBudgetLimits=planned)
    aws.reset_calls()

    result = reconciler.reconcile(REF, adopt_spec(), None)

    status, reason, message = condition(result, "BudgetSynced")
    assert (status, reason) == ("False", "BudgetNotManageable")
    assert "PlannedBudgetLimits" in message and 'spec.budget.limit: "4000"' in message
    assert "BudgetNotManageable" in [e.reason for e in result.outcome.events]
    assert mutating_calls(aws) == {}  # not even the ownership tag


def test_filter_expression_budget_is_read_and_kept_in_its_form(
    reconciler: PolicyReconciler, aws: EmbeddedAws, budgets_api: Any, clock: Any
) -> None:
    create_console_budget(
        budgets_api,
        FilterExpression={"Dimensions": {"Key": "SERVICE", "Values": ["Amazon SageMaker"]}},
        Metrics=["AmortizedCost"],
    )
    day = clock.now.date()
    aws.queue_cost_and_usage(
        [
            {
                "ResultsByTime": [
                    {
                        "TimePeriod": {"Start": day.isoformat(), "End": day.isoformat()},
                        "Total": {"AmortizedCost": {"Amount": "12.50", "Unit": "USD"}},
                    }
                ]
            }
        ]
    )

    result = reconciler.reconcile(REF, adopt_spec(), None)

    assert condition(result, "BudgetSynced")[:2] == ("True", "Applied")
    budget = describe(budgets_api)
    # Updated in the budget's own form: the tag filter joins the expression, Metrics stay.
    assert budget["FilterExpression"] == {
        "And": [
            {"Dimensions": {"Key": "SERVICE", "Values": ["Amazon SageMaker"]}},
            {"Tags": {"Key": "team", "Values": ["fraud"]}},
        ]
    }
    assert budget["Metrics"] == ["AmortizedCost"]
    assert "CostFilters" not in budget and "CostTypes" not in budget
    # The status spend is read in the metric the budget tracks.
    assert result.status.budget is not None and str(result.status.budget.actual_spend) == "12.50"

    aws.reset_calls()
    again = reconciler.reconcile(REF, adopt_spec(), result.status)
    assert condition(again, "BudgetSynced")[:2] == ("True", "InSync")
    assert mutating_calls(aws) == {}


def test_filter_expression_the_spec_cannot_say_is_refused(
    reconciler: PolicyReconciler, aws: EmbeddedAws, budgets_api: Any
) -> None:
    expression = {
        "Or": [
            {"Dimensions": {"Key": "SERVICE", "Values": ["Amazon SageMaker"]}},
            {"Dimensions": {"Key": "SERVICE", "Values": ["Amazon Simple Storage Service"]}},
        ]
    }
    create_console_budget(budgets_api, FilterExpression=expression, Metrics=["UnblendedCost"])
    aws.reset_calls()

    result = reconciler.reconcile(REF, adopt_spec(), None)

    status, reason, message = condition(result, "BudgetSynced")
    assert (status, reason) == ("False", "BudgetNotManageable")
    assert "FilterExpression that uses Or" in message
    assert mutating_calls(aws) == {}
    assert describe(budgets_api)["FilterExpression"] == expression
