"""AWS Budgets: read a budget with its notifications and owner tag; create, change, delete it."""

from __future__ import annotations

import copy
import time
from decimal import Decimal
from typing import Any

from mlcost.aws.costexplorer import ce_filter
from mlcost.aws.errors import aws_call
from mlcost.constants import MANAGED_BY_TAG
from mlcost.domain.budget import (
    DEFAULT_COST_METRIC,
    Budget,
    FilterForm,
    NotificationKey,
    ObservedBudget,
    Subscriber,
)
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
        budget = _budget(raw, self._notifications(name))
        unmanaged = {k: copy.deepcopy(v) for k, v in raw.items() if k not in _MANAGED and k not in _READ_ONLY}
        return ObservedBudget(budget=budget, arn=self.arn(name), owner=self._owner(name), unmanaged=unmanaged)

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

    def update(self, budget: Budget, observed: ObservedBudget) -> None:
        """Change the managed fields; send every other field back as read.

        AWS's UpdateBudget replaces the whole budget ("You can change every part of a budget
        except for the budgetName and the calculatedSpend", API reference): a field left out is
        reset, so custom CostTypes, PlannedBudgetLimits, AutoAdjustData or a FilterExpression
        would be lost if they were not sent again.
        """
        with aws_call("budgets:UpdateBudget"):
            self._client.update_budget(AccountId=self.account_id, NewBudget=update_shape(budget, observed))

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


# What the spec manages (and _budget_shape writes); the filter pairs are handled by form.
_MANAGED = frozenset(
    {"BudgetName", "BudgetLimit", "TimeUnit", "BudgetType", "CostFilters", "FilterExpression"}
)
# What AWS computes and UpdateBudget ignores or refuses.
_READ_ONLY = frozenset({"CalculatedSpend", "LastUpdatedTime", "HealthStatus"})
# Budgets' Metrics values that are costs, with Cost Explorer's spelling for each.
_COST_METRICS = frozenset(
    {"UnblendedCost", "BlendedCost", "AmortizedCost", "NetUnblendedCost", "NetAmortizedCost"}
)


def _budget(raw: dict[str, Any], notifications: dict[NotificationKey, frozenset[Subscriber]]) -> Budget:
    """The domain's reading of a DescribeBudget answer, with what the spec cannot express named."""
    problems: list[str] = []
    if raw.get("BudgetType", "COST") != "COST":
        problems.append(f"tracks {raw['BudgetType']}, not cost")
    form = FilterForm.COST_FILTERS
    cost_filters = {k: tuple(sorted(v)) for k, v in (raw.get("CostFilters") or {}).items()}
    if "FilterExpression" in raw or "Metrics" in raw:
        form = FilterForm.FILTER_EXPRESSION
        cost_filters, problem = _filters_of_expression(raw.get("FilterExpression"))
        if problem:
            problems.append(problem)
    metric, problem = _metric(raw, form)
    if problem:
        problems.append(problem)
    limit_source = next((k for k in ("PlannedBudgetLimits", "AutoAdjustData") if raw.get(k)), "")
    return Budget(
        name=raw["BudgetName"],
        limit=_current_limit(raw),
        time_unit=raw["TimeUnit"],
        cost_filters=cost_filters,
        notifications=notifications,
        filter_form=form,
        metric=metric,
        limit_source=limit_source,
        unsupported="; ".join(problems),
    )


def _current_limit(raw: dict[str, Any]) -> Decimal:
    if raw.get("BudgetLimit"):
        return _plain_decimal(raw["BudgetLimit"]["Amount"])
    # A planned budget may answer with its plan only: the limit now is the latest period started.
    planned = raw.get("PlannedBudgetLimits") or {}
    now = time.time()
    started = [key for key in planned if float(key) <= now] or sorted(planned, key=float)[:1]
    if not started:
        return Decimal(0)
    return _plain_decimal(planned[max(started, key=float)]["Amount"])


def _metric(raw: dict[str, Any], form: FilterForm) -> tuple[str, str]:
    if form is FilterForm.FILTER_EXPRESSION:
        metrics = raw.get("Metrics") or [DEFAULT_COST_METRIC]
        if metrics[0] not in _COST_METRICS:
            return DEFAULT_COST_METRIC, f"measures {metrics[0]}, not cost"
        return str(metrics[0]), ""
    cost_types = raw.get("CostTypes") or {}
    if cost_types.get("UseAmortized"):
        return "AmortizedCost", ""
    if cost_types.get("UseBlended"):
        return "BlendedCost", ""
    return DEFAULT_COST_METRIC, ""


def _filters_of_expression(expression: dict[str, Any] | None) -> tuple[dict[str, tuple[str, ...]], str]:
    """The spec's filters (Service, TagKeyValue) that a FilterExpression amounts to, or why it cannot."""
    if not expression:
        return {}, ""
    parts = expression["And"] if set(expression) == {"And"} else [expression]
    filters: dict[str, list[str]] = {}
    for part in parts:
        if len(part) != 1 or next(iter(part)) not in ("Dimensions", "Tags"):
            used = ", ".join(sorted(part)) or "an empty expression"
            return {}, f"filters with a FilterExpression that uses {used}"
        kind, body = next(iter(part.items()))
        if body.get("MatchOptions", ["EQUALS"]) != ["EQUALS"]:
            return {}, f"filters with MatchOptions {body['MatchOptions']}"
        if kind == "Dimensions" and body.get("Key") != "SERVICE":
            return {}, f"filters on the dimension {body.get('Key')}"
        if kind == "Dimensions":
            filters.setdefault("Service", []).extend(body.get("Values", []))
        else:
            # Budgets' Tags expression names the key alone, as Cost Explorer's does ("team").
            key = str(body.get("Key", ""))
            filters.setdefault("TagKeyValue", []).extend(f"user:{key}${v}" for v in body.get("Values", []))
    return {k: tuple(sorted(v)) for k, v in filters.items()}, ""


def update_shape(budget: Budget, observed: ObservedBudget) -> dict[str, Any]:
    """UpdateBudget's NewBudget: the spec's fields, in the budget's own forms, over the rest as read."""
    shape: dict[str, Any] = copy.deepcopy(observed.unmanaged)
    shape.update(
        BudgetName=budget.name,
        TimeUnit=budget.time_unit,
        BudgetType="COST",
    )
    # AWS takes BudgetLimit or PlannedBudgetLimits, never both; a planned budget keeps its plan
    # (plan_budget refuses a spec whose limit disagrees with it).
    if "PlannedBudgetLimits" not in shape:
        shape["BudgetLimit"] = {"Amount": str(budget.limit), "Unit": "USD"}
    if observed.budget.filter_form is FilterForm.FILTER_EXPRESSION:
        shape.pop("CostTypes", None)
        expression = ce_filter(budget.cost_filters)
        if expression:
            shape["FilterExpression"] = expression
    else:
        shape.pop("Metrics", None)
        shape["CostFilters"] = {k: list(v) for k, v in budget.cost_filters.items()}
    return shape


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
