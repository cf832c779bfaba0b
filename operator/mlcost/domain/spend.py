"""Budget periods, spend figures, and the cache that bounds how often Cost Explorer is asked."""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, TypeVar, cast

from mlcost.api.v1alpha1.mlcostpolicy import TimeUnit
from mlcost.domain.errors import MlcostError

T = TypeVar("T")

CENT = Decimal("0.01")


@dataclass(frozen=True)
class BudgetPeriod:
    """A budget period; `end` is exclusive, as Cost Explorer's TimePeriod wants it."""

    start: date
    end: date


def budget_period(time_unit: str, today: date) -> BudgetPeriod:
    """The period of `time_unit` that contains `today` (calendar-aligned, like AWS Budgets)."""
    if time_unit == TimeUnit.DAILY:
        return BudgetPeriod(today, today + timedelta(days=1))
    if time_unit == TimeUnit.MONTHLY:
        start = today.replace(day=1)
        return BudgetPeriod(start, _add_months(start, 1))
    if time_unit == TimeUnit.QUARTERLY:
        start = date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
        return BudgetPeriod(start, _add_months(start, 3))
    start = date(today.year, 1, 1)
    return BudgetPeriod(start, date(today.year + 1, 1, 1))


def _add_months(day: date, months: int) -> date:
    index = day.month - 1 + months
    return date(day.year + index // 12, index % 12 + 1, 1)


@dataclass(frozen=True)
class Spend:
    """What Cost Explorer said about one budget's costs in one period."""

    actual: Decimal
    forecast: Decimal | None  # whole-period forecast; None when AWS has no forecast yet
    as_of: datetime
    note: str = ""  # why the forecast is missing, for the status message


def utilization_percent(actual: Decimal, limit: Decimal) -> Decimal:
    return (actual * 100 / limit).quantize(CENT, rounding=ROUND_HALF_UP)


def to_cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class SpendKey:
    """Identifies one Cost Explorer question; policies asking the same one share the answer."""

    account_id: str
    period: BudgetPeriod
    filters: tuple[tuple[str, tuple[str, ...]], ...]
    metric: str = "UnblendedCost"  # the metric the budget tracks (Metrics / CostTypes)


@dataclass(frozen=True)
class TagStatusKey:
    """The question "which of these tag keys are active cost-allocation tags" of one account."""

    account_id: str
    keys: tuple[str, ...]


@dataclass(frozen=True)
class _Entry:
    asked_at: datetime
    answer: object = None
    error: MlcostError | None = None


class CostExplorerCache:
    """Every Cost Explorer question of the operator, asked at most once per `min_interval`.

    Each request costs $0.01, so one cache bounds them all: spend and forecast, cost-allocation
    tag status, and any later read (grouped spend, Savings Plans) keyed by its own frozen
    dataclass. A question is asked anew only when its last answer *or failure* is older than
    `min_interval`: a failure (AccessDenied, throttling, a 5xx after retries) is kept and
    raised again to every asker until then, so a broken permission costs one request an hour,
    not one a sweep. Concurrent misses of one question wait for the single request in flight
    (single-flight) instead of each sending their own.
    """

    def __init__(self, min_interval: timedelta) -> None:
        self.min_interval = min_interval
        self._entries: dict[Hashable, _Entry] = {}
        self._in_flight: dict[Hashable, threading.Event] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable, now: datetime, ask: Callable[[], T]) -> T:
        """The answer to `key`: cached when fresh, else from `ask()`, called by one thread only.

        Raises the (cached) MlcostError of the last attempt while it is fresh.
        """
        while True:
            with self._lock:
                entry = self._fresh(key, now)
                waiting = self._in_flight.get(key) if entry is None else None
                if entry is None and waiting is None:
                    done = self._in_flight[key] = threading.Event()
                    break
            if entry is not None:
                return cast(T, self._replay(entry))
            # Another thread is asking this very question: its answer is ours.
            assert waiting is not None
            waiting.wait()
        try:
            try:
                answer = ask()
            except MlcostError as exc:
                with self._lock:
                    self._entries[key] = _Entry(now, error=exc)
                raise
            with self._lock:
                self._entries[key] = _Entry(now, answer=answer)
            return answer
        finally:
            with self._lock:
                del self._in_flight[key]
            done.set()

    def lookup(self, key: SpendKey, now: datetime) -> Spend | None:
        """The spend to use without asking AWS, or None when a request is due (or last failed)."""
        with self._lock:
            entry = self._fresh(key, now)
        if entry is None or entry.error is not None or not isinstance(entry.answer, Spend):
            return None
        return entry.answer

    def store(self, key: SpendKey, spend: Spend) -> None:
        """Remember an answer (e.g. the figure a status kept across a restart) as of spend.as_of."""
        with self._lock:
            current = self._entries.get(key)
            # A status read back after a restart must not replace a newer answer or failure.
            if current is None or current.asked_at <= spend.as_of:
                self._entries[key] = _Entry(spend.as_of, answer=spend)

    def failure(self, key: Hashable, now: datetime) -> MlcostError | None:
        """The failure that stands for `key` until it may be asked again; None when there is none."""
        with self._lock:
            entry = self._fresh(key, now)
        return self._annotated(entry) if entry and entry.error else None

    def next_ask(self, key: Hashable) -> datetime | None:
        """When `key` may be asked again."""
        with self._lock:
            entry = self._entries.get(key)
        return entry.asked_at + self.min_interval if entry else None

    def _fresh(self, key: Hashable, now: datetime) -> _Entry | None:
        entry = self._entries.get(key)
        if entry is not None and now - entry.asked_at < self.min_interval:
            return entry
        return None

    def _replay(self, entry: _Entry) -> Any:
        if entry.error is not None:
            raise self._annotated(entry)
        return entry.answer

    def _annotated(self, entry: _Entry) -> MlcostError:
        """The kept failure, saying when it happened and when the question is asked again.

        A new exception each time: threads must not share (and mutate) one traceback.
        """
        assert entry.error is not None
        error = entry.error
        retry = (entry.asked_at + self.min_interval).strftime("%H:%M UTC")
        return type(error)(
            f"{error.message} (Cost Explorer failed at {entry.asked_at:%H:%M UTC}; to bound its "
            f"cost the question is asked again after {retry})",
            operation=error.operation,
        )


# The name the operator, CLI and benchmarks construct it by.
SpendCache = CostExplorerCache
