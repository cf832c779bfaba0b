"""Reducer for Kubernetes-style status conditions: keep transition times honest."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from mlcost.api.common import Condition, ConditionStatus

READY = "Ready"
BUDGET_SYNCED = "BudgetSynced"
COMPLIANT = "Compliant"
COST_ALLOCATION_TAGS = "CostAllocationTagsActive"
# Conditions that say whether the operator did its job; the others report what it found.
SYNC_CONDITIONS = frozenset({BUDGET_SYNCED})


def set_condition(
    conditions: list[Condition],
    type_: str,
    status: bool | ConditionStatus,
    reason: str,
    message: str,
    *,
    now: datetime,
    generation: int | None = None,
) -> list[Condition]:
    """Return `conditions` with `type_` set; lastTransitionTime moves only when status flips."""
    if isinstance(status, bool):
        status = ConditionStatus.TRUE if status else ConditionStatus.FALSE
    previous = next((c for c in conditions if c.type == type_), None)
    since = previous.last_transition_time if previous and previous.status == status else now
    updated = Condition(
        type=type_,
        status=status,
        reason=reason,
        message=message,
        last_transition_time=since,
        observed_generation=generation,
    )
    others = [c for c in conditions if c.type != type_]
    return sorted([*others, updated], key=lambda c: (c.type != READY, c.type))


def get_condition(conditions: list[Condition], type_: str) -> Condition | None:
    return next((c for c in conditions if c.type == type_), None)


class HasConditions(Protocol):
    conditions: list[Condition]


def set_on(
    status: HasConditions,
    type_: str,
    ok: bool | ConditionStatus,
    reason: str,
    message: str,
    *,
    now: datetime,
    generation: int | None,
) -> None:
    """set_condition on a status object in place."""
    status.conditions = set_condition(
        status.conditions, type_, ok, reason, message, now=now, generation=generation
    )


def reason_changed(previous: HasConditions, type_: str, reason: str) -> bool:
    """Whether a condition's reason is new, so a repeated failure posts its Event only once."""
    old = get_condition(previous.conditions, type_)
    return old is None or old.reason != reason


def is_ready(conditions: list[Condition]) -> bool:
    ready = get_condition(conditions, READY)
    return bool(ready and ready.status == ConditionStatus.TRUE)
