"""Conditions keep their transition time until their status flips."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from mlcost.domain.conditions import get_condition, set_condition

T0 = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


def test_transition_time_moves_only_on_flip() -> None:
    first = set_condition([], "Ready", False, "Throttled", "slow down", now=T0)
    same = set_condition(first, "Ready", False, "AccessDenied", "denied", now=T0 + timedelta(minutes=5))
    flipped = set_condition(same, "Ready", True, "Reconciled", "ok", now=T0 + timedelta(minutes=9))
    assert get_condition(same, "Ready").last_transition_time == T0  # type: ignore[union-attr]
    assert get_condition(same, "Ready").reason == "AccessDenied"  # type: ignore[union-attr]
    assert get_condition(flipped, "Ready").last_transition_time == T0 + timedelta(minutes=9)  # type: ignore[union-attr]


def test_ready_first_then_alphabetical() -> None:
    conditions = set_condition([], "Compliant", True, "Ok", "", now=T0)
    conditions = set_condition(conditions, "BudgetSynced", True, "InSync", "", now=T0)
    conditions = set_condition(conditions, "Ready", True, "Reconciled", "", now=T0)
    assert [c.type for c in conditions] == ["Ready", "BudgetSynced", "Compliant"]
