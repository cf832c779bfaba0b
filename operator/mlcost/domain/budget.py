"""The AWS Budget a policy wants, and the plan that moves the observed budget to it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from mlcost.api.v1alpha1.mlcostpolicy import BudgetSpec
from mlcost.domain.errors import InvalidSpec

MAX_NOTIFICATIONS = 5
# Per notification (botocore's Notification shape: "one SNS subscriber and up to 10 email subscribers").
MAX_SNS_SUBSCRIBERS = 1
MAX_EMAIL_SUBSCRIBERS = 10
_SNS_ARN = re.compile(r"^arn:aws[a-z-]*:sns:(?P<region>[a-z0-9-]+):(?P<account>[0-9]{12}):.+$")


@dataclass(frozen=True, order=True)
class Subscriber:
    type: str  # "EMAIL" | "SNS", as AWS spells SubscriptionType
    address: str


@dataclass(frozen=True, order=True)
class NotificationKey:
    """What identifies a notification in AWS: changing any of these means a new notification."""

    type: str
    comparison: str
    threshold: Decimal
    threshold_type: str

    def describe(self) -> str:
        unit = "%" if self.threshold_type == "PERCENTAGE" else " USD"
        return f"{self.type} {self.comparison} {self.threshold}{unit}"


# What a budget the operator creates measures: CostTypes' defaults (UseBlended and UseAmortized
# false) are unblended cost.
DEFAULT_COST_METRIC = "UnblendedCost"


class FilterForm(StrEnum):
    """How a budget says which costs count; AWS accepts one pair, never a mix (UpdateBudget doc)."""

    COST_FILTERS = "CostFilters"  # CostFilters + CostTypes: the form the operator creates
    FILTER_EXPRESSION = "FilterExpression"  # FilterExpression + Metrics: the newer form


@dataclass(frozen=True)
class Budget:
    """A cost budget as AWS holds it, reduced to what a policy can say."""

    name: str
    limit: Decimal
    time_unit: str
    cost_filters: dict[str, tuple[str, ...]]
    notifications: dict[NotificationKey, frozenset[Subscriber]]
    filter_form: FilterForm = FilterForm.COST_FILTERS
    # The Cost Explorer metric the budget tracks (Metrics, or CostTypes' UseBlended/UseAmortized):
    # the status spend is read in it, so it agrees with the budget.
    metric: str = DEFAULT_COST_METRIC
    # "PlannedBudgetLimits" or "AutoAdjustData" when AWS, not one fixed amount, sets the limit.
    limit_source: str = ""
    # Why the spec cannot express this budget (another budget type, a filter or metric the spec
    # has no words for); empty when it can.
    unsupported: str = ""


@dataclass(frozen=True)
class ObservedBudget:
    budget: Budget
    arn: str
    owner: str | None  # value of the managed-by tag, None when absent
    # Every field of the budget the spec does not manage, exactly as AWS returned it: UpdateBudget
    # replaces the whole budget, so these are sent back unchanged.
    unmanaged: dict[str, object] = field(default_factory=dict)


class ChangeKind(StrEnum):
    CREATE_BUDGET = "CreateBudget"
    UPDATE_BUDGET = "UpdateBudget"
    TAG_OWNER = "TagOwner"
    CREATE_NOTIFICATION = "CreateNotification"
    DELETE_NOTIFICATION = "DeleteNotification"
    CREATE_SUBSCRIBER = "CreateSubscriber"
    DELETE_SUBSCRIBER = "DeleteSubscriber"


@dataclass(frozen=True)
class BudgetChange:
    kind: ChangeKind
    detail: str
    notification: NotificationKey | None = None
    subscribers: frozenset[Subscriber] = frozenset()


class Blocker(StrEnum):
    NOT_OWNED = "BudgetNotOwned"
    OWNED_BY_OTHER_POLICY = "BudgetOwnedByAnotherPolicy"
    NOT_MANAGEABLE = "BudgetNotManageable"


@dataclass(frozen=True)
class BudgetPlan:
    desired: Budget
    changes: list[BudgetChange] = field(default_factory=list)
    blocker: Blocker | None = None
    blocker_message: str = ""
    observed: ObservedBudget | None = None  # what an UpdateBudget starts from

    @property
    def creates(self) -> bool:
        return any(c.kind is ChangeKind.CREATE_BUDGET for c in self.changes)


def default_budget_name(namespace: str, name: str) -> str:
    return f"{namespace}-{name}"


def owner_key(namespace: str, name: str) -> str:
    """The managed-by tag value that marks a budget as this policy's."""
    return f"{namespace}/{name}"


def desired_budget(spec: BudgetSpec, namespace: str, name: str) -> Budget:
    """Translate the policy's budget spec into AWS terms (cost filters, notifications)."""
    filters: dict[str, tuple[str, ...]] = {}
    if spec.cost_filters:
        if spec.cost_filters.services:
            filters["Service"] = tuple(sorted(spec.cost_filters.services))
        tag_values = [
            f"user:{key}${value}" for key, values in spec.cost_filters.tags.items() for value in values
        ]
        if tag_values:
            filters["TagKeyValue"] = tuple(sorted(tag_values))
    notifications: dict[NotificationKey, frozenset[Subscriber]] = {}
    for n in spec.notifications:
        key = NotificationKey(n.type.value, n.comparison.value, n.threshold, n.threshold_type.value)
        subscribers = {Subscriber("EMAIL", email) for email in n.emails}
        if n.sns_topic_arn:
            subscribers.add(Subscriber("SNS", n.sns_topic_arn))
        # Two entries with the same trigger are one notification in AWS: merge their subscribers.
        notifications[key] = notifications.get(key, frozenset()) | frozenset(subscribers)
    return Budget(
        name=spec.name or default_budget_name(namespace, name),
        limit=spec.limit,
        time_unit=spec.time_unit.value,
        cost_filters=filters,
        notifications=notifications,
    )


def check_feasible(budget: Budget, *, account_id: str, region: str) -> None:
    """Refuse, before any AWS call, what AWS Budgets would reject halfway through a change."""
    for key, subscribers in budget.notifications.items():
        if key.type == "FORECASTED" and budget.time_unit == "DAILY":
            raise InvalidSpec(
                f"notification {key.describe()} is FORECASTED, but AWS Budgets does not forecast DAILY "
                "budgets: use type ACTUAL, or timeUnit MONTHLY, QUARTERLY or ANNUALLY."
            )
        # Counted after merging the entries that share this trigger: that is what AWS receives.
        topics = sum(1 for s in subscribers if s.type == "SNS")
        emails = len(subscribers) - topics
        if topics > MAX_SNS_SUBSCRIBERS or emails > MAX_EMAIL_SUBSCRIBERS:
            raise InvalidSpec(
                f"notification {key.describe()} has {emails} email(s) and {topics} SNS topic(s) once "
                f"the entries with that trigger are merged; AWS allows {MAX_EMAIL_SUBSCRIBERS} emails "
                f"and {MAX_SNS_SUBSCRIBERS} SNS topic per notification. Merge the entries within that "
                "limit, or give them different thresholds."
            )
        for sub in subscribers:
            if sub.type != "SNS":
                continue
            match = _SNS_ARN.match(sub.address)
            if match and match["account"] != account_id:
                raise InvalidSpec(
                    f"SNS topic {sub.address} is in account {match['account']}, but the budget is "
                    f"in account {account_id}: AWS Budgets publishes only to topics of its own "
                    "account. Use a topic of that account in snsTopicArn."
                )
            if match and match["region"] != region:
                raise InvalidSpec(
                    f"SNS topic {sub.address} is in region {match['region']}, but this policy "
                    f"works in {region}: use a topic in {region} or set spec.aws.region."
                )


def plan_budget(desired: Budget, observed: ObservedBudget | None, *, owner: str, adopt: bool) -> BudgetPlan:
    """Changes that make AWS match `desired`; empty when it already does."""
    if observed is None:
        detail = (
            f"create budget {desired.name}: {desired.limit} USD {desired.time_unit.lower()}, "
            f"{len(desired.notifications)} notification(s)"
        )
        return BudgetPlan(desired, [BudgetChange(ChangeKind.CREATE_BUDGET, detail)])
    if observed.owner not in (None, owner):
        return BudgetPlan(
            desired,
            blocker=Blocker.OWNED_BY_OTHER_POLICY,
            blocker_message=(
                f"Budget {desired.name} is managed by the policy {observed.owner}; two policies "
                "cannot own one budget. Set a different spec.budget.name."
            ),
        )
    changes: list[BudgetChange] = []
    if observed.owner is None:
        if not adopt:
            return BudgetPlan(
                desired,
                blocker=Blocker.NOT_OWNED,
                blocker_message=(
                    f"A budget named {desired.name} already exists and was not created by "
                    "mlcost-operator. Set spec.budget.adopt: true to take it over, or choose "
                    "another spec.budget.name."
                ),
            )
        changes.append(BudgetChange(ChangeKind.TAG_OWNER, f"adopt budget {desired.name}"))
    refusal = _not_manageable(desired, observed.budget)
    if refusal:
        # Refused before any change, adoption included: nothing is half-applied.
        return BudgetPlan(desired, blocker=Blocker.NOT_MANAGEABLE, blocker_message=refusal, observed=observed)
    changes.extend(_budget_field_changes(desired, observed.budget))
    changes.extend(_notification_changes(desired, observed.budget))
    return BudgetPlan(desired, changes, observed=observed)


def _not_manageable(desired: Budget, current: Budget) -> str:
    """Why making AWS match the spec would change what the spec does not manage; "" when it would not."""
    if current.unsupported:
        return (
            f"Budget {desired.name} {current.unsupported}: spec.budget cannot express that, and "
            "the operator would overwrite it. Manage this budget outside the operator, or give "
            "the policy another spec.budget.name."
        )
    if current.limit_source and current.limit != desired.limit:
        how = (
            "planned limits per period" if current.limit_source == "PlannedBudgetLimits" else "auto-adjusting"
        )
        return (
            f"Budget {desired.name} sets its limit from {current.limit_source} ({how}; now "
            f"{current.limit} USD), but spec.budget.limit is {desired.limit}: the operator does not "
            f'replace {current.limit_source}. Set spec.budget.limit: "{current.limit}", or change the '
            "budget to a fixed limit in AWS."
        )
    return ""


def _budget_field_changes(desired: Budget, current: Budget) -> list[BudgetChange]:
    diffs = []
    if desired.limit != current.limit:
        diffs.append(f"limit {current.limit} -> {desired.limit} USD")
    if desired.time_unit != current.time_unit:
        diffs.append(f"timeUnit {current.time_unit} -> {desired.time_unit}")
    if desired.cost_filters != current.cost_filters:
        diffs.append(f"costFilters {_filters(current)} -> {_filters(desired)}")
    if not diffs:
        return []
    return [BudgetChange(ChangeKind.UPDATE_BUDGET, f"update budget {desired.name}: " + "; ".join(diffs))]


def _filters(budget: Budget) -> str:
    return ", ".join(f"{k}={list(v)}" for k, v in sorted(budget.cost_filters.items())) or "none"


def _notification_changes(desired: Budget, current: Budget) -> list[BudgetChange]:
    creates = [
        BudgetChange(
            ChangeKind.CREATE_NOTIFICATION,
            f"add notification {key.describe()} for {_who(subs)}",
            key,
            subs,
        )
        for key, subs in sorted(desired.notifications.items())
        if key not in current.notifications
    ]
    deletes = [
        BudgetChange(ChangeKind.DELETE_NOTIFICATION, f"remove notification {key.describe()}", key)
        for key in sorted(current.notifications)
        if key not in desired.notifications
    ]
    subscriber_changes: list[BudgetChange] = []
    for key, subs in sorted(desired.notifications.items()):
        if key not in current.notifications:
            continue
        added = subs - current.notifications[key]
        removed = current.notifications[key] - subs
        if added:
            subscriber_changes.append(
                BudgetChange(
                    ChangeKind.CREATE_SUBSCRIBER,
                    f"notify {_who(added)} on {key.describe()}",
                    key,
                    added,
                )
            )
        if removed:
            subscriber_changes.append(
                BudgetChange(
                    ChangeKind.DELETE_SUBSCRIBER,
                    f"stop notifying {_who(removed)} on {key.describe()}",
                    key,
                    removed,
                )
            )
    # Add before removing so alerts never lapse, unless that would pass AWS's limit of five.
    if len(current.notifications) + len(creates) > MAX_NOTIFICATIONS:
        return deletes + creates + subscriber_changes
    return creates + subscriber_changes + deletes


def _who(subscribers: frozenset[Subscriber]) -> str:
    return ", ".join(s.address for s in sorted(subscribers))
