"""Human-readable reports of reconcile results, shared by `mlcost plan` and `mlcost demo`."""

from __future__ import annotations

from collections.abc import Sequence

from mlcost.api.v1alpha1.endpointrightsizing import RightsizingMode
from mlcost.api.v1alpha1.mlcostpolicy import ComplianceItem, PolicyMode
from mlcost.domain import conditions as cond
from mlcost.plan_output import cost_words
from mlcost.reconcile.governance import MAX_ITEMS
from mlcost.reconcile.policy import PolicyResult
from mlcost.reconcile.results import ObjectRef
from mlcost.reconcile.rightsizing import RightsizingResult
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


def changes_and_events(results: Sequence[tuple[ObjectRef, PolicyResult | RightsizingResult]]) -> str:
    lines = []
    for ref, result in results:
        for event in result.outcome.events:
            lines.append(f"  {ref.key}: {event.type.value} {event.reason}: {event.message}")
        if not result.outcome.events and not result.outcome.changes:
            lines.append(f"  {ref.key}: no change in AWS")
    return "\n".join(lines)


def plan_lines(
    ref: ObjectRef,
    result: PolicyResult,
    mode: PolicyMode,
    *,
    findings: Sequence[ComplianceItem] | None = None,
    max_findings: int = MAX_ITEMS,
) -> list[str]:
    """What `mlcost plan` prints for one policy: budget changes, findings, Enforce actions.

    `findings` is every finding (the status holds only the most expensive ones); at most
    `max_findings` are listed (0 = all), followed by a line saying how many were left out.
    """
    if result.outcome.error:
        return [f"{ref.key}: error: {result.outcome.error.message}"]
    return _budget_plan_lines(ref, result) + _governance_plan_lines(ref, result, mode, findings, max_findings)


def _budget_plan_lines(ref: ObjectRef, result: PolicyResult) -> list[str]:
    budget = result.budget
    if budget is None or budget.plan is None:
        return [f"{ref.key}: no budget in spec"]
    plan = budget.plan
    if plan.blocker:
        return [f"{ref.key}: blocked ({plan.blocker.value}): {plan.blocker_message}"]
    if not plan.changes:
        return [f"{ref.key}: budget {plan.desired.name}: no change"]
    verb = "create" if plan.creates else "update"
    return [f"{ref.key}: budget {plan.desired.name}: {verb}"] + [f"  ~ {c.detail}" for c in plan.changes]


def _governance_plan_lines(
    ref: ObjectRef,
    result: PolicyResult,
    mode: PolicyMode,
    findings: Sequence[ComplianceItem] | None,
    max_findings: int,
) -> list[str]:
    governance = result.governance
    if governance is None:
        return []
    compliance = governance.compliance
    every = list(compliance.items if findings is None else findings)
    listed = every if max_findings == 0 else every[:max_findings]
    lines = [f"{ref.key}: governs {compliance.evaluated} resource(s), {compliance.violations} violation(s)"]
    for item in listed:
        lines.append(
            f"  ! {item.resource_type.value} {item.name}: {item.rule}: {item.detail}; {cost_words(item)}"
        )
    # Never cut the list silently: the status block alone holds at most MAX_ITEMS findings.
    total = max(len(every), compliance.violations) if findings is None else len(every)
    if total > len(listed):
        lines.append(
            f"  ... {total - len(listed)} more finding(s) not shown ({len(listed)} of {total}); "
            "run with --max-findings 0 to see them all"
        )
    actions = governance.plan.actions
    if actions:
        lead = "Enforce would now" if mode is PolicyMode.AUDIT else "will now"
        suffix = " (mode is Audit: nothing is applied)" if mode is PolicyMode.AUDIT else ""
        lines.append(f"{ref.key}: {lead}:{suffix}")
        lines.extend(
            f"  ~ {a.kind.value.lower()} {a.resource.type.value} {a.resource.name}: {a.detail}"
            for a in actions
        )
    for (type_, name), note in sorted(governance.plan.pending.items()):
        lines.append(f"  > {type_.value} {name}: {note}")
    return lines


def compliance_report(results: list[tuple[ObjectRef, PolicyResult]]) -> str:
    """The governance findings of each policy, most expensive first, for the demo."""
    blocks = []
    for ref, result in results:
        compliance = result.status.compliance
        if compliance is None:
            continue
        governed = ", ".join(f"{n} {t}" for t, n in (compliance.governed or {}).items()) or "nothing"
        by_rule = ", ".join(f"{r} {n}" for r, n in compliance.by_rule.items()) or "none"
        spot = f"{compliance.spot_savings_percent}%" if compliance.spot_savings_percent is not None else "-"
        blocks.append(
            f"{ref.key}: governs {governed}; {compliance.violations} violation(s): {by_rule}\n"
            f"  idle endpoints waste ${compliance.idle_monthly_waste}/month; "
            f"Managed Spot saved {spot} on {compliance.spot_jobs or 0} finished job(s)"
        )
        # A cell says "unknown"; why (which price is missing) is said once below the table.
        costs = [cost_words(item) for item in compliance.items]
        rows = [
            [
                item.resource_type.value,
                item.name,
                item.rule,
                "unknown" if cost.startswith("unknown") else cost,  # per month or one-off
                item.action or "-",
                item.detail[:70],
            ]
            for item, cost in zip(compliance.items, costs, strict=True)
        ]
        if rows:
            blocks.append(table(["TYPE", "NAME", "RULE", "COST", "ACTION", "DETAIL"], rows))
        unknown = sorted({cost for cost in costs if cost.startswith("unknown")})
        blocks.extend(f"  cost {why} (set MLCOST_PRICE_CATALOGUE to supply it)" for why in unknown)
        violations_listed = sum(1 for item in compliance.items if item.rule in compliance.by_rule)
        if compliance.violations > violations_listed:
            # The status keeps the most expensive MAX_ITEMS; say so rather than cut silently.
            blocks.append(
                f"  ... {compliance.violations - violations_listed} more violation(s) not listed "
                f"(status keeps the {MAX_ITEMS} most expensive); `mlcost plan --max-findings 0` lists all"
            )
    return "\n".join(blocks)


def rightsizing_report(results: list[tuple[ObjectRef, RightsizingResult]]) -> str:
    """Each rightsizing's current and recommended configuration per variant, with the reason."""
    rows, reasons = [], []
    for ref, result in results:
        ready = cond.get_condition(result.status.conditions, cond.READY)
        for variant in result.status.variants or []:
            current, rec = variant.current, variant.recommendation
            rows.append(
                [
                    ref.key,
                    variant.name,
                    f"{current.instance_type} x{current.instance_count}" if current else "-",
                    money(current.monthly_cost if current else None),
                    f"{rec.instance_type} x{rec.instance_count}" if rec else variant.outcome,
                    money(rec.monthly_savings if rec else None),
                    rec.source.value if rec and rec.source else "-",
                ]
            )
            reasons.append(f"  {ref.key}/{variant.name}: {variant.reason}")
        if not result.status.variants and ready:
            reasons.append(f"  {ref.key}: {ready.reason}: {ready.message}")
        if result.apply_note:
            reasons.append(f"  {ref.key}: Apply: {result.apply_note}")
    header = ["RIGHTSIZING", "VARIANT", "CURRENT", "$/MONTH", "RECOMMENDED", "SAVES $/MO", "SOURCE"]
    return "\n".join([table(header, rows), *reasons])


def rightsizing_plan_lines(ref: ObjectRef, result: RightsizingResult, mode: RightsizingMode) -> list[str]:
    """What `mlcost plan` prints for one EndpointRightsizing."""
    if result.outcome.error:
        return [f"{ref.key}: error: {result.outcome.error.message}"]
    ready = cond.get_condition(result.status.conditions, cond.READY)
    lines = []
    for variant in result.status.variants or []:
        rec = variant.recommendation
        target = (
            f"{rec.instance_type} x{rec.instance_count}, saves ${rec.monthly_savings}/month"
            if rec
            else variant.outcome
        )
        lines.append(f"{ref.key}/{variant.name}: {target}")
        lines.append(f"  {variant.reason}")
    if not lines and ready:
        lines.append(f"{ref.key}: {ready.reason}: {ready.message}")
    if mode is RightsizingMode.APPLY:
        lines.append(f"{ref.key}: Apply: {result.apply_note}")
    return lines
