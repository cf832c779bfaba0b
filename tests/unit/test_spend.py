"""Budget periods, utilisation and the Cost Explorer request bound."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import TypeVar

import pytest

from mlcost.domain.errors import AccessDenied, Throttled
from mlcost.domain.spend import (
    BudgetPeriod,
    CostExplorerCache,
    Spend,
    SpendCache,
    SpendKey,
    TagStatusKey,
    budget_period,
    utilization_percent,
)


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


def test_failure_is_kept_for_the_interval_and_replayed() -> None:
    cache = CostExplorerCache(timedelta(hours=1))
    asks: list[datetime] = []

    def denied() -> Spend:
        asks.append(NOW)
        raise AccessDenied("ce:GetCostAndUsage: not allowed", operation="ce:GetCostAndUsage")

    with pytest.raises(AccessDenied, match="not allowed"):
        cache.get(KEY, NOW, denied)
    with pytest.raises(AccessDenied, match=r"failed at 10:00 UTC; .* asked again after 11:00 UTC"):
        cache.get(KEY, NOW + timedelta(minutes=59), denied)
    failure = cache.failure(KEY, NOW + timedelta(minutes=30))
    assert failure is not None and failure.reason == "AccessDenied"
    assert len(asks) == 1
    assert cache.get(KEY, NOW + timedelta(hours=1), lambda: Spend(Decimal(1), None, NOW)).actual == 1
    assert cache.failure(KEY, NOW + timedelta(hours=1)) is None


T = TypeVar("T")


def miss_at_once(key: Hashable, answer: Callable[[], T], threads: int) -> tuple[int, list[Future[T]]]:
    """`threads` threads ask a fresh cache for `key` while the first request (`answer`) is held: how
    many requests were made, and each thread's outcome."""
    cache = CostExplorerCache(timedelta(hours=1))
    release = threading.Event()
    asks = 0

    def slow() -> T:
        nonlocal asks
        asks += 1
        release.wait(5)
        return answer()

    with ThreadPoolExecutor(max_workers=threads) as pool:
        futures = [pool.submit(cache.get, key, NOW, slow) for _ in range(threads)]
        time.sleep(0.2)  # every thread has missed and is waiting on the one in flight
        release.set()
    return asks, futures  # the pool has waited for every thread


def test_concurrent_misses_wait_for_one_request() -> None:
    asks, futures = miss_at_once(KEY, lambda: Spend(Decimal(7), None, NOW), threads=12)
    answers = [f.result(timeout=5) for f in futures]
    assert asks == 1
    assert {a.actual for a in answers} == {Decimal(7)}


def test_concurrent_misses_share_one_failure() -> None:
    def throttled() -> object:
        raise Throttled("ce:ListCostAllocationTags: slow down")

    asks, futures = miss_at_once(TagStatusKey("123456789012", ("team",)), throttled, threads=8)
    errors = [f.exception(timeout=5) for f in futures]
    assert asks == 1
    assert all(isinstance(e, Throttled) for e in errors)
