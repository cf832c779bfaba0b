"""Reconcile one MLCostReport: read showback spend and Savings Plans into a status. Read-only in AWS."""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import TypeVar

from mlcost.api.common import ConditionStatus
from mlcost.api.v1alpha1.mlcostreport import (
    MAX_GROUPS,
    MAX_PLANS,
    MLCostReportSpec,
    MLCostReportStatus,
    RecommendationStatus,
    SageMakerUsage,
    SavingsPlansSpec,
    SavingsPlansStatus,
    SavingsPlanStatus,
    SpendGroupStatus,
    SpendStatus,
)
from mlcost.aws.costexplorer import SAGEMAKER_SERVICE, CostExplorerClient
from mlcost.aws.savingsplans import SavingsPlansClient
from mlcost.aws.session import AwsSessions, AwsTarget
from mlcost.domain import conditions as cond
from mlcost.domain.errors import MlcostError
from mlcost.domain.showback import (
    GroupedSpend,
    SavingsPlan,
    SavingsPlanRecommendation,
    SpendGroup,
    plans_expiring,
    untagged_group,
)
from mlcost.domain.spend import BudgetPeriod, CostExplorerCache, Spend, SpendKey, budget_period
from mlcost.reconcile.base import Reconciler
from mlcost.reconcile.policy import SharedTagStatus
from mlcost.reconcile.results import ObjectRef, Outcome, utcnow

log = logging.getLogger(__name__)

T = TypeVar("T")

# The forecast is the one a budget filtered on SageMaker alone reads: same question, same cache
# entry, so such a policy and the report share one request.
SAGEMAKER_FILTER: dict[str, tuple[str, ...]] = {"Service": (SAGEMAKER_SERVICE,)}
CENT = Decimal("0.01")
TENTH = Decimal("0.1")

SPEND_READ = "SpendRead"
SAVINGS_PLANS_READ = "SavingsPlansRead"
SAVINGS_PLANS_HEALTHY = "SavingsPlansHealthy"
UNTAGGED_SPEND_LOW = "UntaggedSpendLow"
PLAN_EXPIRING = "PlanExpiring"
LOW_UTILIZATION = "LowUtilization"
UNTAGGED_SPEND_HIGH = "UntaggedSpendHigh"
# Whether the operator did its job: Ready follows these; the others report what it found.
READ_CONDITIONS = (SPEND_READ, SAVINGS_PLANS_READ)


@dataclass(frozen=True)
class GroupedSpendKey:
    """Cost Explorer question: SageMaker spend of [start, end) by a tag and usage type."""

    account_id: str
    start: date
    end: date
    tag_key: str


@dataclass(frozen=True)
class SavingsPlansUsageKey:
    """Cost Explorer question: Savings Plans utilisation or coverage of [start, end)."""

    account_id: str
    start: date
    end: date
    figure: str  # "utilization" | "coverage"
    plan_arns: tuple[str, ...] = ()  # utilisation is of these (the SageMaker) plans only


@dataclass(frozen=True)
class RecommendationKey:
    """Cost Explorer question: the SAGEMAKER_SP purchase recommendation for these choices."""

    account_id: str
    term: str
    payment_option: str
    lookback: str


@dataclass
class ReportResult:
    status: MLCostReportStatus
    outcome: Outcome
    # Every read that failed this time, in the order asked (the metrics and the demo read them).
    failures: list[MlcostError] = field(default_factory=list)
    # Every spend group, also those past the status's MAX_GROUPS: the metrics stack all of them.
    all_groups: list[SpendGroupStatus] | None = None

    @property
    def ready(self) -> bool:
        return cond.is_ready(self.status.conditions)


def cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def usage_window(period: BudgetPeriod, today: date) -> tuple[date, date]:
    """The days of the period with data: [period start, today); yesterday on the period's first day.

    Savings Plans utilisation and coverage need End after Start, and today's data is incomplete.
    """
    if today > period.start:
        return period.start, min(today, period.end)
    return today - timedelta(days=1), today


class ReportReconciler(Reconciler):
    """Everything an MLCostReport reads from AWS, without knowing about kopf. Never writes to AWS."""

    def __init__(
        self,
        sessions: AwsSessions,
        spend_cache: CostExplorerCache,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        super().__init__(sessions, clock)
        self.spend_cache = spend_cache
        # The tag status is the question MLCostPolicy asks too: one shared answer per hour.
        self.tag_status = SharedTagStatus(spend_cache)

    def reconcile(
        self, ref: ObjectRef, spec: MLCostReportSpec, previous: MLCostReportStatus | None
    ) -> ReportResult:
        now = self.clock()
        previous = previous or MLCostReportStatus()
        status = previous.model_copy(deep=True)
        status.observed_generation = ref.generation
        result = ReportResult(status, Outcome())
        target = self.target(spec)
        try:
            account = self.sessions.account_id(target)
        except MlcostError as exc:
            # Without the account nothing can be read: say so on every read condition.
            result.failures.append(exc)
            for type_ in READ_CONDITIONS:
                self._set(status, type_, ConditionStatus.UNKNOWN, exc.reason, exc.message, now, ref)
            self._finish(result, previous, now, ref)
            return result
        self._spend(ref, spec, result, previous, target, account, now)
        self._tags(ref, spec, result, previous, target, account, now)
        self._savings_plans(ref, spec, result, previous, target, account, now)
        self._finish(result, previous, now, ref)
        return result

    def finalize(
        self, ref: ObjectRef, spec: MLCostReportSpec, previous: MLCostReportStatus | None
    ) -> Outcome:
        """A report owns nothing in AWS: there is nothing to release."""
        return Outcome()

    # ------------------------------------------------------------------------------ reads

    def _ask(self, key: Hashable, now: datetime, ask: Callable[[], T]) -> tuple[T, datetime]:
        """One Cost Explorer question through the shared cache, with when it was asked."""
        return self.spend_cache.get(key, now, lambda: (ask(), now))

    def _remember(self, key: Hashable, at: datetime | None, answer: object, now: datetime) -> None:
        """After a restart the status remembers the last answer: do not pay for it again.

        The answer is kept as asked at `at`, so it is asked anew when it would have been anyway;
        a question the cache already holds (asked since) is left alone.
        """
        if at is None or not timedelta(0) <= now - at < self.spend_cache.min_interval:
            return
        if self.spend_cache.next_ask(key) is None:
            self.spend_cache.get(key, at, lambda: (answer, at))

    def _spend(
        self,
        ref: ObjectRef,
        spec: MLCostReportSpec,
        result: ReportResult,
        previous: MLCostReportStatus,
        target: AwsTarget,
        account: str,
        now: datetime,
    ) -> None:
        status = result.status
        showback = spec.showback
        tag = showback.group_by_tag
        today = now.date()
        period = budget_period(showback.time_unit.value, today)
        # Cost Explorer's End is exclusive: up to and including today, never past the period.
        until = min(today + timedelta(days=1), period.end)
        ce = CostExplorerClient(self.sessions.client("ce", target))
        spend = SpendStatus(period_start=period.start, period_end=period.end, group_by=tag)
        problems: list[str] = []
        failed: MlcostError | None = None
        key = GroupedSpendKey(account, period.start, until, tag)
        forecast_key = SpendKey(account, period, tuple(sorted(SAGEMAKER_FILTER.items())))
        self._remember_spend(key, forecast_key, previous.spend, now)
        try:
            grouped, asked = self._ask(
                key,
                now,
                lambda: ce.grouped_spend(period.start, until, tag, today=today),
            )
        except MlcostError as exc:
            failed = exc
            result.failures.append(exc)
            problems.append(f"spend by {tag} and usage unknown: {exc.message}")
        else:
            result.all_groups = _fill_groups(spend, grouped)
            spend.computed_at = asked
        try:
            forecast: Spend = self.spend_cache.get(
                forecast_key,
                now,
                lambda: ce.spend(period, SAGEMAKER_FILTER, now),
            )
        except MlcostError as exc:
            failed = failed or exc
            result.failures.append(exc)
            problems.append(f"forecast unknown: {exc.message}")
        else:
            if forecast.forecast is not None:
                spend.forecast = cents(forecast.forecast)
            else:
                problems.append(f"forecast unknown: {forecast.note or 'Cost Explorer gave none'}")
            spend.computed_at = spend.computed_at or forecast.as_of
        status.spend = spend
        if failed is not None:
            self._set(status, SPEND_READ, False, failed.reason, "; ".join(problems), now, ref)
            if cond.reason_changed(previous, SPEND_READ, failed.reason):
                result.outcome.warn(failed.reason, f"Cannot read SageMaker spend: {'; '.join(problems)}")
        else:
            message = (
                f"SageMaker spend {period.start} to {period.end} read from Cost Explorer at "
                f"{spend.computed_at:%Y-%m-%d %H:%M} UTC: {spend.total} USD"
            )
            if problems:
                message += f" ({'; '.join(problems)})"
            self._set(status, SPEND_READ, True, "Read", message, now, ref)
        self._untagged(ref, spec, result, previous, now)

    def _remember_spend(
        self, key: GroupedSpendKey, forecast_key: SpendKey, previous: SpendStatus | None, now: datetime
    ) -> None:
        at = previous.computed_at if previous else None
        if (
            previous is None
            or at is None
            or previous.total is None
            or previous.groups is None
            or previous.omitted_groups  # the status no longer holds every group
            or (previous.group_by, previous.period_start) != (key.tag_key, key.start)
            or at.date() + timedelta(days=1) != key.end
        ):
            return
        groups = tuple(SpendGroup(g.group, g.usage, g.amount) for g in previous.groups)
        grouped = GroupedSpend(key.start, key.end, key.tag_key, groups, previous.total, at)
        self._remember(key, at, grouped, now)
        if previous.forecast is not None:
            self.spend_cache.store(forecast_key, Spend(previous.total, previous.forecast, at))

    def _untagged(
        self,
        ref: ObjectRef,
        spec: MLCostReportSpec,
        result: ReportResult,
        previous: MLCostReportStatus,
        now: datetime,
    ) -> None:
        status = result.status
        spend = status.spend
        untagged = untagged_group(spec.showback.group_by_tag)
        limit = spec.showback.max_untagged_percent
        share = spend.untagged_percent if spend else None
        if share is None:
            why = (
                "there is no SageMaker spend in the period yet"
                if spend and spend.total is not None
                else "the spend is unknown (see SpendRead)"
            )
            self._set(
                status,
                UNTAGGED_SPEND_LOW,
                ConditionStatus.UNKNOWN,
                "SpendUnknown",
                f"Untagged share unknown: {why}",
                now,
                ref,
            )
        elif share > limit:
            message = (
                f'{share}% of SageMaker spend is "{untagged}", above the {limit}% the report allows: tag '
                f"the resources with {spec.showback.group_by_tag} (an MLCostPolicy's tagging rules can "
                "require it)"
            )
            self._set(status, UNTAGGED_SPEND_LOW, False, UNTAGGED_SPEND_HIGH, message, now, ref)
            if cond.reason_changed(previous, UNTAGGED_SPEND_LOW, UNTAGGED_SPEND_HIGH):
                result.outcome.warn(UNTAGGED_SPEND_HIGH, message)
        else:
            message = f'{share}% of SageMaker spend is "{untagged}", at most the {limit}% allowed'
            self._set(status, UNTAGGED_SPEND_LOW, True, "WithinLimit", message, now, ref)

    def _tags(
        self,
        ref: ObjectRef,
        spec: MLCostReportSpec,
        result: ReportResult,
        previous: MLCostReportStatus,
        target: AwsTarget,
        account: str,
        now: datetime,
    ) -> None:
        status = result.status
        tag = spec.showback.group_by_tag
        try:
            inactive = self.tag_status.inactive(self.sessions, target, account, [tag], now)
        except MlcostError as exc:
            message = f"Cannot tell whether {tag} is an active cost-allocation tag: {exc.message}"
            self._set(
                status, cond.COST_ALLOCATION_TAGS, ConditionStatus.UNKNOWN, exc.reason, message, now, ref
            )
            if cond.reason_changed(previous, cond.COST_ALLOCATION_TAGS, exc.reason):
                result.outcome.warn("CostAllocationTagsUnknown", message)
            return
        if inactive:
            message = (
                f"{tag} is not an active cost-allocation tag: Cost Explorer groups no cost by it, so "
                f'all spend shows as "{untagged_group(tag)}". Activate it in Billing > Cost allocation '
                "tags (AWS applies it to new costs within 24 hours)."
            )
            self._set(status, cond.COST_ALLOCATION_TAGS, False, "TagsInactive", message, now, ref)
            if cond.reason_changed(previous, cond.COST_ALLOCATION_TAGS, "TagsInactive"):
                result.outcome.warn("CostAllocationTagsInactive", message)
        else:
            message = f"{tag} is an active cost-allocation tag"
            self._set(status, cond.COST_ALLOCATION_TAGS, True, "Active", message, now, ref)

    def _savings_plans(
        self,
        ref: ObjectRef,
        spec: MLCostReportSpec,
        result: ReportResult,
        previous: MLCostReportStatus,
        target: AwsTarget,
        account: str,
        now: datetime,
    ) -> None:
        status = result.status
        settings = spec.savings_plans
        if not settings.enabled:
            status.savings_plans = None
            for type_ in (SAVINGS_PLANS_READ, SAVINGS_PLANS_HEALTHY):
                message = "spec.savingsPlans.enabled is false"
                self._set(status, type_, True, "Disabled", message, now, ref)
            return
        plans_status = SavingsPlansStatus()
        failures: list[MlcostError] = []
        notes: list[str] = []
        plans: list[SavingsPlan] | None = None
        try:
            plans = SavingsPlansClient(self.sessions.client("savingsplans", target)).active_sagemaker_plans()
        except MlcostError as exc:
            failures.append(exc)
        else:
            ordered = sorted(plans, key=lambda p: (p.end, p.plan_id))
            plans_status.plans = [_plan_status(p) for p in ordered[:MAX_PLANS]]
            plans_status.plans_read_at = now
            if not plans:
                notes.append("the account has no active SageMaker Savings Plan")
        today = now.date()
        window = usage_window(budget_period(spec.showback.time_unit.value, today), today)
        ce = CostExplorerClient(self.sessions.client("ce", target))
        before = previous.savings_plans
        self._usage(plans_status, before, plans, ce, account, window, now, failures, notes)
        self._recommendation(plans_status, before, settings, ce, account, now, failures, notes)
        status.savings_plans = plans_status
        result.failures.extend(failures)
        if failures:
            message = "; ".join(exc.message for exc in failures)
            if notes:
                message += f" ({'; '.join(notes)})"
            reason = failures[0].reason
            self._set(status, SAVINGS_PLANS_READ, False, reason, message, now, ref)
            if cond.reason_changed(previous, SAVINGS_PLANS_READ, reason):
                result.outcome.warn(reason, f"Cannot read Savings Plans: {message}")
        else:
            count = len(plans or [])
            message = f"{count} active SageMaker Savings Plan(s) read"
            if notes:
                message += f"; {'; '.join(notes)}"
            self._set(status, SAVINGS_PLANS_READ, True, "Read", message, now, ref)
        self._health(ref, settings, result, previous, plans is not None, now)

    def _usage(
        self,
        plans_status: SavingsPlansStatus,
        previous: SavingsPlansStatus | None,
        plans: list[SavingsPlan] | None,
        ce: CostExplorerClient,
        account: str,
        window: tuple[date, date],
        now: datetime,
        failures: list[MlcostError],
        notes: list[str],
    ) -> None:
        start, end = window
        today = now.date()
        arns = tuple(sorted(p.arn for p in plans or []))
        before = previous
        if before is not None and before.computed_at is not None and before.computed_at.date() == today:
            before_arns = tuple(sorted(p.savings_plan_arn for p in before.plans or []))
            if before_arns == arns and before.utilization_percent is not None:
                kept = SavingsPlansUsageKey(account, start, end, "utilization", arns)
                self._remember(kept, before.computed_at, before.utilization_percent, now)
            if before.coverage_percent is not None:
                kept = SavingsPlansUsageKey(account, start, end, "coverage")
                self._remember(kept, before.computed_at, before.coverage_percent, now)
        asks: list[tuple[SavingsPlansUsageKey, Callable[[], Decimal | None]]] = [
            (
                SavingsPlansUsageKey(account, start, end, "coverage"),
                lambda: ce.savings_plans_coverage(start, end, today=today),
            )
        ]
        if plans:
            # Of the SageMaker plans only: the account's Compute or EC2 plans are not this report's.
            asks.insert(
                0,
                (
                    SavingsPlansUsageKey(account, start, end, "utilization", arns),
                    lambda: ce.savings_plans_utilization(start, end, plan_arns=arns, today=today),
                ),
            )
        elif plans is None:
            notes.append("utilisation unknown: the active plans could not be read")
        # Without any plan AWS answers DataUnavailableException: no plan, nothing to utilise.
        for key, ask in asks:
            try:
                value, asked = self._ask(key, now, ask)
            except MlcostError as exc:
                failures.append(exc)
                continue
            plans_status.computed_at = asked
            if value is None:
                notes.append(f"no Savings Plans {key.figure} for {start} to {end}")
                continue
            rounded = value.quantize(TENTH, rounding=ROUND_HALF_UP)
            if key.figure == "utilization":
                plans_status.utilization_percent = rounded
            else:
                plans_status.coverage_percent = rounded

    def _recommendation(
        self,
        plans_status: SavingsPlansStatus,
        previous: SavingsPlansStatus | None,
        settings: SavingsPlansSpec,
        ce: CostExplorerClient,
        account: str,
        now: datetime,
        failures: list[MlcostError],
        notes: list[str],
    ) -> None:
        choice = settings.recommendation
        key = RecommendationKey(
            account, choice.term.value, choice.payment_option.value, choice.lookback.value
        )
        kept = previous.recommendation if previous else None
        if (
            previous
            and kept
            and (kept.term, kept.payment_option, kept.lookback)
            == (
                key.term,
                key.payment_option,
                key.lookback,
            )
        ):
            self._remember(key, previous.recommendation_read_at, _recommendation_of(kept), now)
        try:
            recommendation, asked = self._ask(
                key,
                now,
                lambda: ce.savings_plans_recommendation(key.term, key.payment_option, key.lookback),
            )
        except MlcostError as exc:
            failures.append(exc)
            return
        plans_status.recommendation_read_at = asked
        if recommendation is None:
            notes.append(
                "AWS has no SageMaker Savings Plan recommendation for "
                f"{key.term} {key.payment_option} {key.lookback} (too little usage history, or "
                "buying a plan would save nothing)"
            )
            return
        plans_status.recommendation = RecommendationStatus(
            term=recommendation.term,
            payment_option=recommendation.payment_option,
            lookback=recommendation.lookback,
            hourly_commitment=recommendation.hourly_commitment,
            estimated_monthly_savings=cents(recommendation.estimated_monthly_savings),
            estimated_savings_percent=recommendation.estimated_savings_percent,
            upfront_cost=cents(recommendation.upfront_cost),
            break_even_months=recommendation.breakeven_months,
            generated_at=recommendation.generated_at,
        )

    # ------------------------------------------------------------------------------ findings

    def _health(
        self,
        ref: ObjectRef,
        settings: SavingsPlansSpec,
        result: ReportResult,
        previous: MLCostReportStatus,
        plans_known: bool,
        now: datetime,
    ) -> None:
        status = result.status
        current = status.savings_plans
        if not plans_known or current is None or current.plans is None:
            self._set(
                status,
                SAVINGS_PLANS_HEALTHY,
                ConditionStatus.UNKNOWN,
                "PlansUnknown",
                "The active Savings Plans could not be read (see SavingsPlansRead)",
                now,
                ref,
            )
            return
        problems = savings_plans_problems(current, settings, now)
        # An Event when a problem starts: one the previous status (judged by the same spec at its
        # own sweep) did not have.
        before: dict[str, str] = {}
        if previous.savings_plans is not None and previous.last_sweep is not None:
            before = savings_plans_problems(previous.savings_plans, settings, previous.last_sweep)
        for reason, message in problems.items():
            if reason not in before:
                result.outcome.warn(reason, message)
        if problems:
            reason = next(iter(problems))
            self._set(status, SAVINGS_PLANS_HEALTHY, False, reason, "; ".join(problems.values()), now, ref)
        elif not current.plans:
            message = "No active SageMaker Savings Plan: nothing can expire or be underused"
            self._set(status, SAVINGS_PLANS_HEALTHY, True, "NoPlans", message, now, ref)
        else:
            utilization = (
                f"utilisation {current.utilization_percent}%"
                if current.utilization_percent is not None
                else "utilisation unknown"
            )
            message = (
                f"{len(current.plans)} plan(s), none ending within "
                f"{_days(settings.expiry_warning)}, {utilization} (at least "
                f"{settings.min_utilization_percent}% wanted)"
            )
            self._set(status, SAVINGS_PLANS_HEALTHY, True, "Healthy", message, now, ref)

    def _finish(
        self, result: ReportResult, previous: MLCostReportStatus, now: datetime, ref: ObjectRef
    ) -> None:
        status = result.status
        status.last_sweep = now
        failed = [
            c for c in status.conditions if c.type in READ_CONDITIONS and c.status != ConditionStatus.TRUE
        ]
        if failed:
            first = failed[0]
            self._set(status, cond.READY, False, first.reason, f"{first.type}: {first.message}", now, ref)
            log.warning("%s: report incomplete: %s: %s", ref.key, first.type, first.message)
            # The first failure decides whether kopf retries soon (throttling, AWS unreachable).
            result.outcome.error = result.failures[0] if result.failures else None
        else:
            message = "Spend and Savings Plans read"
            self._set(status, cond.READY, True, "Reconciled", message, now, ref)


def savings_plans_problems(
    plans_status: SavingsPlansStatus, settings: SavingsPlansSpec, at: datetime
) -> dict[str, str]:
    """Reason -> message of what is wrong with the plans as of `at`: ending soon, underused."""
    problems: dict[str, str] = {}
    plans = [_plan_of(p) for p in plans_status.plans or [] if p.end is not None]
    expiring = plans_expiring(plans, at, settings.expiry_warning)
    if expiring:
        names = ", ".join(
            f"{p.plan_id} ({p.commitment_per_hour} USD/h) on {p.end:%Y-%m-%d}" for p in expiring
        )
        problems[PLAN_EXPIRING] = (
            f"{len(expiring)} Savings Plan(s) end within {_days(settings.expiry_warning)}: {names}. Renew "
            "(queue a purchase) or plan for on-demand prices; the operator never buys one."
        )
    utilization = plans_status.utilization_percent
    if plans_status.plans and utilization is not None and utilization < settings.min_utilization_percent:
        problems[LOW_UTILIZATION] = (
            f"Savings Plans utilisation is {utilization}%, below the {settings.min_utilization_percent}% "
            "wanted: the unused commitment is paid anyway; move eligible usage onto it or buy less "
            "at renewal."
        )
    return problems


def _days(value: timedelta) -> str:
    return f"{value.days}d" if value.days and not value.seconds else str(value)


def _recommendation_of(status: RecommendationStatus) -> SavingsPlanRecommendation:
    return SavingsPlanRecommendation(
        term=status.term,
        payment_option=status.payment_option,
        lookback=status.lookback,
        hourly_commitment=status.hourly_commitment,
        estimated_monthly_savings=status.estimated_monthly_savings,
        estimated_savings_percent=status.estimated_savings_percent,
        upfront_cost=status.upfront_cost,
        generated_at=status.generated_at,
    )


def _plan_status(plan: SavingsPlan) -> SavingsPlanStatus:
    return SavingsPlanStatus(
        savings_plan_id=plan.plan_id,
        savings_plan_arn=plan.arn,
        commitment_per_hour=plan.commitment_per_hour,
        term=plan.term,
        payment_option=plan.payment_option,
        start=plan.start,
        end=plan.end,
        state=plan.state,
    )


def _plan_of(status: SavingsPlanStatus) -> SavingsPlan:
    assert status.end is not None
    return SavingsPlan(
        plan_id=status.savings_plan_id,
        arn=status.savings_plan_arn,
        commitment_per_hour=status.commitment_per_hour,
        term=status.term,
        payment_option=status.payment_option,
        start=status.start or status.end,
        end=status.end,
        state=status.state,
    )


def _fill_groups(spend: SpendStatus, grouped: GroupedSpend) -> list[SpendGroupStatus]:
    """Groups largest first, at most MAX_GROUPS listed; the rest summed so the money adds up.
    Returns every group, for the metrics (a Prometheus series each, the status keeps its bound)."""
    merged: dict[tuple[str, str], Decimal] = {}
    for group in grouped.groups:
        key = (group.group, group.usage.value)
        merged[key] = merged.get(key, Decimal(0)) + group.amount
    ordered = sorted(
        ((key, cents(amount)) for key, amount in merged.items() if cents(amount) != 0),
        key=lambda item: (-item[1], item[0]),
    )
    every = [
        SpendGroupStatus(group=name, usage=SageMakerUsage(usage), amount=amount)
        for (name, usage), amount in ordered
    ]
    spend.groups = every[:MAX_GROUPS]
    rest = ordered[MAX_GROUPS:]
    spend.omitted_groups = len(rest) or None
    spend.omitted_amount = sum((amount for _, amount in rest), Decimal(0)) if rest else None
    spend.total = cents(grouped.total)
    spend.untagged_percent = grouped.untagged_percent()
    return every
