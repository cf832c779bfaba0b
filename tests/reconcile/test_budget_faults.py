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
