"""MLCostReport: showback of SageMaker spend by team and usage, and SageMaker Savings Plans."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Literal

from pydantic import Field, field_validator

from mlcost.api.common import CONDITIONS_LIST_MAP, AwsTarget, Condition, ObjectMeta
from mlcost.api.types import ApiModel, Duration, Money, Percent

# A resync of at least 10 minutes: >= 10 m, >= 1 h/d, >= 600 s or >= 600000 ms. Cost Explorer data
# changes a few times a day and every request costs $0.01, so a shorter interval buys nothing.
MIN_10M_DURATION_PATTERN = (
    r"^0*([1-9][0-9]*(h|d)|[1-9][0-9]+m|([6-9][0-9]{2}|[1-9][0-9]{3,})s|([6-9][0-9]{5}|[1-9][0-9]{6,})ms)$"
)
"""A duration of at least ten minutes."""
# 0 to 100 inclusive: a threshold of 0 ("warn on any untagged cent") is meaningful here.
PERCENT_0_100_PATTERN = r"^(0*100(\.0+)?|0*[0-9]?[0-9](\.[0-9]+)?)$"
"""A decimal string from 0 to 100."""
# Cost-allocation tag keys: AWS allows 1-128 characters (Billing user guide, "User-defined tags").
TAG_KEY_MAX = 128

MAX_GROUPS = 100
MAX_PLANS = 50


class ShowbackTimeUnit(StrEnum):
    """Which period the showback covers; AWS Budgets' spelling, as in MLCostPolicy.budget."""

    MONTHLY = "MONTHLY"
    QUARTERLY = "QUARTERLY"
    ANNUALLY = "ANNUALLY"


class SageMakerUsage(StrEnum):
    """The kind of SageMaker usage a cost is for, from Cost Explorer's USAGE_TYPE (docs/showback.md)."""

    HOSTING = "Hosting"
    TRAINING = "Training"
    NOTEBOOK_INSTANCES = "NotebookInstances"
    STUDIO = "Studio"
    PROCESSING = "Processing"
    BATCH_TRANSFORM = "BatchTransform"
    OTHER = "Other"


class SavingsPlanTerm(StrEnum):
    """AWS's TermInYears of GetSavingsPlansPurchaseRecommendation."""

    ONE_YEAR = "ONE_YEAR"
    THREE_YEARS = "THREE_YEARS"


class SavingsPlanPaymentOption(StrEnum):
    """AWS's PaymentOption of GetSavingsPlansPurchaseRecommendation."""

    NO_UPFRONT = "NO_UPFRONT"
    PARTIAL_UPFRONT = "PARTIAL_UPFRONT"
    ALL_UPFRONT = "ALL_UPFRONT"


class SavingsPlanLookback(StrEnum):
    """AWS's LookbackPeriodInDays of GetSavingsPlansPurchaseRecommendation."""

    SEVEN_DAYS = "SEVEN_DAYS"
    THIRTY_DAYS = "THIRTY_DAYS"
    SIXTY_DAYS = "SIXTY_DAYS"


def _percent_at_most_100(value: Decimal) -> Decimal:
    if value > 100:
        raise ValueError("must be at most 100")
    return value


class ShowbackSpec(ApiModel):
    """Which spend to show and how to group it."""

    group_by_tag: str = Field(
        min_length=1,
        max_length=TAG_KEY_MAX,
        description=(
            "Cost-allocation tag key to group SageMaker spend by, e.g. team or cost-center. It must be "
            'an active cost-allocation tag in Billing. Spend without the tag is the group "no <tag>".'
        ),
    )
    time_unit: ShowbackTimeUnit = Field(
        default=ShowbackTimeUnit.MONTHLY,
        description="The calendar period shown: MONTHLY (default), QUARTERLY or ANNUALLY.",
    )
    max_untagged_percent: Percent = Field(
        default=Decimal("20"),
        description=(
            "UntaggedSpendLow turns False (reason UntaggedSpendHigh) when the untagged share of the "
            'period\'s spend is above this percentage (default "20", from 0 to 100).'
        ),
        json_schema_extra={"pattern": PERCENT_0_100_PATTERN},
    )

    @field_validator("max_untagged_percent")
    @classmethod
    def _at_most_100(cls, value: Decimal) -> Decimal:
        return _percent_at_most_100(value)


class RecommendationSpec(ApiModel):
    """The purchase recommendation asked of AWS (GetSavingsPlansPurchaseRecommendation, SAGEMAKER_SP)."""

    term: SavingsPlanTerm = Field(
        default=SavingsPlanTerm.ONE_YEAR, description="ONE_YEAR (default) or THREE_YEARS."
    )
    payment_option: SavingsPlanPaymentOption = Field(
        default=SavingsPlanPaymentOption.NO_UPFRONT,
        description="NO_UPFRONT (default), PARTIAL_UPFRONT or ALL_UPFRONT.",
    )
    lookback: SavingsPlanLookback = Field(
        default=SavingsPlanLookback.THIRTY_DAYS,
        description="Usage history AWS bases it on: SEVEN_DAYS, THIRTY_DAYS (default) or SIXTY_DAYS.",
    )


class SavingsPlansSpec(ApiModel):
    """SageMaker Savings Plans: the active plans, their use, and what buying one would save."""

    enabled: bool = Field(default=True, description="Read Savings Plans at all (default true).")
    expiry_warning: Duration = Field(
        default=timedelta(days=30),
        description=(
            "SavingsPlansHealthy turns False (reason PlanExpiring) when an active plan ends within "
            "this time (default 30d)."
        ),
    )
    min_utilization_percent: Percent = Field(
        default=Decimal("90"),
        description=(
            "SavingsPlansHealthy turns False (reason LowUtilization) when the plans' utilisation this "
            'period is below this percentage (default "90", from 0 to 100).'
        ),
        json_schema_extra={"pattern": PERCENT_0_100_PATTERN},
    )
    recommendation: RecommendationSpec = Field(
        default_factory=RecommendationSpec,
        description="Term, payment option and lookback of the purchase recommendation.",
    )

    @field_validator("min_utilization_percent")
    @classmethod
    def _at_most_100(cls, value: Decimal) -> Decimal:
        return _percent_at_most_100(value)


class MLCostReportSpec(ApiModel):
    """What to report about the account's SageMaker spend. The operator only reads; it buys nothing."""

    aws: AwsTarget | None = Field(default=None, description="AWS region and role to use.")
    resync_interval: Duration = Field(
        default=timedelta(hours=1),
        description=(
            "How often Cost Explorer and Savings Plans are re-read (default 1h, at least 10m). "
            "Each Cost Explorer question is still asked at most once per "
            "MLCOST_COST_EXPLORER_MIN_INTERVAL."
        ),
        json_schema_extra={"pattern": MIN_10M_DURATION_PATTERN},
    )
    showback: ShowbackSpec = Field(description="Spend of the period, grouped by a tag and by usage.")
    savings_plans: SavingsPlansSpec = Field(
        default_factory=SavingsPlansSpec,
        description="SageMaker Savings Plans (default: enabled, with the defaults below).",
    )

    @field_validator("resync_interval")
    @classmethod
    def _at_least_ten_minutes(cls, value: timedelta) -> timedelta:
        if value < timedelta(minutes=10):
            raise ValueError("must be at least 10m: Cost Explorer data changes only a few times a day")
        return value


class SpendGroupStatus(ApiModel):
    """The spend of one tag value on one kind of usage."""

    group: str = Field(description='The tag value; "no <tag>" for spend without the tag.')
    usage: SageMakerUsage = Field(
        description="Hosting, Training, NotebookInstances, Studio, Processing, BatchTransform or Other."
    )
    amount: Money = Field(description="USD in the period so far (UnblendedCost).")


class SpendStatus(ApiModel):
    """SageMaker spend of the period as Cost Explorer reports it."""

    period_start: date | None = Field(default=None, description="First day of the period.")
    period_end: date | None = Field(default=None, description="Day after the period (exclusive).")
    group_by: str | None = Field(default=None, description="The tag key the groups are of.")
    total: Money | None = Field(
        default=None,
        description=(
            "SageMaker spend of the period so far, USD, as Cost Explorer reports it ungrouped. "
            "Absent when unknown (SpendRead says why), never 0 for unknown."
        ),
    )
    forecast: Money | None = Field(
        default=None,
        description=(
            "Actual spend before today plus Cost Explorer's forecast to the period's end, USD. "
            "Absent when unknown."
        ),
    )
    groups: list[SpendGroupStatus] | None = Field(
        default=None,
        max_length=MAX_GROUPS,
        description=(
            f"Spend by tag value and usage, largest first, at most {MAX_GROUPS}. Absent when unknown."
        ),
    )
    omitted_groups: int | None = Field(
        default=None,
        description=f"Groups beyond the {MAX_GROUPS} listed; their spend is omittedAmount.",
    )
    omitted_amount: Money | None = Field(
        default=None, description="USD of the groups not listed; groups plus this add up to total."
    )
    untagged_percent: Percent | None = Field(
        default=None, description="Share of total without the tag, in percent. Absent when unknown."
    )
    computed_at: datetime | None = Field(
        default=None, description="When the operator read these figures from Cost Explorer."
    )


class SavingsPlanStatus(ApiModel):
    """One active SageMaker Savings Plan (savingsplans DescribeSavingsPlans)."""

    savings_plan_id: str = Field(description="The plan's ID.")
    savings_plan_arn: str = Field(description="The plan's ARN.")
    commitment_per_hour: Money = Field(description="Hourly commitment, USD.")
    term: str = Field(description="ONE_YEAR or THREE_YEARS.")
    payment_option: str = Field(description="NO_UPFRONT, PARTIAL_UPFRONT or ALL_UPFRONT.")
    start: datetime | None = Field(default=None, description="When the plan started.")
    end: datetime | None = Field(default=None, description="When the plan ends.")
    state: str = Field(description="The plan's state, e.g. active.")


class RecommendationStatus(ApiModel):
    """AWS's SageMaker Savings Plan purchase recommendation. The operator never buys one."""

    term: str = Field(description="ONE_YEAR or THREE_YEARS.")
    payment_option: str = Field(description="NO_UPFRONT, PARTIAL_UPFRONT or ALL_UPFRONT.")
    lookback: str = Field(description="SEVEN_DAYS, THIRTY_DAYS or SIXTY_DAYS.")
    hourly_commitment: Money = Field(description="Hourly commitment to buy, USD.")
    estimated_monthly_savings: Money = Field(description="Estimated saving per month, USD.")
    estimated_savings_percent: Percent | None = Field(
        default=None, description="Estimated saving as a share of the on-demand cost, in percent."
    )
    upfront_cost: Money = Field(description="What the plan costs upfront, USD.")
    break_even_months: Money | None = Field(
        default=None,
        description="Months of savings that repay the upfront cost (0 without upfront cost).",
    )
    generated_at: datetime | None = Field(default=None, description="When AWS computed the recommendation.")


class SavingsPlansStatus(ApiModel):
    """SageMaker Savings Plans as AWS reports them."""

    plans: list[SavingsPlanStatus] | None = Field(
        default=None,
        max_length=MAX_PLANS,
        description=(
            f"Active SageMaker Savings Plans, at most {MAX_PLANS}, soonest ending first; empty when "
            "the account has none, absent when unknown (SavingsPlansRead says why)."
        ),
    )
    plans_read_at: datetime | None = Field(default=None, description="When the plans were read.")
    utilization_percent: Percent | None = Field(
        default=None, description="Used share of the plans' commitment this period. Absent when unknown."
    )
    coverage_percent: Percent | None = Field(
        default=None,
        description="Share of SageMaker's eligible spend this period that plans cover. Absent when unknown.",
    )
    computed_at: datetime | None = Field(
        default=None, description="When utilisation and coverage were read from Cost Explorer."
    )
    recommendation: RecommendationStatus | None = Field(
        default=None, description="AWS's purchase recommendation; absent when there is none or it is unknown."
    )
    recommendation_read_at: datetime | None = Field(
        default=None, description="When the recommendation was read from Cost Explorer."
    )


class MLCostReportStatus(ApiModel):
    """Observed state of the report."""

    observed_generation: int | None = Field(
        default=None, description="The metadata.generation last reconciled."
    )
    conditions: list[Condition] = Field(
        default_factory=list,
        description=(
            "Ready, SpendRead, CostAllocationTagsActive, SavingsPlansRead, SavingsPlansHealthy, "
            "UntaggedSpendLow."
        ),
        json_schema_extra=CONDITIONS_LIST_MAP,
    )
    spend: SpendStatus | None = Field(default=None, description="Spend of the period, grouped.")
    savings_plans: SavingsPlansStatus | None = Field(default=None, description="SageMaker Savings Plans.")
    last_sweep: datetime | None = Field(default=None, description="When AWS was last read.")


class MLCostReport(ApiModel):
    """A whole MLCostReport object as written in a manifest."""

    model_config = {"extra": "ignore"}

    api_version: Literal["mlcost.io/v1alpha1"] = Field(
        default="mlcost.io/v1alpha1", description="mlcost.io/v1alpha1."
    )
    kind: Literal["MLCostReport"] = Field(default="MLCostReport", description="MLCostReport.")
    metadata: ObjectMeta = Field(description="Standard Kubernetes object metadata.")
    spec: MLCostReportSpec = Field(description="What to report about the account's SageMaker spend.")
    status: MLCostReportStatus | None = Field(
        default=None, description="Observed state, written by the operator."
    )
