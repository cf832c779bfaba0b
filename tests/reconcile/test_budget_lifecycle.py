"""A policy's AWS Budget: create, update, drift, ownership, deletion, against the embedded AWS."""

from __future__ import annotations

from typing import Any

from mlcost.api.common import AwsTarget
from mlcost.api.v1alpha1.mlcostpolicy import MLCostPolicyStatus
from mlcost.constants import MANAGED_BY_TAG
from mlcost.domain.conditions import get_condition
from mlcost.embedded.server import EmbeddedAws
from mlcost.reconcile.policy import PolicyReconciler, PolicyResult
from mlcost.reconcile.results import ObjectRef
from tests.reconcile.conftest import mutating_calls, policy_spec

ACCOUNT = "123456789012"
REF = ObjectRef("team-fraud", "fraud-detection", generation=1)
NAME = "team-fraud-fraud-detection"


def condition(result: PolicyResult, type_: str) -> tuple[str, str, str]:
    found = get_condition(result.status.conditions, type_)
    assert found is not None, f"no {type_} condition"
    return found.status.value, found.reason, found.message


def describe(budgets_api: Any, name: str = NAME) -> dict[str, Any]:
    return dict(budgets_api.describe_budget(AccountId=ACCOUNT, BudgetName=name)["Budget"])


def notifications(budgets_api: Any, name: str = NAME) -> dict[tuple[str, float], set[str]]:
    found = {}
    for n in budgets_api.describe_notifications_for_budget(AccountId=ACCOUNT, BudgetName=name)[
        "Notifications"
    ]:
        subs = budgets_api.describe_subscribers_for_notification(
            AccountId=ACCOUNT, BudgetName=name, Notification=n
        )["Subscribers"]
        found[(n["NotificationType"], n["Threshold"])] = {s["Address"] for s in subs}
    return found


def owner(budgets_api: Any, name: str = NAME) -> str | None:
    tags = budgets_api.list_tags_for_resource(ResourceARN=f"arn:aws:budgets::{ACCOUNT}:budget/{name}")
    return next((t["Value"] for t in tags["ResourceTags"] if t["Key"] == MANAGED_BY_TAG), None)


def create_foreign_budget(budgets_api: Any, name: str = NAME) -> None:
    """A 10 USD budget someone made in the console: no managed-by tag."""
    budgets_api.create_budget(
        AccountId=ACCOUNT,
        Budget={
            "BudgetName": name,
            "BudgetLimit": {"Amount": "10", "Unit": "USD"},
            "TimeUnit": "MONTHLY",
            "BudgetType": "COST",
        },
    )


def test_create_builds_the_whole_budget_in_aws(reconciler: PolicyReconciler, budgets_api: Any) -> None:
    result = reconciler.reconcile(REF, policy_spec(), None)

    assert condition(result, "Ready")[0] == "True"
    assert condition(result, "BudgetSynced")[:2] == ("True", "Applied")
    budget = describe(budgets_api)
    assert float(budget["BudgetLimit"]["Amount"]) == 5000
    assert budget["TimeUnit"] == "MONTHLY"
    assert budget["CostFilters"] == {"Service": ["Amazon SageMaker"], "TagKeyValue": ["user:team$fraud"]}
    assert notifications(budgets_api) == {
        ("ACTUAL", 80.0): {"ml-leads@example.com"},
        ("FORECASTED", 100.0): {"ml-leads@example.com", "arn:aws:sns:us-east-1:123456789012:ml-cost"},
    }
    assert owner(budgets_api) == "team-fraud/fraud-detection"
    assert [e.reason for e in result.outcome.events] == ["BudgetCreated"]
    assert result.status.budget is not None
    assert result.status.budget.arn == f"arn:aws:budgets::{ACCOUNT}:budget/{NAME}"
    assert str(result.status.budget.limit) == "5000"


def test_second_reconcile_makes_no_mutating_call(reconciler: PolicyReconciler, aws: EmbeddedAws) -> None:
    first = reconciler.reconcile(REF, policy_spec(), None)
    aws.reset_calls()

    second = reconciler.reconcile(REF, policy_spec(), first.status)

    assert mutating_calls(aws) == {}
    assert second.outcome.changes == []
    assert second.outcome.events == []
    assert condition(second, "BudgetSynced")[1] == "InSync"


def test_spec_edit_updates_budget_in_place(
    reconciler: PolicyReconciler, budgets_api: Any, aws: EmbeddedAws
) -> None:
    first = reconciler.reconcile(REF, policy_spec(), None)
    edited = policy_spec(
        limit="7500",
        timeUnit="QUARTERLY",
        notifications=[
            {"type": "ACTUAL", "threshold": "80", "emails": ["ml-leads@example.com", "finops@example.com"]},
            {"type": "ACTUAL", "threshold": "100", "emails": ["oncall@example.com"]},
        ],
    )
    aws.reset_calls()

    result = reconciler.reconcile(ObjectRef(REF.namespace, REF.name, generation=2), edited, first.status)

    assert condition(result, "Ready")[0] == "True"
    budget = describe(budgets_api)
    assert float(budget["BudgetLimit"]["Amount"]) == 7500
    assert budget["TimeUnit"] == "QUARTERLY"
    assert notifications(budgets_api) == {
        ("ACTUAL", 80.0): {"ml-leads@example.com", "finops@example.com"},
        ("ACTUAL", 100.0): {"oncall@example.com"},
    }
    calls = mutating_calls(aws)
    assert calls.get(("budgets", "UpdateBudget")) == 1
    assert ("budgets", "DeleteBudget") not in calls and ("budgets", "CreateBudget") not in calls
    assert {e.reason for e in result.outcome.events} == {"BudgetUpdated"}


def test_console_change_is_reverted_on_resync(reconciler: PolicyReconciler, budgets_api: Any) -> None:
    first = reconciler.reconcile(REF, policy_spec(), None)
    budget = describe(budgets_api)
    budget["BudgetLimit"] = {"Amount": "99999", "Unit": "USD"}
    budget.pop("CalculatedSpend", None)
    budgets_api.update_budget(AccountId=ACCOUNT, NewBudget=budget)
    budgets_api.delete_notification(
        AccountId=ACCOUNT,
        BudgetName=NAME,
        Notification={
            "NotificationType": "ACTUAL",
            "ComparisonOperator": "GREATER_THAN",
            "Threshold": 80.0,
            "ThresholdType": "PERCENTAGE",
        },
    )

    result = reconciler.reconcile(REF, policy_spec(), first.status)

    assert float(describe(budgets_api)["BudgetLimit"]["Amount"]) == 5000
    assert ("ACTUAL", 80.0) in notifications(budgets_api)
    assert condition(result, "BudgetSynced")[1] == "DriftReverted"
    assert {e.reason for e in result.outcome.events} == {"BudgetDriftReverted"}


def test_budget_not_created_by_operator_is_left_alone(
    reconciler: PolicyReconciler, budgets_api: Any, aws: EmbeddedAws
) -> None:
    create_foreign_budget(budgets_api)
    aws.reset_calls()

    result = reconciler.reconcile(REF, policy_spec(), None)

    status, reason, message = condition(result, "BudgetSynced")
    assert (status, reason) == ("False", "BudgetNotOwned")
    assert "adopt: true" in message
    assert condition(result, "Ready")[0] == "False"
    assert mutating_calls(aws) == {}
    assert float(describe(budgets_api)["BudgetLimit"]["Amount"]) == 10
    assert [e.reason for e in result.outcome.events] == ["BudgetNotOwned"]
    assert result.status.budget is None


def test_adopt_takes_over_and_converges(reconciler: PolicyReconciler, budgets_api: Any) -> None:
    create_foreign_budget(budgets_api)

    result = reconciler.reconcile(REF, policy_spec(adopt=True), None)

    assert condition(result, "Ready")[0] == "True"
    assert owner(budgets_api) == "team-fraud/fraud-detection"
    assert float(describe(budgets_api)["BudgetLimit"]["Amount"]) == 5000
    assert "BudgetAdopted" in [e.reason for e in result.outcome.events]


def test_budget_of_another_policy_is_never_taken(
    reconciler: PolicyReconciler, budgets_api: Any, aws: EmbeddedAws
) -> None:
    other = ObjectRef("team-risk", "risk", generation=1)
    reconciler.reconcile(other, policy_spec(name="shared-budget"), None)
    aws.reset_calls()

    result = reconciler.reconcile(REF, policy_spec(name="shared-budget", adopt=True, limit="1"), None)

    assert condition(result, "BudgetSynced")[1] == "BudgetOwnedByAnotherPolicy"
    assert mutating_calls(aws) == {}
    assert owner(budgets_api, "shared-budget") == "team-risk/risk"


def test_delete_removes_owned_budget(reconciler: PolicyReconciler, budgets_api: Any) -> None:
    status = reconciler.reconcile(REF, policy_spec(), None).status

    outcome = reconciler.finalize(REF, policy_spec(), status)

    assert [e.reason for e in outcome.events] == ["BudgetDeleted"]
    assert budgets_api.describe_budgets(AccountId=ACCOUNT).get("Budgets", []) == []


def test_retain_keeps_budget_and_releases_ownership(reconciler: PolicyReconciler, budgets_api: Any) -> None:
    spec = policy_spec(deletionPolicy="Retain")
    status = reconciler.reconcile(REF, spec, None).status

    outcome = reconciler.finalize(REF, spec, status)

    assert [e.reason for e in outcome.events] == ["BudgetRetained"]
    assert float(describe(budgets_api)["BudgetLimit"]["Amount"]) == 5000
    assert owner(budgets_api) is None


def test_delete_never_touches_a_budget_it_does_not_own(
    reconciler: PolicyReconciler, budgets_api: Any
) -> None:
    create_foreign_budget(budgets_api)

    outcome = reconciler.finalize(REF, policy_spec(), MLCostPolicyStatus())

    assert [e.reason for e in outcome.events] == ["BudgetLeft"]
    assert float(describe(budgets_api)["BudgetLimit"]["Amount"]) == 10


def test_delete_of_budget_already_gone_succeeds(reconciler: PolicyReconciler) -> None:
    outcome = reconciler.finalize(REF, policy_spec(), MLCostPolicyStatus())
    assert [e.reason for e in outcome.events] == ["BudgetGone"]


def test_renaming_the_budget_is_refused(
    reconciler: PolicyReconciler, budgets_api: Any, aws: EmbeddedAws
) -> None:
    status = reconciler.reconcile(REF, policy_spec(), None).status
    aws.reset_calls()

    result = reconciler.reconcile(ObjectRef(REF.namespace, REF.name, 2), policy_spec(name="renamed"), status)

    _, reason, message = condition(result, "BudgetSynced")
    assert reason == "InvalidSpec"
    assert "never renames" in message
    assert mutating_calls(aws) == {}


def test_role_arn_is_assumed_once_and_used_for_the_budget(
    reconciler: PolicyReconciler, aws: EmbeddedAws, budgets_api: Any
) -> None:
    spec = policy_spec(notifications=[])
    spec.aws = AwsTarget.model_validate(
        {"roleArn": "arn:aws:iam::111122223333:role/mlcost-governor", "region": "us-east-1"}
    )

    first = reconciler.reconcile(REF, spec, None)
    reconciler.reconcile(REF, spec, first.status)

    assert first.status.budget is not None
    assert first.status.budget.arn == f"arn:aws:budgets::111122223333:budget/{NAME}"
    assert budgets_api.describe_budgets(AccountId=ACCOUNT).get("Budgets", []) == []  # not in ours
    assert aws.calls()[("sts", "AssumeRole")] == 1
