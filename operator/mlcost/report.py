"""Human-readable reports of reconcile results, shared by `mlcost plan` and `mlcost demo`."""

from __future__ import annotations

from mlcost.domain import conditions as cond
from mlcost.reconcile.policy import PolicyResult
from mlcost.reconcile.results import ObjectRef
from mlcost.render import money, table


def budget_table(results: list[tuple[ObjectRef, PolicyResult]]) -> str:
    rows = []
    for ref, result in results:
        budget = result.status.budget
        ready = cond.get_condition(result.status.conditions, cond.READY)
        rows.append(
            [
                ref.key,
                budget.name if budget and budget.name else "-",
                money(budget.limit if budget else None),
                money(budget.actual_spend if budget else None),
                money(budget.forecasted_spend if budget else None),
                f"{budget.utilization_percent}%"
                if budget and budget.utilization_percent is not None
                else "-",
                f"{ready.status} ({ready.reason})" if ready else "-",
            ]
        )
    return table(["POLICY", "BUDGET", "LIMIT $", "SPEND $", "FORECAST $", "USED", "READY"], rows)


def changes_and_events(results: list[tuple[ObjectRef, PolicyResult]]) -> str:
    lines = []
    for ref, result in results:
        for event in result.outcome.events:
            lines.append(f"  {ref.key}: {event.type.value} {event.reason}: {event.message}")
        if not result.outcome.events and not result.outcome.changes:
            lines.append(f"  {ref.key}: no change in AWS")
    return "\n".join(lines)


def plan_lines(ref: ObjectRef, result: PolicyResult) -> list[str]:
    """What `mlcost plan` prints for one policy."""
    if result.outcome.error:
        return [f"{ref.key}: error: {result.outcome.error.message}"]
    budget = result.budget
    if budget is None:
        return [f"{ref.key}: no budget in spec: no change"]
    if budget.plan and budget.plan.blocker:
        return [f"{ref.key}: blocked ({budget.plan.blocker.value}): {budget.plan.blocker_message}"]
    if not result.outcome.changes:
        return [f"{ref.key}: budget {budget.plan.desired.name if budget.plan else '?'}: no change"]
    verb = "create" if budget.plan and budget.plan.creates else "update"
    name = budget.plan.desired.name if budget.plan else "?"
    return [f"{ref.key}: budget {name}: {verb}"] + [f"  ~ {c}" for c in result.outcome.changes]
