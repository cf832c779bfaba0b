"""`mlcost plan` outputs for machines and pull requests: a versioned JSON document and Markdown.

The JSON document is described in docs/plan-output.md and docs/plan-output.v1.schema.json (the
tests validate against it); a change that breaks a consumer needs a new schemaVersion.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from mlcost.api.v1alpha1.mlcostpolicy import ComplianceItem, CostKind, MLCostPolicySpec
from mlcost.reconcile.governance import MAX_ITEMS, GovernanceResult, compliance_status

SCHEMA_VERSION = "mlcost.io/plan/v1"
# What the text plan showed before --max-findings existed: the status holds at most MAX_ITEMS.
DEFAULT_MAX_FINDINGS = MAX_ITEMS
FORMATS = ("text", "json", "markdown")
# A marker a CI job can search for to update its earlier comment instead of adding one per push.
MARKDOWN_MARKER = "<!-- mlcost-plan -->"


@dataclass
class ObjectPlan:
    """One manifest's plan, independent of the output format."""

    kind: str
    namespace: str
    name: str
    region: str | None = None
    role_arn: str | None = None
    account: str | None = None
    mode: str | None = None
    outcome: str = "NoChanges"  # NoChanges, ChangesPending, Error, ReadOnly
    error: str | None = None
    changes: list[dict[str, Any]] = field(default_factory=list)
    findings: list[ComplianceItem] = field(default_factory=list)
    evaluated: int | None = None
    recommendations: list[dict[str, Any]] = field(default_factory=list)
    text: list[str] = field(default_factory=list)  # the text output's lines (kind prefix included)

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


def all_findings(spec: MLCostPolicySpec, governance: GovernanceResult) -> list[ComplianceItem]:
    """Every violation (and not-judged endpoint) as status items, not only the status's 50.

    The status block caps its items; a plan must be able to list them all (--max-findings 0), so
    the same builder is run over the evaluation in slices of the cap, keeping its order.
    """
    evaluation, shown = governance.evaluation, governance.compliance.items
    if len(evaluation.violations) + len(evaluation.idle_not_judged) <= len(shown):
        return list(shown)
    now = datetime.now(UTC)
    items: list[ComplianceItem] = []
    for start in range(0, len(evaluation.violations), MAX_ITEMS):
        part = replace(
            evaluation, violations=evaluation.violations[start : start + MAX_ITEMS], idle_not_judged=[]
        )
        items += compliance_status(spec, part, governance, None, now).items
    for start in range(0, len(evaluation.idle_not_judged), MAX_ITEMS):
        part = replace(
            evaluation, violations=[], idle_not_judged=evaluation.idle_not_judged[start : start + MAX_ITEMS]
        )
        items += compliance_status(spec, part, governance, None, now).items
    return items


def shown(findings: Sequence[ComplianceItem], max_findings: int) -> list[ComplianceItem]:
    return list(findings if max_findings == 0 else findings[:max_findings])


def omitted_line(total: int, listed: int) -> str | None:
    """Never cut a list silently: say how many were left out and how to see them."""
    if total <= listed:
        return None
    return (
        f"{total - listed} more finding(s) not shown ({listed} of {total}); "
        "run with --max-findings 0 to see them all"
    )


# --- money -------------------------------------------------------------------------------------


def _cost(item: ComplianceItem) -> tuple[Decimal | None, Decimal | None, str | None]:
    """(monthly, one-off, reason when unknown) of one finding: `cost` with `costKind` (Monthly, or
    OneOff for a finished training job); items written before those fields carry `monthlyCost` only."""
    monthly: Decimal | None
    one_off: Decimal | None = None
    if item.cost_kind is CostKind.ONE_OFF:
        monthly, one_off = None, item.cost
    else:
        monthly = item.cost if item.cost is not None else item.monthly_cost
    unknown = monthly is None and one_off is None
    return monthly, one_off, (item.cost_basis or "unknown: no price") if unknown else None


def cost_kind(item: ComplianceItem) -> str | None:
    return item.cost_kind.value if item.cost_kind else None


def cost_words(item: ComplianceItem) -> str:
    """The money of one finding, labelled: "$167.90/month", "$12.34 one-off" or "unknown: why"."""
    monthly, one_off, reason = _cost(item)
    if monthly is not None:
        return f"{_usd(monthly)}/month"
    if one_off is not None:
        return f"{_usd(one_off)} one-off"
    # The first sentence names the missing price; the rest (how to supply it) is in JSON's
    # costUnknownReason and the status's costBasis, too long for a table cell.
    reason = (reason or "").split(". ")[0]
    return reason if reason.startswith("unknown") else f"unknown: {reason}"


def _fmt(value: Decimal | None) -> str | None:
    return None if value is None else f"{value.quantize(Decimal('0.01'))}"


def _usd(value: Decimal | None) -> str:
    return "unknown" if value is None else f"${value.quantize(Decimal('0.01')):,}"


@dataclass
class _Totals:
    findings: int = 0
    monthly: Decimal = Decimal(0)
    one_off: Decimal = Decimal(0)
    unknown: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "findings": self.findings,
            "monthlyCost": _fmt(self.monthly),
            "oneOffCost": _fmt(self.one_off),
            "unknownCost": self.unknown,
        }


def _at_stake(findings: Iterable[ComplianceItem]) -> _Totals:
    """Money at stake: each resource counted once, however many rules it breaks."""
    totals, seen = _Totals(), set()
    for item in findings:
        totals.findings += 1
        resource = (item.resource_type, item.name)
        if resource in seen:
            continue
        seen.add(resource)
        monthly, one_off, reason = _cost(item)
        totals.monthly += monthly or 0
        totals.one_off += one_off or 0
        totals.unknown += reason is not None
    return totals


def _grouped(findings: Iterable[ComplianceItem], key: str) -> dict[str, dict[str, Any]]:
    groups: dict[str, _Totals] = {}
    for item in findings:
        name = item.rule if key == "rule" else item.resource_type.value
        totals = groups.setdefault(name, _Totals())
        monthly, one_off, reason = _cost(item)
        totals.findings += 1
        totals.monthly += monthly or 0
        totals.one_off += one_off or 0
        totals.unknown += reason is not None
    return {name: totals.as_json() for name, totals in sorted(groups.items())}


# --- JSON --------------------------------------------------------------------------------------


def _finding_json(item: ComplianceItem) -> dict[str, Any]:
    monthly, one_off, reason = _cost(item)
    return {
        "rule": item.rule,
        "resourceType": item.resource_type.value,
        "resource": item.name,
        "detail": item.detail,
        "monthlyCost": _fmt(monthly),
        "oneOffCost": _fmt(one_off),
        "costKind": cost_kind(item),
        "costUnknownReason": reason,
        "costBasis": item.cost_basis,
        "action": item.action,
        "pendingAction": item.pending_action,
        "since": item.since.isoformat() if item.since else None,
    }


def _object_json(plan: ObjectPlan, max_findings: int) -> dict[str, Any]:
    listed = shown(plan.findings, max_findings)
    stake = _at_stake(plan.findings)
    return {
        "kind": plan.kind,
        "namespace": plan.namespace,
        "name": plan.name,
        "mode": plan.mode,
        "outcome": plan.outcome,
        "error": plan.error,
        "aws": {"account": plan.account, "region": plan.region, "roleArn": plan.role_arn},
        "changes": plan.changes,
        "evaluated": plan.evaluated,
        "findings": [_finding_json(i) for i in listed],
        "findingsTotal": len(plan.findings),
        "findingsOmitted": len(plan.findings) - len(listed),
        "recommendations": plan.recommendations,
        "totals": {
            "byRule": _grouped(plan.findings, "rule"),
            "byResourceType": _grouped(plan.findings, "type"),
            "atStake": stake.as_json(),
        },
    }


def render_json(plans: Sequence[ObjectPlan], exit_code: int, max_findings: int) -> str:
    every = [i for p in plans for i in p.findings]
    document = {
        "schemaVersion": SCHEMA_VERSION,
        "generatedAt": datetime.now(UTC).isoformat(timespec="seconds"),
        "exitCode": exit_code,
        "maxFindings": max_findings,
        "summary": {
            "objects": len(plans),
            "withChanges": sum(p.outcome == "ChangesPending" for p in plans),
            "errors": sum(p.outcome == "Error" for p in plans),
            "changes": sum(len(p.changes) for p in plans),
            "findings": len(every),
            "findingsOmitted": sum(len(p.findings) - len(shown(p.findings, max_findings)) for p in plans),
            "byRule": _grouped(every, "rule"),
            "byResourceType": _grouped(every, "type"),
            "atStake": _sum_stakes(plans).as_json(),
        },
        "objects": [_object_json(p, max_findings) for p in plans],
    }
    return json.dumps(document, indent=2)


def _sum_stakes(plans: Sequence[ObjectPlan]) -> _Totals:
    """Policies may overlap: a resource two policies govern is at stake once."""
    return _at_stake(i for p in plans for i in p.findings)


# --- Markdown ----------------------------------------------------------------------------------


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ").strip() or " "


_HEADLINE = {0: "no changes in AWS", 2: "changes pending in AWS", 1: "errors: see below"}


def render_markdown(plans: Sequence[ObjectPlan], exit_code: int, max_findings: int) -> str:
    """A PR comment: the summary first, then one folded block per object."""
    every = [i for p in plans for i in p.findings]
    stake = _sum_stakes(plans)
    by_rule = Counter(i.rule for i in every)
    out = [
        MARKDOWN_MARKER,
        f"## mlcost plan: {len(plans)} object(s), {_HEADLINE.get(exit_code, 'errors: see below')}",
        "",
        "| object | AWS target | outcome | changes | findings | at stake / month |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for p in plans:
        object_stake = _at_stake(p.findings)
        out.append(
            "| "
            + " | ".join(
                _cell(c)
                for c in (
                    f"{p.kind} `{p.key}`",
                    _target(p),
                    p.outcome,
                    len(p.changes),
                    len(p.findings),
                    _stake_words(object_stake) if p.findings else "-",
                )
            )
            + " |"
        )
    out += [
        "",
        f"**Changes in AWS:** {_change_words(plans)}",
        "**Violations by rule:** "
        + (", ".join(f"{rule} {n}" for rule, n in sorted(by_rule.items())) or "none"),
        f"**Money at stake:** {_stake_words(stake)}",
        "",
    ]
    for p in plans:
        out += _details(p, max_findings)
    out.append(f"<sub>`mlcost plan` exit {exit_code} (0 no changes, 2 changes pending, 1 error)</sub>")
    return "\n".join(out)


def _change_words(plans: Sequence[ObjectPlan]) -> str:
    by_action = Counter(c["action"] for p in plans for c in p.changes)
    if not by_action:
        return "none"
    total = sum(by_action.values())
    return f"{total} ({', '.join(f'{action} {n}' for action, n in sorted(by_action.items()))})"


def _target(plan: ObjectPlan) -> str:
    if plan.region is None:
        return "-"
    parts = [plan.account or "account unknown", plan.region]
    if plan.role_arn:
        parts.append(f"as {plan.role_arn}")
    return " ".join(parts)


def _stake_words(stake: _Totals) -> str:
    words = f"{_usd(stake.monthly)}/month"
    if stake.one_off:
        words += f" + {_usd(stake.one_off)} one-off"
    if stake.unknown:
        words += f" ({stake.unknown} resource(s) with unknown cost)"
    return words


def _details(plan: ObjectPlan, max_findings: int) -> list[str]:
    counts = f"{len(plan.changes)} change(s), {len(plan.findings)} finding(s)"
    summary = f"{plan.kind} {plan.key}: {plan.outcome}, {counts}"
    out = ["<details>", f"<summary>{_html(summary)}</summary>", ""]
    if plan.error:
        out += [f"**Error:** {_cell(plan.error)}", ""]
    if plan.changes:
        # A comment has a size limit (65,536 characters on GitHub): the list is cut like the
        # findings, and says so.
        changes = plan.changes if max_findings == 0 else plan.changes[:max_findings]
        out += [f"**Changes** ({len(changes)} of {len(plan.changes)})", ""]
        out += [f"- `{c['action']}` {_cell(c.get('target', ''))}: {_cell(c['detail'])}" for c in changes]
        if len(changes) < len(plan.changes):
            out.append(
                f"- _{len(plan.changes) - len(changes)} more change(s) not shown; "
                "run with --max-findings 0 to see them all_"
            )
        out.append("")
    if plan.recommendations:
        out += ["**Recommendations**", "", "| variant | current | recommended | saves / month | reason |"]
        out.append("| --- | --- | --- | --- | --- |")
        for r in plan.recommendations:
            saves = r["monthlySavings"]
            out.append(
                f"| {_cell(r['variant'])} | {_cell(r['current'] or '-')} "
                f"| {_cell(r['recommended'] or r['outcome'])} "
                f"| {_cell('$' + saves if saves is not None else '-')} | {_cell(r['reason'])} |"
            )
        out.append("")
    listed = shown(plan.findings, max_findings)
    if listed:
        out += [
            f"**Findings** ({len(listed)} of {len(plan.findings)}, most expensive first)",
            "",
            "| type | resource | rule | cost | action | since | detail |",
            "| --- | --- | --- | --- | --- | --- | --- |",
        ]
        for item in listed:
            cost = cost_words(item)
            action = item.action or "-"
            if item.pending_action:
                action += f" ({item.pending_action})"
            since = item.since.isoformat(timespec="minutes") if item.since else "-"
            out.append(
                "| "
                + " | ".join(
                    _cell(c)
                    for c in (
                        item.resource_type.value,
                        f"`{item.name}`",
                        item.rule,
                        cost,
                        action,
                        since,
                        item.detail,
                    )
                )
                + " |"
            )
        out.append("")
    note = omitted_line(len(plan.findings), len(listed))
    if note:
        out += [f"_{note}_", ""]
    if not (plan.error or plan.changes or plan.recommendations or listed):
        out += ["Nothing to change." if plan.outcome != "ReadOnly" else "Read-only: nothing to change.", ""]
    out += ["</details>", ""]
    return out


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
