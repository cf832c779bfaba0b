"""plan_budget: which changes bring an observed AWS budget to the spec, and when to refuse."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from mlcost.api.v1alpha1.mlcostpolicy import BudgetSpec
from mlcost.domain.budget import (
    Blocker,
    Budget,
    ChangeKind,
    NotificationKey,
    ObservedBudget,
    Subscriber,
    check_feasible,
    desired_budget,
    plan_budget,
)
from mlcost.domain.errors import InvalidSpec

OWNER = "team-fraud/fraud-detection"
ACTUAL_80 = NotificationKey("ACTUAL", "GREATER_THAN", Decimal("80"), "PERCENTAGE")
FORECAST_100 = NotificationKey("FORECASTED", "GREATER_THAN", Decimal("100"), "PERCENTAGE")
LEADS = Subscriber("EMAIL", "ml-leads@example.com")
ONCALL = Subscriber("EMAIL", "oncall@example.com")


def spec(**overrides: object) -> BudgetSpec:
    raw: dict[str, object] = {
        "limit": "5000",
        "costFilters": {"services": ["Amazon SageMaker"], "tags": {"team": ["fraud"]}},
        "notifications": [{"type": "ACTUAL", "threshold": "80", "emails": ["ml-leads@example.com"]}],
    }
    raw.update(overrides)
    return BudgetSpec.model_validate(raw)


def observed(budget: Budget, owner: str | None = OWNER) -> ObservedBudget:
    return ObservedBudget(budget, f"arn:aws:budgets::123456789012:budget/{budget.name}", owner)


def with_(budget: Budget, **changes: object) -> Budget:
    return Budget(**{**budget.__dict__, **changes})  # type: ignore[arg-type]


DESIRED = desired_budget(spec(), "team-fraud", "fraud-detection")


def test_desired_budget_speaks_aws() -> None:
    assert DESIRED.name == "team-fraud-fraud-detection"
    assert DESIRED.cost_filters == {"Service": ("Amazon SageMaker",), "TagKeyValue": ("user:team$fraud",)}
    assert DESIRED.notifications == {ACTUAL_80: frozenset({LEADS})}


def test_explicit_name_wins() -> None:
    assert desired_budget(spec(name="team-fraud-ml"), "ns", "p").name == "team-fraud-ml"


def test_same_trigger_twice_merges_subscribers() -> None:
    merged = desired_budget(
        spec(
            notifications=[
                {"type": "ACTUAL", "threshold": "80", "emails": ["ml-leads@example.com"]},
                {"type": "ACTUAL", "threshold": "80", "emails": ["oncall@example.com"]},
            ]
        ),
        "ns",
        "p",
    )
    assert merged.notifications == {ACTUAL_80: frozenset({LEADS, ONCALL})}


@pytest.mark.parametrize(
    ("current", "expected_kinds"),
    [
        pytest.param(DESIRED, [], id="in-sync"),
        pytest.param(with_(DESIRED, limit=Decimal("4000")), [ChangeKind.UPDATE_BUDGET], id="limit"),
        pytest.param(with_(DESIRED, time_unit="QUARTERLY"), [ChangeKind.UPDATE_BUDGET], id="time-unit"),
        pytest.param(with_(DESIRED, cost_filters={}), [ChangeKind.UPDATE_BUDGET], id="filters-removed"),
        pytest.param(with_(DESIRED, notifications={}), [ChangeKind.CREATE_NOTIFICATION], id="notif-missing"),
        pytest.param(
            with_(DESIRED, notifications={ACTUAL_80: frozenset({LEADS}), FORECAST_100: frozenset({LEADS})}),
            [ChangeKind.DELETE_NOTIFICATION],
            id="extra-notification",
        ),
        pytest.param(
            with_(DESIRED, notifications={ACTUAL_80: frozenset({ONCALL})}),
            [ChangeKind.CREATE_SUBSCRIBER, ChangeKind.DELETE_SUBSCRIBER],
            id="subscriber-swapped",
        ),
        pytest.param(
            with_(
                DESIRED,
                limit=Decimal("1"),
                notifications={
                    NotificationKey("ACTUAL", "GREATER_THAN", Decimal("90"), "PERCENTAGE"): frozenset({LEADS})
                },
            ),
            [ChangeKind.UPDATE_BUDGET, ChangeKind.CREATE_NOTIFICATION, ChangeKind.DELETE_NOTIFICATION],
            id="threshold-changed-is-replace",
        ),
    ],
)
def test_plan_changes(current: Budget, expected_kinds: list[ChangeKind]) -> None:
    plan = plan_budget(DESIRED, observed(current), owner=OWNER, adopt=False)
    assert plan.blocker is None
    assert [c.kind for c in plan.changes] == expected_kinds


def test_missing_budget_is_created_in_one_change() -> None:
    plan = plan_budget(DESIRED, None, owner=OWNER, adopt=False)
    assert [c.kind for c in plan.changes] == [ChangeKind.CREATE_BUDGET]
    assert "5000 USD monthly" in plan.changes[0].detail


def test_foreign_budget_is_refused_without_adopt() -> None:
    plan = plan_budget(DESIRED, observed(DESIRED, owner=None), owner=OWNER, adopt=False)
    assert plan.blocker is Blocker.NOT_OWNED
    assert plan.changes == []
    assert "adopt: true" in plan.blocker_message


def test_adopt_tags_then_converges() -> None:
    current = with_(DESIRED, limit=Decimal("100"))
    plan = plan_budget(DESIRED, observed(current, owner=None), owner=OWNER, adopt=True)
    assert [c.kind for c in plan.changes] == [ChangeKind.TAG_OWNER, ChangeKind.UPDATE_BUDGET]


def test_budget_of_another_policy_is_refused_even_with_adopt() -> None:
    plan = plan_budget(DESIRED, observed(DESIRED, owner="other/policy"), owner=OWNER, adopt=True)
    assert plan.blocker is Blocker.OWNED_BY_OTHER_POLICY
    assert "other/policy" in plan.blocker_message


def test_five_notifications_delete_before_create() -> None:
    keys = [NotificationKey("ACTUAL", "GREATER_THAN", Decimal(t), "PERCENTAGE") for t in range(10, 60, 10)]
    current = with_(DESIRED, notifications={k: frozenset({LEADS}) for k in keys})
    plan = plan_budget(DESIRED, observed(current), owner=OWNER, adopt=False)
    kinds = [c.kind for c in plan.changes]
    assert kinds[:5] == [ChangeKind.DELETE_NOTIFICATION] * 5
    assert kinds[5:] == [ChangeKind.CREATE_NOTIFICATION]


@pytest.mark.parametrize(
    ("topic", "message"),
    [
        ("arn:aws:sns:eu-west-1:123456789012:ml-cost", "region eu-west-1"),
        ("arn:aws:sns:us-east-1:999999999999:ml-cost", "account 999999999999"),
    ],
)
def test_sns_topic_elsewhere_is_refused_before_any_call(topic: str, message: str) -> None:
    budget = desired_budget(
        spec(notifications=[{"type": "ACTUAL", "threshold": "80", "snsTopicArn": topic}]), "ns", "p"
    )
    with pytest.raises(InvalidSpec, match=message):
        check_feasible(budget, account_id="123456789012", region="us-east-1")


def test_sns_topic_in_place_is_fine() -> None:
    budget = desired_budget(
        spec(
            notifications=[
                {"type": "ACTUAL", "threshold": "80", "snsTopicArn": "arn:aws:sns:us-east-1:123456789012:t"}
            ]
        ),
        "ns",
        "p",
    )
    check_feasible(budget, account_id="123456789012", region="us-east-1")


def emails(count: int, start: int = 0) -> list[str]:
    return [f"u{i}@example.com" for i in range(start, start + count)]


TOPIC_A = "arn:aws:sns:us-east-1:123456789012:a"
TOPIC_B = "arn:aws:sns:us-east-1:123456789012:b"


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        # 6 + 5 emails on one trigger: each entry is within the CRD's 10, the merged one is not.
        (
            [{"emails": emails(6)}, {"emails": emails(5, start=6)}],
            "11 email(s) and 0 SNS topic(s)",
        ),
        ([{"snsTopicArn": TOPIC_A}, {"snsTopicArn": TOPIC_B}], "0 email(s) and 2 SNS topic(s)"),
    ],
)
def test_subscriber_limits_are_counted_after_merging(entries: list[dict[str, object]], message: str) -> None:
    notifications = [{"type": "ACTUAL", "threshold": "90", **entry} for entry in entries]
    # The API model refuses it with the entries named (what `mlcost validate` and the status show)...
    with pytest.raises(ValueError, match="share the trigger ACTUAL GREATER_THAN 90"):
        spec(notifications=notifications)
    # ...and the planner refuses a merged notification over the limit before any AWS call.
    merged = {
        NotificationKey("ACTUAL", "GREATER_THAN", Decimal("90"), "PERCENTAGE"): frozenset(
            Subscriber("SNS" if "snsTopicArn" in e else "EMAIL", str(address))
            for e in entries
            for address in ([e["snsTopicArn"]] if "snsTopicArn" in e else e["emails"])  # type: ignore[union-attr]
        )
    }
    with pytest.raises(InvalidSpec, match=re.escape(message)):
        check_feasible(with_(DESIRED, notifications=merged), account_id="123456789012", region="us-east-1")


def test_one_topic_and_ten_emails_on_one_trigger_fit() -> None:
    budget = desired_budget(
        spec(
            notifications=[
                {"type": "ACTUAL", "threshold": "90", "emails": emails(6), "snsTopicArn": TOPIC_A},
                {"type": "ACTUAL", "threshold": "90", "emails": emails(4, start=6), "snsTopicArn": TOPIC_A},
                # Another trigger is another notification, with limits of its own.
                {"type": "ACTUAL", "threshold": "100", "emails": emails(10), "snsTopicArn": TOPIC_B},
            ]
        ),
        "ns",
        "p",
    )
    check_feasible(budget, account_id="123456789012", region="us-east-1")
    assert [len(subs) for subs in budget.notifications.values()] == [11, 11]


def test_forecast_on_a_daily_budget_is_refused() -> None:
    forecast = {"type": "FORECASTED", "threshold": "100", "emails": ["a@example.com"]}
    with pytest.raises(ValueError, match="AWS Budgets does not forecast DAILY budgets"):
        spec(timeUnit="DAILY", notifications=[forecast])
    spec(timeUnit="MONTHLY", notifications=[forecast])  # fine on any longer period
    daily = with_(DESIRED, time_unit="DAILY", notifications={FORECAST_100: frozenset({LEADS})})
    with pytest.raises(InvalidSpec, match="does not forecast DAILY budgets"):
        check_feasible(daily, account_id="123456789012", region="us-east-1")
