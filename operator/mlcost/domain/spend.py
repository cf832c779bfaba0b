"""Budget periods, spend figures, and the bound on how often Cost Explorer is asked."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from mlcost.api.v1alpha1.mlcostpolicy import TimeUnit

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


class SpendCache:
    """Shares Cost Explorer answers and bounds how often each question is asked.

    Each request costs $0.01, so an answer is reused for `min_interval` by every policy that
    asks the same question; a policy asks anew only when its answer is older than that or its
    question changed (new filters, a new period).
    """

    def __init__(self, min_interval: timedelta) -> None:
        self.min_interval = min_interval
        self._answers: dict[SpendKey, Spend] = {}

    def lookup(self, key: SpendKey, now: datetime) -> Spend | None:
        """The answer to use without asking AWS, or None when a request is due."""
        cached = self._answers.get(key)
        if cached and now - cached.as_of < self.min_interval:
            return cached
        return None

    def store(self, key: SpendKey, spend: Spend) -> None:
        current = self._answers.get(key)
        # A status read back after a restart must not replace a newer answer.
        if current is None or current.as_of <= spend.as_of:
            self._answers[key] = spend
