"""Showback usage groups, the untagged group and share, break-even, and plans about to expire."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from mlcost.api.v1alpha1.mlcostreport import SageMakerUsage
from mlcost.domain.showback import (
    GroupedSpend,
    SavingsPlan,
    SavingsPlanRecommendation,
    SpendGroup,
    plans_expiring,
    untagged_group,
    usage_of,
)

U = SageMakerUsage


# USAGE_TYPE values of service "Amazon SageMaker" as Cost Explorer reports them; sources in
# docs/showback.md "Usage groups".
@pytest.mark.parametrize(
    ("usage_type", "usage"),
    [
        ("USE1-Host:ml.m5.xlarge", U.HOSTING),
        ("USE1-Host:VolumeUsage.gp2", U.HOSTING),
        ("EUW1-Host:ml.g5.2xlarge", U.HOSTING),
        ("USE2-ServerlessInf:Mem-4GB", U.HOSTING),
        ("USE1-AsyncInf:ml.c5.9xlarge", U.HOSTING),
        ("USE1-Train:ml.p3.2xlarge", U.TRAINING),
        ("USE1-Train:VolumeUsage.gp2", U.TRAINING),
        ("APN1-Train-Spot:ml.g5.xlarge", U.TRAINING),
        ("USE1-Notebk:ml.t3.medium", U.NOTEBOOK_INSTANCES),
        ("USE1-Notebk:VolumeUsage.gp2", U.NOTEBOOK_INSTANCES),
        ("USE1-Studio:KernelGateway-ml.m5.large", U.STUDIO),
        ("USE1-Studio_DW:ml.m5.4xlarge", U.STUDIO),
        ("USE1-Processing:ml.m5.xlarge", U.PROCESSING),
        ("USE1-Processing_DW:ml.m5.4xlarge", U.PROCESSING),
        ("USE1-Tsform:ml.c5.9xlarge", U.BATCH_TRANSFORM),
        ("Host:ml.m5.large", U.HOSTING),  # no region code (some us-east-1 usage types)
        ("USE1-Canvas:Session-Hrs", U.OTHER),
        ("USE1-DataTransfer-Out-Bytes", U.OTHER),
        ("", U.OTHER),
        ("NoUsageType", U.OTHER),
    ],
)
def test_usage_of(usage_type: str, usage: SageMakerUsage) -> None:
    assert usage_of(usage_type) is usage


def test_usage_names_are_stable_label_values() -> None:
    assert [u.value for u in SageMakerUsage] == [
        "Hosting",
        "Training",
        "NotebookInstances",
        "Studio",
        "Processing",
        "BatchTransform",
        "Other",
    ]


def test_untagged_group() -> None:
    assert untagged_group("team") == "no team"
    assert untagged_group("cost-center") == "no cost-center"


def _spend(*groups: tuple[str, SageMakerUsage, str]) -> GroupedSpend:
    items = tuple(SpendGroup(g, u, Decimal(a)) for g, u, a in groups)
    return GroupedSpend(
        start=date(2026, 12, 1),
        end=date(2027, 1, 1),
        tag_key="team",
        groups=items,
        total=sum((i.amount for i in items), Decimal(0)),
    )


def test_untagged_percent_counts_every_untagged_usage() -> None:
    spend = _spend(
        ("fraud", U.HOSTING, "600"),
        ("no team", U.HOSTING, "100"),
        ("no team", U.TRAINING, "25"),
        ("search", U.TRAINING, "275"),
    )
    assert spend.untagged_amount() == Decimal("125")
    assert spend.untagged_percent() == Decimal("12.5")
    assert spend.groups_sum() == Decimal("1000")


def test_untagged_percent_rounds_to_a_tenth() -> None:
    spend = _spend(("fraud", U.HOSTING, "2"), ("no team", U.HOSTING, "1"))
    assert spend.untagged_percent() == Decimal("33.3")


def test_untagged_percent_is_zero_when_all_tagged_and_unknown_without_spend() -> None:
    assert _spend(("fraud", U.HOSTING, "10")).untagged_percent() == Decimal("0.0")
    assert _spend().untagged_percent() is None


def _rec(upfront: str, monthly: str) -> SavingsPlanRecommendation:
    return SavingsPlanRecommendation(
        term="ONE_YEAR",
        payment_option="PARTIAL_UPFRONT",
        lookback="THIRTY_DAYS",
        hourly_commitment=Decimal("2.10"),
        estimated_monthly_savings=Decimal(monthly),
        estimated_savings_percent=Decimal("22.0"),
        upfront_cost=Decimal(upfront),
        generated_at=None,
    )


@pytest.mark.parametrize(
    ("upfront", "monthly", "months"),
    [
        ("0", "350", Decimal(0)),
        ("0", "0", Decimal(0)),
        ("1050", "350", Decimal("3.0")),
        ("1000", "300", Decimal("3.3")),
        ("1000", "0", None),
        ("1000", "-5", None),
    ],
)
def test_breakeven_months(upfront: str, monthly: str, months: Decimal | None) -> None:
    assert _rec(upfront, monthly).breakeven_months == months


NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)


def _plan(plan_id: str, end: datetime) -> SavingsPlan:
    return SavingsPlan(
        plan_id=plan_id,
        arn=f"arn:aws:savingsplans::123456789012:savingsplan/{plan_id}",
        commitment_per_hour=Decimal("1.50"),
        term="ONE_YEAR",
        payment_option="NO_UPFRONT",
        start=end - timedelta(days=365),
        end=end,
        state="active",
    )


def test_plans_expiring_within_the_horizon_soonest_first() -> None:
    later = _plan("later", NOW + timedelta(days=29))
    soon = _plan("soon", NOW + timedelta(days=3))
    edge = _plan("edge", NOW + timedelta(days=30))
    far = _plan("far", NOW + timedelta(days=31))
    ended = _plan("ended", NOW - timedelta(seconds=1))
    assert plans_expiring([later, far, soon, ended, edge], NOW, timedelta(days=30)) == [soon, later, edge]
    assert plans_expiring([], NOW, timedelta(days=30)) == []
    assert plans_expiring([far], NOW, timedelta(days=60)) == [far]
