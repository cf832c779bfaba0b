"""AWS Budgets for moto: UpdateBudget, tags, notification and subscriber CRUD, AWS's validation."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any, cast

from moto.budgets.exceptions import BudgetMissingLimit, DuplicateRecordException, NotFoundException
from moto.budgets.models import Budget, BudgetsBackend, Notification, budgets_backends
from moto.budgets.responses import BudgetsResponse
from moto.core.exceptions import JsonRESTError
from moto.core.utils import unix_time

from ._common import DEFAULT_ACCOUNT_ID, original, patch, to_decimal

__all__ = [
    "MAX_EMAIL_SUBSCRIBERS",
    "MAX_NOTIFICATIONS_PER_BUDGET",
    "MAX_SNS_SUBSCRIBERS",
    "install",
    "set_budget_spend",
]

# The limits our API documents (API.md: at most 5 notifications, 10 emails, 1 SNS topic).
# The current AWS reference allows 10 notifications per budget; being stricter here keeps
# the operator inside both.
MAX_NOTIFICATIONS_PER_BUDGET = 5
MAX_EMAIL_SUBSCRIBERS = 10
MAX_SNS_SUBSCRIBERS = 1
MAX_TAGS = 200
MAX_RESULTS = 100

_NOTIFICATION_TYPES = ("ACTUAL", "FORECASTED")
_COMPARISONS = ("GREATER_THAN", "LESS_THAN", "EQUAL_TO")
_THRESHOLD_TYPES = ("PERCENTAGE", "ABSOLUTE_VALUE")
_SUBSCRIPTION_TYPES = ("SNS", "EMAIL")

_SNS_TOPIC_ARN = re.compile(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_BUDGET_ARN = re.compile(r"^arn:aws[a-z-]*:budgets::(\d{12}):budget/([^/]+)$")

Subscriber = dict[str, str]


# ---------------------------------------------------------------------------- errors


def _invalid(message: str) -> JsonRESTError:
    return JsonRESTError("InvalidParameterException", message)


def _over_limit(message: str) -> JsonRESTError:
    return JsonRESTError("CreationLimitExceededException", message)


# ---------------------------------------------------------------------------- validation


def _validate_budget(budget: dict[str, Any] | None, verb: str) -> dict[str, Any]:
    """Check what AWS checks on a Budget that matters to us; return it unchanged."""
    if not budget:
        raise _invalid(f"Unable to {verb} budget - the budget is required.")
    name = budget.get("BudgetName") or ""
    if not 1 <= len(name) <= 100:
        raise _invalid(f"Unable to {verb} budget - BudgetName must be 1 to 100 characters.")
    if ":" in name or "\\" in name or "/action/" in name:
        raise _invalid(
            f"Unable to {verb} budget: {name} - the budget name may not contain ':', '\\' or '/action/'."
        )
    if "BudgetLimit" in budget and "PlannedBudgetLimits" in budget:
        raise _invalid(
            f"Unable to {verb} budget: {name} - only one of BudgetLimit or "
            "PlannedBudgetLimits can be present."
        )
    # "Either FilterExpression and Metrics or CostFilters and CostTypes, not both or a different
    # combination" (UpdateBudget / CreateBudget API reference).
    newer: list[str] = sorted(k for k in ("FilterExpression", "Metrics") if k in budget)
    older: list[str] = sorted(k for k in ("CostFilters", "CostTypes") if k in budget)
    if newer and older:
        raise _invalid(
            f"Unable to {verb} budget: {name} - use either FilterExpression and Metrics or "
            f"CostFilters and CostTypes, not both (got {', '.join(newer + older)})."
        )
    limit = budget.get("BudgetLimit")
    if limit is not None and budget.get("BudgetType") == "COST":
        amount = to_decimal((limit or {}).get("Amount"))
        if amount is None or amount <= 0:
            raise _invalid(
                f"Unable to {verb} budget: {name} - the budget limit amount must be greater "
                f"than 0 for a COST budget (got {(limit or {}).get('Amount')!r})."
            )
    return budget


def _notification(raw: dict[str, Any] | None) -> dict[str, Any]:
    """A validated Notification with AWS's default ThresholdType filled in."""
    if not raw:
        raise _invalid("A notification is required.")
    kind = raw.get("NotificationType")
    comparison = raw.get("ComparisonOperator")
    threshold_type = raw.get("ThresholdType") or "PERCENTAGE"
    threshold = to_decimal(raw.get("Threshold"))
    if kind not in _NOTIFICATION_TYPES:
        raise _invalid(f"NotificationType must be one of {list(_NOTIFICATION_TYPES)}: {kind!r}")
    if comparison not in _COMPARISONS:
        raise _invalid(f"ComparisonOperator must be one of {list(_COMPARISONS)}: {comparison!r}")
    if threshold_type not in _THRESHOLD_TYPES:
        raise _invalid(f"ThresholdType must be one of {list(_THRESHOLD_TYPES)}")
    if threshold is None or threshold < 0:
        raise _invalid(f"Threshold must be a number >= 0: {raw.get('Threshold')!r}")
    return {
        "NotificationType": kind,
        "ComparisonOperator": comparison,
        "Threshold": float(threshold),
        "ThresholdType": threshold_type,
    }


def _key(notification: dict[str, Any]) -> tuple[str, str, Decimal, str]:
    # AWS identifies a notification by these four fields; NotificationState is output only.
    return (
        str(notification.get("NotificationType")),
        str(notification.get("ComparisonOperator")),
        to_decimal(notification.get("Threshold")) or Decimal(0),
        str(notification.get("ThresholdType") or "PERCENTAGE"),
    )


def _describe(notification: dict[str, Any]) -> str:
    kind, comparison, threshold, threshold_type = _key(notification)
    return f"{kind} {comparison} {threshold} {threshold_type}"


def _subscriber(raw: dict[str, Any] | None) -> Subscriber:
    """A validated Subscriber: EMAIL with an email address or SNS with a topic ARN."""
    if not raw:
        raise _invalid("A subscriber is required.")
    kind = raw.get("SubscriptionType")
    address = raw.get("Address") or ""
    if kind not in _SUBSCRIPTION_TYPES:
        raise _invalid(f"SubscriptionType must be one of {list(_SUBSCRIPTION_TYPES)}: {kind!r}")
    if kind == "SNS" and not _SNS_TOPIC_ARN.match(address):
        raise _invalid(f"Invalid SNS topic ARN for an SNS subscriber: {address!r}")
    if kind == "EMAIL" and not _EMAIL.match(address):
        raise _invalid(f"Invalid email address for an EMAIL subscriber: {address!r}")
    return {"SubscriptionType": str(kind), "Address": str(address)}


def _check_subscribers(subscribers: list[Subscriber]) -> None:
    seen: set[tuple[str, str]] = set()
    for sub in subscribers:
        identity = (sub["SubscriptionType"], sub["Address"])
        if identity in seen:
            raise DuplicateRecordException(record_type="subscriber", record_name=sub["Address"])
        seen.add(identity)
    sns = sum(1 for s in subscribers if s["SubscriptionType"] == "SNS")
    email = len(subscribers) - sns
    if sns > MAX_SNS_SUBSCRIBERS or email > MAX_EMAIL_SUBSCRIBERS:
        raise _over_limit(
            f"A notification can have at most {MAX_SNS_SUBSCRIBERS} SNS subscriber and "
            f"{MAX_EMAIL_SUBSCRIBERS} email subscribers (got {sns} SNS, {email} email)."
        )


def _subscribers(raw: Iterable[dict[str, Any]] | None) -> list[Subscriber]:
    subscribers = [_subscriber(item) for item in raw or []]
    if not subscribers:
        raise _invalid("A notification must have at least one subscriber.")
    _check_subscribers(subscribers)
    return subscribers


def _tags(raw: Iterable[dict[str, Any]] | None) -> dict[str, str]:
    tags: dict[str, str] = {}
    for tag in raw or []:
        key, value = tag.get("Key"), tag.get("Value", "")
        if not key or len(key) > 128 or len(value) > 256:
            raise _invalid(f"Invalid resource tag: {tag!r}")
        tags[str(key)] = str(value)
    return tags


# ---------------------------------------------------------------------------- lookups


def _budget_tags(budget: Budget) -> dict[str, str]:
    # Kept on the moto Budget object so the tags go away with the budget.
    return cast(dict[str, str], budget.__dict__.setdefault("_mlcost_tags", {}))


def _subs(notification: Notification) -> list[Subscriber]:
    # moto annotates Notification.subscribers as a dict but stores the request's list.
    return cast(list[Subscriber], notification.subscribers)


def _get_budget(backend: BudgetsBackend, account_id: str, name: str, verb: str) -> Budget:
    budget = backend.budgets[account_id].get(name)
    if budget is None:
        raise NotFoundException(f"Unable to {verb}: {name} - the budget doesn't exist.")
    return budget


def _find(budget: Budget, notification: dict[str, Any]) -> Notification | None:
    wanted = _key(notification)
    return next((n for n in budget.notifications if _key(n.details) == wanted), None)


def _get_notification(
    backend: BudgetsBackend, account_id: str, budget_name: str, raw: dict[str, Any], verb: str
) -> tuple[Budget, Notification]:
    budget = _get_budget(backend, account_id, budget_name, verb)
    found = _find(budget, _notification(raw))
    if found is None:
        raise NotFoundException(
            f"Unable to {verb}: {budget_name} - the notification {_describe(raw)} doesn't exist."
        )
    return budget, found


def _budget_from_arn(backend: BudgetsBackend, arn: str, verb: str) -> Budget:
    match = _BUDGET_ARN.match(arn or "")
    if match is None:
        raise _invalid(f"Invalid budget ARN: {arn!r}")
    account_id, name = match.groups()
    budget = backend.budgets[account_id].get(name)
    if budget is None:
        raise NotFoundException(f"Unable to {verb}: the resource {arn} doesn't exist.")
    return budget


def _notification_state(budget: Budget, details: dict[str, Any]) -> str:
    """ALARM when the budget's calculated spend crosses the notification's threshold."""
    spend = budget.budget.get("CalculatedSpend") or {}
    field = "ActualSpend" if details.get("NotificationType") == "ACTUAL" else "ForecastedSpend"
    amount = to_decimal((spend.get(field) or {}).get("Amount"))
    threshold = to_decimal(details.get("Threshold"))
    if amount is None or threshold is None:
        return "OK"
    if details.get("ThresholdType", "PERCENTAGE") == "PERCENTAGE":
        limit = to_decimal((budget.budget.get("BudgetLimit") or {}).get("Amount"))
        if limit is None:
            return "OK"
        threshold = limit * threshold / 100
    comparison = details.get("ComparisonOperator")
    crossed = (
        amount > threshold
        if comparison == "GREATER_THAN"
        else amount < threshold
        if comparison == "LESS_THAN"
        else amount == threshold
    )
    return "ALARM" if crossed else "OK"


def _page(items: list[Any], max_results: int | None, next_token: str | None) -> tuple[list[Any], str | None]:
    size = max_results or MAX_RESULTS
    if not 1 <= size <= MAX_RESULTS:
        raise _invalid(f"MaxResults must be between 1 and {MAX_RESULTS}")
    try:
        start = int(next_token) if next_token else 0
    except ValueError:
        raise JsonRESTError("InvalidNextTokenException", "The next token is invalid.") from None
    end = start + size
    return items[start:end], (str(end) if end < len(items) else None)


# ---------------------------------------------------------------------------- backend


def create_budget(
    self: BudgetsBackend,
    account_id: str,
    budget: dict[str, Any],
    notifications: list[dict[str, Any]],
    resource_tags: list[dict[str, Any]] | None = None,
) -> None:
    """CreateBudget with validation, notification defaults and ResourceTags."""
    _validate_budget(budget, "create")
    if len(notifications or []) > MAX_NOTIFICATIONS_PER_BUDGET:
        raise _over_limit(f"A budget can have at most {MAX_NOTIFICATIONS_PER_BUDGET} notifications.")
    checked: list[dict[str, Any]] = []
    for item in notifications or []:
        notification = _notification(item.get("Notification"))
        if any(_key(c["Notification"]) == _key(notification) for c in checked):
            raise DuplicateRecordException(record_type="notification", record_name=_describe(notification))
        checked.append({"Notification": notification, "Subscribers": _subscribers(item.get("Subscribers"))})
    tags = _tags(resource_tags)
    original(BudgetsBackend, "create_budget")(
        self, account_id=account_id, budget=copy.deepcopy(budget), notifications=checked
    )
    _budget_tags(self.budgets[account_id][budget["BudgetName"]]).update(tags)


def budget_to_dict(self: Budget) -> dict[str, Any]:
    """DescribeBudget's Budget: moto's, without CostTypes defaults on a FilterExpression budget.

    A budget has one filter pair (FilterExpression/Metrics or CostFilters/CostTypes): moto adds
    default CostTypes to every COST budget, which would make a FilterExpression budget answer
    with a mix that AWS refuses when it is sent back.
    """
    answer = cast(dict[str, Any], original(Budget, "to_dict")(self))
    if "FilterExpression" in self.budget or "Metrics" in self.budget:
        answer.pop("CostTypes", None)
    return answer


def update_budget(self: BudgetsBackend, account_id: str, new_budget: dict[str, Any]) -> None:
    """UpdateBudget: NewBudget replaces every field but the name and the calculated spend.

    As AWS does: "You can change every part of a budget except for the budgetName and the
    calculatedSpend" (https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/
    API_budgets_UpdateBudget.html). A field left out of NewBudget is gone afterwards:
    CostTypes fall back to their defaults, PlannedBudgetLimits, AutoAdjustData, FilterExpression
    and Metrics disappear. Only TimePeriod is kept when omitted (unsure what AWS does there).
    """
    _validate_budget(new_budget, "update")
    current = _get_budget(self, account_id, new_budget["BudgetName"], "update budget")
    if not any(k in new_budget for k in ("BudgetLimit", "PlannedBudgetLimits", "AutoAdjustData")):
        raise BudgetMissingLimit()
    replacement = copy.deepcopy(new_budget)
    # AWS computes CalculatedSpend itself; the value a test hook set stays.
    replacement.pop("CalculatedSpend", None)
    if "CalculatedSpend" in current.budget:
        replacement["CalculatedSpend"] = current.budget["CalculatedSpend"]
    replacement.setdefault("TimePeriod", current.budget.get("TimePeriod"))
    replacement["LastUpdatedTime"] = unix_time()
    current.budget = replacement


def describe_notifications_for_budget(
    self: BudgetsBackend, account_id: str, budget_name: str
) -> list[dict[str, Any]]:
    """Notifications with NotificationState derived from the calculated spend.

    moto's own version raises KeyError (HTTP 500) for a missing budget.
    """
    budget = _get_budget(self, account_id, budget_name, "describe notifications")
    return [
        {**n.details, "NotificationState": _notification_state(budget, n.details)}
        for n in budget.notifications
    ]


def create_notification(
    self: BudgetsBackend,
    account_id: str,
    budget_name: str,
    notification: dict[str, Any],
    subscribers: list[dict[str, Any]],
) -> None:
    """CreateNotification with duplicate and limit checks."""
    budget = _get_budget(self, account_id, budget_name, "create notification")
    details = _notification(notification)
    checked = _subscribers(subscribers)
    if _find(budget, details) is not None:
        raise DuplicateRecordException(record_type="notification", record_name=_describe(details))
    if len(budget.notifications) >= MAX_NOTIFICATIONS_PER_BUDGET:
        raise _over_limit(
            f"Unable to create notification: {budget_name} - a budget can have at most "
            f"{MAX_NOTIFICATIONS_PER_BUDGET} notifications."
        )
    budget.notifications.append(Notification(details=details, subscribers=cast(Any, checked)))


def delete_notification(
    self: BudgetsBackend, account_id: str, budget_name: str, notification: dict[str, Any]
) -> None:
    """DeleteNotification (and its subscribers); NotFoundException when it doesn't exist."""
    budget, found = _get_notification(self, account_id, budget_name, notification, "delete notification")
    budget.notifications.remove(found)


def update_notification(
    self: BudgetsBackend,
    account_id: str,
    budget_name: str,
    old_notification: dict[str, Any],
    new_notification: dict[str, Any],
) -> None:
    """UpdateNotification: replace OldNotification by NewNotification, keeping subscribers."""
    budget, found = _get_notification(self, account_id, budget_name, old_notification, "update notification")
    details = _notification(new_notification)
    other = _find(budget, details)
    if other is not None and other is not found:
        raise DuplicateRecordException(record_type="notification", record_name=_describe(details))
    found.details = details


def create_subscriber(
    self: BudgetsBackend,
    account_id: str,
    budget_name: str,
    notification: dict[str, Any],
    subscriber: dict[str, Any],
) -> None:
    """CreateSubscriber on an existing notification."""
    _, found = _get_notification(self, account_id, budget_name, notification, "create subscriber")
    _check_subscribers([*_subs(found), _subscriber(subscriber)])
    _subs(found).append(_subscriber(subscriber))


def delete_subscriber(
    self: BudgetsBackend,
    account_id: str,
    budget_name: str,
    notification: dict[str, Any],
    subscriber: dict[str, Any],
) -> None:
    """DeleteSubscriber; NotFoundException when the notification has no such subscriber."""
    _, found = _get_notification(self, account_id, budget_name, notification, "delete subscriber")
    wanted = _subscriber(subscriber)
    if wanted not in _subs(found):
        raise NotFoundException(
            f"Unable to delete subscriber: {budget_name} - the subscriber {wanted['Address']} doesn't exist."
        )
    _subs(found).remove(wanted)


def update_subscriber(
    self: BudgetsBackend,
    account_id: str,
    budget_name: str,
    notification: dict[str, Any],
    old_subscriber: dict[str, Any],
    new_subscriber: dict[str, Any],
) -> None:
    """UpdateSubscriber: replace OldSubscriber by NewSubscriber on the notification."""
    _, found = _get_notification(self, account_id, budget_name, notification, "update subscriber")
    old, new = _subscriber(old_subscriber), _subscriber(new_subscriber)
    subscribers = _subs(found)
    if old not in subscribers:
        raise NotFoundException(
            f"Unable to update subscriber: {budget_name} - the subscriber {old['Address']} doesn't exist."
        )
    replaced = [new if s == old else s for s in subscribers]
    _check_subscribers(replaced)
    subscribers[:] = replaced


def describe_subscribers_for_notification(
    self: BudgetsBackend, account_id: str, budget_name: str, notification: dict[str, Any]
) -> list[Subscriber]:
    """DescribeSubscribersForNotification (the response pages the list)."""
    _, found = _get_notification(self, account_id, budget_name, notification, "describe subscribers")
    return list(_subs(found))


def list_tags_for_resource(self: BudgetsBackend, resource_arn: str) -> list[dict[str, str]]:
    """The tags of the budget named by arn:aws:budgets::ACCOUNT:budget/NAME."""
    tags = _budget_tags(_budget_from_arn(self, resource_arn, "list tags"))
    return [{"Key": k, "Value": v} for k, v in sorted(tags.items())]


def tag_resource(self: BudgetsBackend, resource_arn: str, resource_tags: list[dict[str, Any]]) -> None:
    """Add or overwrite tags on a budget (at most 200)."""
    tags = _budget_tags(_budget_from_arn(self, resource_arn, "tag resource"))
    merged = {**tags, **_tags(resource_tags)}
    if len(merged) > MAX_TAGS:
        raise JsonRESTError("ServiceQuotaExceededException", f"A budget can have at most {MAX_TAGS} tags.")
    tags.update(merged)


def untag_resource(self: BudgetsBackend, resource_arn: str, resource_tag_keys: list[str]) -> None:
    """Remove tags from a budget; unknown keys are ignored as AWS does."""
    tags = _budget_tags(_budget_from_arn(self, resource_arn, "untag resource"))
    for key in resource_tag_keys or []:
        tags.pop(key, None)


# ---------------------------------------------------------------------------- responses


def _ok(body: dict[str, Any] | None = None) -> str:
    return json.dumps(body or {})


def _r_create_budget(self: BudgetsResponse) -> str:
    create_budget(
        self.backend,
        account_id=self._get_param("AccountId"),
        budget=self._get_param("Budget"),
        notifications=self._get_param("NotificationsWithSubscribers", []),
        resource_tags=self._get_param("ResourceTags", []),
    )
    return _ok()


def _r_update_budget(self: BudgetsResponse) -> str:
    update_budget(
        self.backend, account_id=self._get_param("AccountId"), new_budget=self._get_param("NewBudget")
    )
    return _ok()


def _r_describe_notifications_for_budget(self: BudgetsResponse) -> str:
    items, token = _page(
        describe_notifications_for_budget(
            self.backend,
            account_id=self._get_param("AccountId"),
            budget_name=self._get_param("BudgetName"),
        ),
        self._get_param("MaxResults"),
        self._get_param("NextToken"),
    )
    return _ok({"Notifications": items, **({"NextToken": token} if token else {})})


def _r_create_notification(self: BudgetsResponse) -> str:
    create_notification(
        self.backend,
        account_id=self._get_param("AccountId"),
        budget_name=self._get_param("BudgetName"),
        notification=self._get_param("Notification"),
        subscribers=self._get_param("Subscribers", []),
    )
    return _ok()


def _r_delete_notification(self: BudgetsResponse) -> str:
    delete_notification(
        self.backend,
        account_id=self._get_param("AccountId"),
        budget_name=self._get_param("BudgetName"),
        notification=self._get_param("Notification"),
    )
    return _ok()


def _r_update_notification(self: BudgetsResponse) -> str:
    update_notification(
        self.backend,
        account_id=self._get_param("AccountId"),
        budget_name=self._get_param("BudgetName"),
        old_notification=self._get_param("OldNotification"),
        new_notification=self._get_param("NewNotification"),
    )
    return _ok()


def _r_create_subscriber(self: BudgetsResponse) -> str:
    create_subscriber(
        self.backend,
        account_id=self._get_param("AccountId"),
        budget_name=self._get_param("BudgetName"),
        notification=self._get_param("Notification"),
        subscriber=self._get_param("Subscriber"),
    )
    return _ok()


def _r_delete_subscriber(self: BudgetsResponse) -> str:
    delete_subscriber(
        self.backend,
        account_id=self._get_param("AccountId"),
        budget_name=self._get_param("BudgetName"),
        notification=self._get_param("Notification"),
        subscriber=self._get_param("Subscriber"),
    )
    return _ok()


def _r_update_subscriber(self: BudgetsResponse) -> str:
    update_subscriber(
        self.backend,
        account_id=self._get_param("AccountId"),
        budget_name=self._get_param("BudgetName"),
        notification=self._get_param("Notification"),
        old_subscriber=self._get_param("OldSubscriber"),
        new_subscriber=self._get_param("NewSubscriber"),
    )
    return _ok()


def _r_describe_subscribers_for_notification(self: BudgetsResponse) -> str:
    items, token = _page(
        describe_subscribers_for_notification(
            self.backend,
            account_id=self._get_param("AccountId"),
            budget_name=self._get_param("BudgetName"),
            notification=self._get_param("Notification"),
        ),
        self._get_param("MaxResults"),
        self._get_param("NextToken"),
    )
    return _ok({"Subscribers": items, **({"NextToken": token} if token else {})})


def _r_list_tags_for_resource(self: BudgetsResponse) -> str:
    tags = list_tags_for_resource(self.backend, resource_arn=self._get_param("ResourceARN"))
    return _ok({"ResourceTags": tags})


def _r_tag_resource(self: BudgetsResponse) -> str:
    tag_resource(
        self.backend,
        resource_arn=self._get_param("ResourceARN"),
        resource_tags=self._get_param("ResourceTags", []),
    )
    return _ok()


def _r_untag_resource(self: BudgetsResponse) -> str:
    untag_resource(
        self.backend,
        resource_arn=self._get_param("ResourceARN"),
        resource_tag_keys=self._get_param("ResourceTagKeys", []),
    )
    return _ok()


# ---------------------------------------------------------------------------- hooks


def set_budget_spend(
    budget_name: str,
    actual: Decimal | str | int,
    forecasted: Decimal | str | int | None = None,
    *,
    unit: str = "USD",
    account_id: str = DEFAULT_ACCOUNT_ID,
) -> None:
    """Test hook: the CalculatedSpend that DescribeBudget(s) reports for a budget.

    Stands in for AWS's own spend calculation; notifications' NotificationState follows it.
    Raises LookupError when the budget doesn't exist.
    """
    backend = budgets_backends[account_id]["aws"]
    budget = backend.budgets[account_id].get(budget_name)
    if budget is None:
        raise LookupError(f"no budget {budget_name!r} in account {account_id}")
    spend: dict[str, Any] = {"ActualSpend": {"Amount": str(Decimal(str(actual))), "Unit": unit}}
    if forecasted is not None:
        spend["ForecastedSpend"] = {"Amount": str(Decimal(str(forecasted))), "Unit": unit}
    budget.budget["CalculatedSpend"] = spend


_BACKEND_METHODS: dict[str, Callable[..., Any]] = {
    "create_budget": create_budget,
    "update_budget": update_budget,
    "describe_notifications_for_budget": describe_notifications_for_budget,
    "create_notification": create_notification,
    "delete_notification": delete_notification,
    "update_notification": update_notification,
    "create_subscriber": create_subscriber,
    "delete_subscriber": delete_subscriber,
    "update_subscriber": update_subscriber,
    "describe_subscribers_for_notification": describe_subscribers_for_notification,
    "list_tags_for_resource": list_tags_for_resource,
    "tag_resource": tag_resource,
    "untag_resource": untag_resource,
}

_RESPONSE_METHODS: dict[str, Callable[..., Any]] = {
    "create_budget": _r_create_budget,
    "update_budget": _r_update_budget,
    "describe_notifications_for_budget": _r_describe_notifications_for_budget,
    "create_notification": _r_create_notification,
    "delete_notification": _r_delete_notification,
    "update_notification": _r_update_notification,
    "create_subscriber": _r_create_subscriber,
    "delete_subscriber": _r_delete_subscriber,
    "update_subscriber": _r_update_subscriber,
    "describe_subscribers_for_notification": _r_describe_subscribers_for_notification,
    "list_tags_for_resource": _r_list_tags_for_resource,
    "tag_resource": _r_tag_resource,
    "untag_resource": _r_untag_resource,
}


def install() -> None:
    """Patch moto's budgets backend and response classes."""
    patch(Budget, "to_dict", budget_to_dict)
    for name, function in _BACKEND_METHODS.items():
        patch(BudgetsBackend, name, function)
    for name, function in _RESPONSE_METHODS.items():
        patch(BudgetsResponse, name, function)
