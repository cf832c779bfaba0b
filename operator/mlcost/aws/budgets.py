"""AWS Budgets: read a budget with its notifications and owner tag; create, change, delete it."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from mlcost.aws.errors import aws_call
from mlcost.constants import MANAGED_BY_TAG
from mlcost.domain.budget import Budget, NotificationKey, ObservedBudget, Subscriber
from mlcost.domain.errors import NotFound


def _plain_decimal(value: float | str) -> Decimal:
    # AWS returns 80.0 for 80: keep "80" so messages read the way the manifest does.
    number = Decimal(str(value))
    return number.quantize(Decimal(1)) if number == number.to_integral() else number.normalize()


class BudgetsClient:
    """Budgets of one account, in the shapes the domain plans with."""

    def __init__(self, client: Any, account_id: str) -> None:
        self._client = client
        self.account_id = account_id

    def arn(self, name: str) -> str:
        return f"arn:aws:budgets::{self.account_id}:budget/{name}"

    def describe(self, name: str) -> ObservedBudget | None:
        """The budget, its notifications with subscribers, and its owner; None if absent."""
        try:
            with aws_call("budgets:DescribeBudget"):
                raw = self._client.describe_budget(AccountId=self.account_id, BudgetName=name)["Budget"]
        except NotFound:
            return None
        budget = Budget(
            name=raw["BudgetName"],
            limit=_plain_decimal(raw["BudgetLimit"]["Amount"]),
            time_unit=raw["TimeUnit"],
            cost_filters={k: tuple(sorted(v)) for k, v in (raw.get("CostFilters") or {}).items()},
            notifications=self._notifications(name),
        )
        return ObservedBudget(budget=budget, arn=self.arn(name), owner=self._owner(name))

    def _notifications(self, name: str) -> dict[NotificationKey, frozenset[Subscriber]]:
        found: dict[NotificationKey, frozenset[Subscriber]] = {}
        with aws_call("budgets:DescribeNotificationsForBudget"):
            pages = self._client.get_paginator("describe_notifications_for_budget").paginate(
                AccountId=self.account_id, BudgetName=name
            )
            notifications = [n for page in pages for n in page.get("Notifications", [])]
        for raw in notifications:
            with aws_call("budgets:DescribeSubscribersForNotification"):
                pages = self._client.get_paginator("describe_subscribers_for_notification").paginate(
                    AccountId=self.account_id, BudgetName=name, Notification=raw
                )
                subscribers = frozenset(
                    Subscriber(s["SubscriptionType"], s["Address"])
                    for page in pages
                    for s in page.get("Subscribers", [])
                )
            found[_key(raw)] = subscribers
        return found

    def _owner(self, name: str) -> str | None:
        with aws_call("budgets:ListTagsForResource"):
            tags = self._client.list_tags_for_resource(ResourceARN=self.arn(name)).get("ResourceTags", [])
        return next((t["Value"] for t in tags if t["Key"] == MANAGED_BY_TAG), None)

    def create(self, budget: Budget, owner: str) -> None:
        """Create budget, notifications, subscribers and owner tag in one call (all or nothing)."""
        with aws_call("budgets:CreateBudget"):
            self._client.create_budget(
                AccountId=self.account_id,
                Budget=_budget_shape(budget),
                NotificationsWithSubscribers=[
                    {"Notification": _notification_shape(key), "Subscribers": _subscribers(subs)}
                    for key, subs in sorted(budget.notifications.items())
                ],
                ResourceTags=[{"Key": MANAGED_BY_TAG, "Value": owner}],
            )

    def update(self, budget: Budget) -> None:
        with aws_call("budgets:UpdateBudget"):
            self._client.update_budget(AccountId=self.account_id, NewBudget=_budget_shape(budget))

    def tag_owner(self, name: str, owner: str) -> None:
        with aws_call("budgets:TagResource"):
            self._client.tag_resource(
                ResourceARN=self.arn(name), ResourceTags=[{"Key": MANAGED_BY_TAG, "Value": owner}]
            )

    def untag_owner(self, name: str) -> None:
        with aws_call("budgets:UntagResource"):
            self._client.untag_resource(ResourceARN=self.arn(name), ResourceTagKeys=[MANAGED_BY_TAG])

    def create_notification(
        self, name: str, key: NotificationKey, subscribers: frozenset[Subscriber]
    ) -> None:
        with aws_call("budgets:CreateNotification"):
            self._client.create_notification(
                AccountId=self.account_id,
                BudgetName=name,
                Notification=_notification_shape(key),
                Subscribers=_subscribers(subscribers),
            )

    def delete_notification(self, name: str, key: NotificationKey) -> None:
        with aws_call("budgets:DeleteNotification"):
            self._client.delete_notification(
                AccountId=self.account_id, BudgetName=name, Notification=_notification_shape(key)
            )

    def create_subscribers(self, name: str, key: NotificationKey, subscribers: frozenset[Subscriber]) -> None:
        for subscriber in sorted(subscribers):
            with aws_call("budgets:CreateSubscriber"):
                self._client.create_subscriber(
                    AccountId=self.account_id,
                    BudgetName=name,
                    Notification=_notification_shape(key),
                    Subscriber=_subscribers(frozenset({subscriber}))[0],
                )

    def delete_subscribers(self, name: str, key: NotificationKey, subscribers: frozenset[Subscriber]) -> None:
        for subscriber in sorted(subscribers):
            with aws_call("budgets:DeleteSubscriber"):
                self._client.delete_subscriber(
                    AccountId=self.account_id,
                    BudgetName=name,
                    Notification=_notification_shape(key),
                    Subscriber=_subscribers(frozenset({subscriber}))[0],
                )

    def delete(self, name: str) -> bool:
        """Delete the budget; False when it was already gone (deletes are idempotent)."""
        try:
            with aws_call("budgets:DeleteBudget"):
                self._client.delete_budget(AccountId=self.account_id, BudgetName=name)
        except NotFound:
            return False
        return True


def _key(raw: dict[str, Any]) -> NotificationKey:
    return NotificationKey(
        type=raw["NotificationType"],
        comparison=raw["ComparisonOperator"],
        threshold=_plain_decimal(raw["Threshold"]),
        threshold_type=raw.get("ThresholdType", "PERCENTAGE"),
    )


def _budget_shape(budget: Budget) -> dict[str, Any]:
    return {
        "BudgetName": budget.name,
        "BudgetLimit": {"Amount": str(budget.limit), "Unit": "USD"},
        "CostFilters": {k: list(v) for k, v in budget.cost_filters.items()},
        "TimeUnit": budget.time_unit,
        "BudgetType": "COST",
    }


def _notification_shape(key: NotificationKey) -> dict[str, Any]:
    return {
        "NotificationType": key.type,
        "ComparisonOperator": key.comparison,
        "Threshold": float(key.threshold),
        "ThresholdType": key.threshold_type,
    }


def _subscribers(subscribers: frozenset[Subscriber]) -> list[dict[str, str]]:
    return [{"SubscriptionType": s.type, "Address": s.address} for s in sorted(subscribers)]
