"""Budget periods, utilisation and the Cost Explorer request bound."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from mlcost.domain.spend import BudgetPeriod, Spend, SpendCache, SpendKey, budget_period, utilization_percent


@pytest.mark.parametrize(
    ("unit", "today", "start", "end"),
    [
        ("DAILY", date(2026, 11, 27), date(2026, 11, 27), date(2026, 11, 28)),
        ("MONTHLY", date(2026, 11, 27), date(2026, 11, 1), date(2026, 12, 1)),
        ("MONTHLY", date(2026, 12, 31), date(2026, 12, 1), date(2027, 1, 1)),
        ("QUARTERLY", date(2026, 11, 27), date(2026, 10, 1), date(2027, 1, 1)),
        ("QUARTERLY", date(2026, 2, 1), date(2026, 1, 1), date(2026, 4, 1)),
        ("ANNUALLY", date(2026, 11, 27), date(2026, 1, 1), date(2027, 1, 1)),
    ],
)
def test_budget_period(unit: str, today: date, start: date, end: date) -> None:
    assert budget_period(unit, today) == BudgetPeriod(start, end)


@pytest.mark.parametrize(
    ("actual", "limit", "percent"),
    [("1234.56", "5000", "24.69"), ("0", "10", "0.00"), ("150", "100", "150.00"), ("1", "3", "33.33")],
)
def test_utilization_percent(actual: str, limit: str, percent: str) -> None:
    assert utilization_percent(Decimal(actual), Decimal(limit)) == Decimal(percent)


NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
KEY = SpendKey("123456789012", budget_period("MONTHLY", NOW.date()), (("Service", ("Amazon SageMaker",)),))


def test_answer_reused_within_interval_and_refreshed_after() -> None:
    cache = SpendCache(timedelta(hours=1))
    assert cache.lookup(KEY, NOW) is None
    cache.store(KEY, Spend(Decimal(10), Decimal(20), NOW))
    assert cache.lookup(KEY, NOW + timedelta(minutes=59)) is not None
    assert cache.lookup(KEY, NOW + timedelta(hours=1)) is None


def test_other_question_is_not_answered_from_cache() -> None:
    cache = SpendCache(timedelta(hours=1))
    cache.store(KEY, Spend(Decimal(10), Decimal(20), NOW))
    other = SpendKey(KEY.account_id, KEY.period, ())
    assert cache.lookup(other, NOW) is None


def test_older_answer_never_replaces_newer() -> None:
    cache = SpendCache(timedelta(hours=1))
    cache.store(KEY, Spend(Decimal(10), None, NOW))
    cache.store(KEY, Spend(Decimal(5), None, NOW - timedelta(minutes=30)))
    found = cache.lookup(KEY, NOW)
    assert found is not None
    assert found.actual == Decimal(10)
