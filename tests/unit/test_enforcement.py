"""Enforce mode's plan: mark first, act after the grace period, cap actions, skip transitions."""

from __future__ import annotations

from datetime import timedelta

from mlcost.api.v1alpha1.mlcostpolicy import Enforcement
from mlcost.domain.enforcement import VIOLATION_TAG, ActionKind, format_time, plan_enforcement
from mlcost.domain.governance import evaluate
from mlcost.domain.inventory import Inventory, SageMakerResource
from tests.unit.test_governance import CATALOGUE, FRIDAY, NB, TAGS, TJ, resource, spec

RULES = spec(
    notebooks={"maxUptime": "12h"}, tagging={"required": [{"key": "owner"}], "defaults": {"owner": "ml"}}
)
LONG = FRIDAY - timedelta(hours=20)


def plan(*resources: SageMakerResource, grace: str = "24h", cap: int = 20, now=FRIDAY):  # type: ignore[no-untyped-def]
    inventory = Inventory("1", "us-east-1", now, resources)
    evaluation = evaluate(RULES, inventory, now=now, catalogue=CATALOGUE)
    enforcement = Enforcement.model_validate({"gracePeriod": grace, "maxActionsPerSweep": cap})
    return plan_enforcement(evaluation, list(resources), enforcement, now)


def kinds(result) -> list[tuple[ActionKind, str]]:  # type: ignore[no-untyped-def]
    return [(a.kind, a.resource.name) for a in result.actions]


def test_first_sight_marks_and_adds_missing_default_tags() -> None:
    result = plan(resource(NB, "nb", started=LONG))
    assert kinds(result) == [(ActionKind.ADD_TAGS, "nb"), (ActionKind.MARK, "nb")]
    mark = next(a for a in result.actions if a.kind is ActionKind.MARK)
    assert mark.tags == {VIOLATION_TAG: format_time(FRIDAY)}
    assert "stop due at 2026-11-28T10:00:00Z" in result.pending[(NB, "nb")]


def test_marked_within_grace_waits() -> None:
    marked = resource(
        NB,
        "nb",
        started=LONG,
        tags={**TAGS, "owner": "x", VIOLATION_TAG: format_time(FRIDAY - timedelta(hours=2))},
    )
    result = plan(marked)
    assert kinds(result) == []
    assert "2026-11-28T08:00:00Z" in result.pending[(NB, "nb")]


def test_marked_past_grace_is_stopped() -> None:
    marked = resource(
        NB,
        "nb",
        started=LONG,
        tags={**TAGS, "owner": "x", VIOLATION_TAG: format_time(FRIDAY - timedelta(hours=25))},
    )
    assert kinds(plan(marked)) == [(ActionKind.STOP, "nb")]


def test_compliant_again_is_unmarked_and_left_running() -> None:
    fixed = resource(
        NB, "nb", tags={**TAGS, "owner": "x", VIOLATION_TAG: format_time(FRIDAY - timedelta(hours=25))}
    )
    assert kinds(plan(fixed)) == [(ActionKind.UNMARK, "nb")]


def test_transitional_resources_are_never_touched() -> None:
    stopping = resource(NB, "nb", status="Stopping", started=LONG, tags={"team": "fraud"})
    result = plan(stopping)
    assert kinds(result) == []
    assert "Stopping" in result.pending[(NB, "nb")]


def test_actions_are_capped_money_first() -> None:
    old_mark = {**TAGS, "owner": "x", VIOLATION_TAG: format_time(FRIDAY - timedelta(days=2))}
    resources = [resource(NB, f"nb-{i}", started=LONG, tags={"team": "fraud"}) for i in range(3)]
    resources.append(resource(NB, "nb-due", started=LONG, tags=old_mark, instance_type="ml.p3.2xlarge"))
    result = plan(*resources, cap=2)
    assert kinds(result)[0] == (ActionKind.STOP, "nb-due")
    assert len(result.actions) == 2
    assert sum("maxActionsPerSweep 2 reached" in note for note in result.pending.values()) >= 2


def test_unknown_price_acts_after_every_known_one_even_zero() -> None:
    due = {**TAGS, "owner": "x", VIOLATION_TAG: format_time(FRIDAY - timedelta(days=2))}
    # Both stop for maxUptime; neither is cheaper than the other as far as anyone knows, but
    # a known price comes first: an unknown one is not "below $0".
    unknown = resource(NB, "nb-a-unknown", started=LONG, tags=due, instance_type="ml.t2.medium")
    known = resource(NB, "nb-z-known", started=LONG, tags=due)
    result = plan(unknown, known, cap=1)
    assert kinds(result) == [(ActionKind.STOP, "nb-z-known")]
    assert "maxActionsPerSweep 1 reached" in result.pending[(NB, "nb-a-unknown")]


def test_finished_job_tagging_is_ordered_by_what_it_cost_once() -> None:
    # Completed jobs cost $0/month; what they cost once ranks them (2 h vs 1 h billable).
    jobs = [
        resource(TJ, "job-small", status="Completed", billable_seconds=3600, tags={"team": "fraud"}),
        resource(TJ, "job-big", status="Completed", billable_seconds=7200, tags={"team": "fraud"}),
        resource(TJ, "job-unknown", status="Completed", tags={"team": "fraud"}),
    ]
    result = plan(*jobs)
    assert kinds(result) == [
        (ActionKind.ADD_TAGS, "job-big"),
        (ActionKind.ADD_TAGS, "job-small"),
        (ActionKind.ADD_TAGS, "job-unknown"),
    ]
