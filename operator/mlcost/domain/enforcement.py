"""Plan what Enforce mode does about violations: mark, wait out the grace period, then act."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from mlcost.api.types import format_duration
from mlcost.api.v1alpha1.mlcostpolicy import Enforcement, ResourceType
from mlcost.domain.governance import Evaluation, Remedy, Violation
from mlcost.domain.inventory import SageMakerResource

VIOLATION_TAG = "mlcost.io/violation"


class ActionKind(StrEnum):
    STOP = "Stopped"
    DELETE = "Deleted"
    ADD_TAGS = "TagAdded"
    MARK = "Marked"
    UNMARK = "Unmarked"


# Money-saving actions first, then tagging, then bookkeeping.
_PRIORITY = {
    ActionKind.STOP: 0,
    ActionKind.DELETE: 0,
    ActionKind.ADD_TAGS: 1,
    ActionKind.MARK: 2,
    ActionKind.UNMARK: 3,
}


@dataclass(frozen=True)
class Action:
    kind: ActionKind
    resource: SageMakerResource
    detail: str
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class EnforcementPlan:
    actions: list[Action] = field(default_factory=list)
    # What waits, per resource, in words ("stop due at ...", "deferred: ...").
    pending: dict[tuple[ResourceType, str], str] = field(default_factory=dict)
    # When each marked resource was first marked (its violations' "since").
    marked_since: dict[tuple[ResourceType, str], datetime] = field(default_factory=dict)


def mark_time(resource: SageMakerResource) -> datetime | None:
    value = resource.tags.get(VIOLATION_TAG)
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None  # a mark we cannot read is replaced by a fresh one


def format_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _key(resource: SageMakerResource) -> tuple[ResourceType, str]:
    return resource.type, resource.name


def plan_enforcement(
    evaluation: Evaluation, governed: list[SageMakerResource], enforcement: Enforcement, now: datetime
) -> EnforcementPlan:
    """The actions Enforce mode takes now (at most maxActionsPerSweep) and what waits.

    `governed` is every resource in scope, so marks on resources that became compliant during
    the grace period are removed.
    """
    by_resource: dict[tuple[ResourceType, str], list[Violation]] = defaultdict(list)
    for violation in evaluation.violations:
        by_resource[_key(violation.resource)].append(violation)
    plan = EnforcementPlan()
    wanted: list[Action] = []
    for resource in governed:
        violations = by_resource.get(_key(resource), [])
        if resource.transitional:
            if violations:
                plan.pending[_key(resource)] = f"waits: {resource.status}, no action while it changes state"
            continue
        wanted.extend(_resource_actions(resource, violations, enforcement, now, plan))
    wanted.sort(key=lambda a: (_PRIORITY[a.kind], _cost_rank(evaluation, a.resource)))
    plan.actions = wanted[: enforcement.max_actions_per_sweep]
    for action in wanted[enforcement.max_actions_per_sweep :]:
        plan.pending[_key(action.resource)] = (
            f"deferred: {action.kind.value.lower()} waits for the next sweep "
            f"(maxActionsPerSweep {enforcement.max_actions_per_sweep} reached)"
        )
    return plan


def _cost_rank(evaluation: Evaluation, resource: SageMakerResource) -> tuple[tuple[int, Decimal], str]:
    # Most expensive first; a resource whose price is unknown after every known one, not as if $0.
    return (evaluation.cost_of(resource).rank, resource.name)


def _resource_actions(
    resource: SageMakerResource,
    violations: list[Violation],
    enforcement: Enforcement,
    now: datetime,
    plan: EnforcementPlan,
) -> list[Action]:
    actions = []
    tags = {k: v for violation in violations for k, v in violation.tags_to_add.items()}
    if tags:
        actions.append(Action(ActionKind.ADD_TAGS, resource, f"add tags {_show(tags)}", tags))
    drastic = [v for v in violations if v.remedy in (Remedy.STOP, Remedy.DELETE)]
    marked = mark_time(resource)
    if not drastic:
        if resource.tags.get(VIOLATION_TAG) is not None:
            actions.append(Action(ActionKind.UNMARK, resource, "compliant again: violation mark removed"))
        return actions
    kind = ActionKind.DELETE if any(v.remedy is Remedy.DELETE for v in drastic) else ActionKind.STOP
    verb = "delete" if kind is ActionKind.DELETE else "stop"
    rules = ", ".join(sorted({v.rule.value for v in drastic}))
    if marked is None:
        due = now + enforcement.grace_period
        plan.marked_since[_key(resource)] = now
        plan.pending[_key(resource)] = f"{verb} due at {format_time(due)} unless it complies by then"
        actions.append(
            Action(
                ActionKind.MARK,
                resource,
                f"marked for {rules}: will {verb} after the grace period "
                f"({format_duration(enforcement.grace_period)}) at {format_time(due)}",
                {VIOLATION_TAG: format_time(now)},
            )
        )
        return actions
    plan.marked_since[_key(resource)] = marked
    due = marked + enforcement.grace_period
    if now >= due:
        actions.append(
            Action(kind, resource, f"{verb} {resource.name} ({rules}; marked {format_time(marked)})")
        )
    else:
        plan.pending[_key(resource)] = f"{verb} due at {format_time(due)} unless it complies by then"
    return actions


def _show(tags: dict[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(tags.items()))
