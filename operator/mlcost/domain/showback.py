"""Showback (SageMaker spend grouped by a cost-allocation tag and by kind of usage) and Savings Plans.

Pure: the AWS clients (aws/costexplorer.py, aws/savingsplans.py) turn Cost Explorer and
savingsplans answers into these types; the reconcile layer turns them into status and metrics.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

# One enum for the API and the logic: the usage groups are part of the contract (status, metrics).
from mlcost.api.v1alpha1.mlcostreport import SageMakerUsage

TENTH = Decimal("0.1")


# Cost Explorer's USAGE_TYPE of "Amazon SageMaker" is "<region code>-<component>:<detail>", e.g.
# "USE1-Host:ml.m5.xlarge", "USE1-Train:VolumeUsage.gp2", "EUW1-Tsform:ml.c5.xlarge". The component
# (the part between the region code and the first ":") names the SageMaker feature; instance
# hours, attached storage (VolumeUsage) and data processed of one feature share its component,
# so they fall into that feature's group. Sources are listed in docs/showback.md "Usage groups".
# Matched by prefix of the component, longest first, so "Studio_DW" is Studio and
# "Processing_DW" (Data Wrangler jobs) is Processing.
_COMPONENTS: tuple[tuple[str, SageMakerUsage], ...] = (
    ("ServerlessInf", SageMakerUsage.HOSTING),
    ("AsyncInf", SageMakerUsage.HOSTING),
    ("Host", SageMakerUsage.HOSTING),
    ("Train", SageMakerUsage.TRAINING),
    ("Notebk", SageMakerUsage.NOTEBOOK_INSTANCES),
    ("Studio", SageMakerUsage.STUDIO),
    ("Processing", SageMakerUsage.PROCESSING),
    ("Tsform", SageMakerUsage.BATCH_TRANSFORM),
)


def _component(usage_type: str) -> str:
    head = usage_type.split(":", 1)[0].strip()
    region, dash, rest = head.partition("-")
    # A region code is upper-case letters and digits ("USE1", "EUC1", "APN1", "UGW1"); us-east-1
    # usage types of some services carry none, so a head without one is the component itself.
    if dash and region.isupper() and region.isalnum() and any(ch.isdigit() for ch in region):
        return rest
    return head


def usage_of(usage_type: str) -> SageMakerUsage:
    """The SageMaker usage group of one Cost Explorer USAGE_TYPE value; Other when unknown."""
    component = _component(usage_type).lower()
    for prefix, usage in _COMPONENTS:
        if component.startswith(prefix.lower()):
            return usage
    return SageMakerUsage.OTHER


def untagged_group(tag_key: str) -> str:
    """The group name of spend without the tag: it stays visible, never dropped."""
    return f"no {tag_key}"


@dataclass(frozen=True)
class SpendGroup:
    group: str  # the tag value, or untagged_group(tag_key)
    usage: SageMakerUsage
    amount: Decimal


@dataclass(frozen=True)
class GroupedSpend:
    """SageMaker spend of one period by tag value and usage group.

    `total` is what Cost Explorer reports for the same filter without GroupBy (a separate request),
    so a reader can check that the groups add up to it rather than trusting our sum.
    `computed_at` is when the operator read Cost Explorer.
    """

    start: date
    end: date  # exclusive
    tag_key: str
    groups: tuple[SpendGroup, ...]
    total: Decimal
    computed_at: datetime | None = None

    def groups_sum(self) -> Decimal:
        return sum((group.amount for group in self.groups), Decimal(0))

    def untagged_amount(self) -> Decimal:
        name = untagged_group(self.tag_key)
        return sum((g.amount for g in self.groups if g.group == name), Decimal(0))

    def untagged_percent(self) -> Decimal | None:
        """The share of untagged spend in percent (one decimal); None when there is no spend at all."""
        total = self.groups_sum()
        if total <= 0:
            return None
        return (self.untagged_amount() * 100 / total).quantize(TENTH, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class SavingsPlan:
    """One SageMaker Savings Plan as DescribeSavingsPlans reports it."""

    plan_id: str
    arn: str
    commitment_per_hour: Decimal
    term: str  # ONE_YEAR | THREE_YEARS (from termDurationInSeconds)
    # NO_UPFRONT | PARTIAL_UPFRONT | ALL_UPFRONT: Cost Explorer's spelling, so that a plan and a
    # recommendation compare; savingsplans says "No Upfront" (the client converts).
    payment_option: str
    start: datetime
    end: datetime
    state: str  # savingsplans SavingsPlanState, e.g. "active"


@dataclass(frozen=True)
class SavingsPlansUsage:
    """Utilisation of the plans and coverage of SageMaker usage; None = unknown (no plans / no data)."""

    utilization_percent: Decimal | None
    coverage_percent: Decimal | None


@dataclass(frozen=True)
class SavingsPlanRecommendation:
    """AWS's SAGEMAKER_SP purchase recommendation, echoing the term/payment/lookback asked for."""

    term: str  # ONE_YEAR | THREE_YEARS
    payment_option: str  # NO_UPFRONT | PARTIAL_UPFRONT | ALL_UPFRONT
    lookback: str  # SEVEN_DAYS | THIRTY_DAYS | SIXTY_DAYS
    hourly_commitment: Decimal
    estimated_monthly_savings: Decimal
    estimated_savings_percent: Decimal | None
    upfront_cost: Decimal
    generated_at: datetime | None

    @property
    def breakeven_months(self) -> Decimal | None:
        """Months of estimated savings that pay back the upfront cost: 0 without upfront cost.

        None when there is an upfront cost but no positive saving (it never pays back).
        """
        if self.upfront_cost <= 0:
            return Decimal(0)
        if self.estimated_monthly_savings <= 0:
            return None
        return (self.upfront_cost / self.estimated_monthly_savings).quantize(TENTH, rounding=ROUND_HALF_UP)


def plans_expiring(plans: Iterable[SavingsPlan], now: datetime, horizon: timedelta) -> list[SavingsPlan]:
    """The plans that end within `horizon` from `now` (not those already ended), soonest first."""
    return sorted((p for p in plans if now <= p.end <= now + horizon), key=lambda p: p.end)
