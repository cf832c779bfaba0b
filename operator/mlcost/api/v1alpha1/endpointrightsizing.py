"""EndpointRightsizing: recommend, and optionally apply, the cheapest endpoint configuration."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from mlcost.api.common import CONDITIONS_LIST_MAP, AwsTarget, Condition, ObjectMeta
from mlcost.api.types import PERCENT_PATTERN, ApiModel, Duration, Money, Percent

ENDPOINT_NAME_PATTERN = r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$"
INSTANCE_TYPE_PATTERN = r"^ml\.[a-z0-9-]+\.[a-z0-9-]+$"
# lookback in hours or days, from 1d (a shorter window never holds the day of data a
# recommendation needs) to 455d (CloudWatch keeps hourly data 455 days, 5-minute data 63 days and
# 1-minute data 15 days: CloudWatch API reference, GetMetricData). A pattern rather than
# CEL, because CEL's duration() cannot read "14d".
LOOKBACK_PATTERN = (
    r"^0*(([1-9]|[1-9][0-9]|[1-3][0-9]{2}|4[0-4][0-9]|45[0-5])d"
    r"|(2[4-9]|[3-9][0-9]|[1-9][0-9]{2,3}|10[0-8][0-9]{2}|109[01][0-9]|10920)h)$"
)
MAINTENANCE_WINDOW_PATTERN = (
    r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun)(-(Mon|Tue|Wed|Thu|Fri|Sat|Sun))? "
    r"([01][0-9]|2[0-3]):[0-5][0-9]-([01][0-9]|2[0-4]):[0-5][0-9]$"
)


class RightsizingMode(StrEnum):
    RECOMMEND = "Recommend"
    APPLY = "Apply"


class UtilizationTargets(ApiModel):
    """Utilisation ceilings the recommended configuration must keep at the window's peak."""

    cpu_utilization: Percent = Field(
        default=Decimal("60"),
        description="Percent of all vCPUs (default 60), above 0 and at most 100.",
        json_schema_extra={"pattern": PERCENT_PATTERN},
    )
    memory_utilization: Percent = Field(
        default=Decimal("75"),
        description="Percent of memory (default 75), above 0 and at most 100.",
        json_schema_extra={"pattern": PERCENT_PATTERN},
    )
    gpu_utilization: Percent = Field(
        default=Decimal("70"),
        description="Percent of all GPUs (default 70), above 0 and at most 100.",
        json_schema_extra={"pattern": PERCENT_PATTERN},
    )
    max_model_latency: Duration | None = Field(
        default=None, description='Model latency ceiling, e.g. "250ms" (default: none).'
    )

    @field_validator("cpu_utilization", "memory_utilization", "gpu_utilization")
    @classmethod
    def _within_percent(cls, value: Decimal) -> Decimal:
        if not Decimal(0) < value <= Decimal(100):
            raise ValueError("must be above 0 and at most 100")
        return value


class Candidates(ApiModel):
    """The configurations the recommendation may choose from."""

    # Spans two fields, so the CRD needs CEL for it (see _max_not_below_min). has() guards keep
    # the rule safe should a default ever be removed.
    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": (
                        "!has(self.minInstances) || !has(self.maxInstances) "
                        "|| self.maxInstances >= self.minInstances"
                    ),
                    "message": "maxInstances must be at least minInstances",
                    "fieldPath": ".maxInstances",
                }
            ]
        }
    )

    instance_types: list[str] = Field(
        default_factory=list,
        description="Instance types to consider; default: the current type's family.",
        json_schema_extra={"items": {"type": "string", "pattern": INSTANCE_TYPE_PATTERN}},
    )
    min_instances: int = Field(default=1, ge=1, description="Fewest instances (default 1).")
    max_instances: int = Field(default=8, ge=1, description="Most instances (default 8).")

    @field_validator("instance_types")
    @classmethod
    def _instance_types_look_right(cls, types: list[str]) -> list[str]:
        for name in types:
            if not re.fullmatch(INSTANCE_TYPE_PATTERN, name):
                raise ValueError(f'"{name}" is not a SageMaker instance type such as ml.c5.xlarge')
        return types

    @model_validator(mode="after")
    def _max_not_below_min(self) -> Candidates:
        if self.max_instances < self.min_instances:
            raise ValueError("maxInstances must be at least minInstances")
        return self


class InferenceRecommenderRef(ApiModel):
    """An Inference Recommender job whose results to use."""

    job_name: str = Field(min_length=1, description="Job name; used once it has completed.")


class ApplySettings(ApiModel):
    """How Apply mode rolls out a recommendation."""

    maintenance_window: str | None = Field(
        default=None,
        pattern=MAINTENANCE_WINDOW_PATTERN,
        description='When changes may be made, e.g. "Sat 02:00-04:00". Default: any time.',
    )
    timezone: str = Field(default="UTC", description="IANA time zone of the window.")
    cooldown: Duration = Field(
        default=timedelta(hours=24), description="No second change within this time (default 24h)."
    )
    min_monthly_savings: Money = Field(
        default=Decimal("0"), description="Do not change for a smaller monthly saving (default 0)."
    )
    rollback_alarms: list[str] = Field(
        default_factory=list, description="CloudWatch alarms for SageMaker's auto-rollback."
    )


class AutoscalingSpec(ApiModel):
    """The variant's target-tracking autoscaling, managed by the operator."""

    # Same rule as on Candidates.
    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": (
                        "!has(self.minInstances) || !has(self.maxInstances) "
                        "|| self.maxInstances >= self.minInstances"
                    ),
                    "message": "maxInstances must be at least minInstances",
                    "fieldPath": ".maxInstances",
                }
            ]
        }
    )

    target_invocations_per_instance: int = Field(
        gt=0, description="Target of SageMakerVariantInvocationsPerInstance."
    )
    min_instances: int = Field(default=1, ge=1, description="Fewest instances (default 1).")
    max_instances: int = Field(ge=1, description="Most instances.")

    @model_validator(mode="after")
    def _max_not_below_min(self) -> AutoscalingSpec:
        if self.max_instances < self.min_instances:
            raise ValueError("maxInstances must be at least minInstances")
        return self


class EndpointRightsizingSpec(ApiModel):
    """Desired rightsizing of one endpoint."""

    endpoint_name: str = Field(pattern=ENDPOINT_NAME_PATTERN, description="SageMaker endpoint.")
    variant_name: str | None = Field(default=None, description="Production variant; default: every variant.")
    mode: RightsizingMode = Field(
        default=RightsizingMode.RECOMMEND,
        description="Recommend (default): report only. Apply: roll the recommendation out.",
    )
    aws: AwsTarget | None = Field(default=None, description="AWS region and role to use.")
    lookback: Duration = Field(
        default=timedelta(days=14),
        description=(
            "Utilisation window (default 14d), in hours or days from 1d to 455d (CloudWatch's "
            "retention). Up to 15d invocations are read per minute; longer windows read 5-minute "
            "(up to 63d) or hourly data, see status.utilization.periodSeconds."
        ),
        json_schema_extra={"pattern": LOOKBACK_PATTERN},
    )
    targets: UtilizationTargets = Field(
        default_factory=UtilizationTargets, description="Utilisation and latency targets."
    )
    candidates: Candidates = Field(
        default_factory=Candidates, description="Instance types and counts to choose from."
    )
    inference_recommender: InferenceRecommenderRef | None = Field(
        default=None, description="Use this Inference Recommender job's results."
    )
    apply: ApplySettings | None = Field(default=None, description="Apply mode settings.")
    autoscaling: AutoscalingSpec | None = Field(
        default=None, description="Manage the variant's target-tracking autoscaling."
    )

    @field_validator("lookback", mode="before")
    @classmethod
    def _lookback_within_retention(cls, value: object) -> object:
        # The CRD checks LOOKBACK_PATTERN; this says the same to `mlcost validate` and in code.
        if isinstance(value, str) and not re.fullmatch(LOOKBACK_PATTERN, value):
            raise ValueError(
                f'"{value}" is not a look-back in hours or days from 1d to 455d (CloudWatch keeps '
                'hourly data 455 days), e.g. "14d" or "720h"'
            )
        if isinstance(value, timedelta) and not timedelta(days=1) <= value <= timedelta(days=455):
            raise ValueError("must be from 1d to 455d (CloudWatch keeps hourly data 455 days)")
        return value


class EndpointCost(ApiModel):
    """An instance type and count with what it costs."""

    instance_type: str | None = Field(default=None, description="Instance type.")
    instance_count: int | None = Field(default=None, description="Instance count.")
    hourly_cost: Money | None = Field(default=None, description="USD per hour.")
    monthly_cost: Money | None = Field(default=None, description="USD per month (730 h).")


class Utilization(ApiModel):
    """Peak utilisation over the look-back window."""

    cpu: Percent | None = Field(default=None, description="CPU, percent of all vCPUs.")
    memory: Percent | None = Field(default=None, description="Memory, percent.")
    gpu: Percent | None = Field(default=None, description="GPU, percent of all GPUs.")
    invocations_per_instance: Money | None = Field(
        default=None, description="Invocations per instance per minute."
    )
    samples: int = Field(default=0, description="Data points read.")
    instances_at_peak: Money | None = Field(
        default=None,
        description=(
            "Instances that served the peak (CPUUtilization's SampleCount per minute of its period), "
            "which may differ from the count now: the peak load is sized with this count."
        ),
    )
    period_seconds: int | None = Field(
        default=None,
        description=(
            "CloudWatch period of the utilisation data read, in seconds: 300 for a look-back up to "
            "63 days, 3600 beyond (CloudWatch keeps 5-minute data 63 days, hourly data 455 days)."
        ),
    )
    invocations_period_seconds: int | None = Field(
        default=None,
        description=(
            "CloudWatch period of the invocation data read, in seconds: 60 for a look-back up to 15 "
            "days, 300 up to 63 days, 3600 beyond; per-minute figures are each period's Sum divided "
            "by its minutes, so a longer period averages the busiest minute into its period."
        ),
    )


class RecommendationSource(StrEnum):
    CLOUDWATCH = "CloudWatch"
    INFERENCE_RECOMMENDER = "InferenceRecommender"


class Recommendation(EndpointCost):
    """The cheapest configuration that keeps every target."""

    monthly_savings: Money | None = Field(default=None, description="USD per month saved.")
    source: RecommendationSource | None = Field(
        default=None, description="CloudWatch or InferenceRecommender."
    )
    reason: str = Field(default="", description="Why this configuration, in words.")


class LastApplied(ApiModel):
    """The last change rolled out."""

    time: datetime | None = Field(default=None, description="When it was applied.")
    from_endpoint_config: str | None = Field(default=None, description="Previous EndpointConfig.")
    to_endpoint_config: str | None = Field(default=None, description="New EndpointConfig.")


class VariantStatus(ApiModel):
    """One production variant's figures; `current`/`recommendation` above repeat the first one."""

    name: str = Field(description="Production variant name.")
    outcome: str = Field(description="Recommended, KeepCurrent, InsufficientData or Skipped.")
    current: EndpointCost | None = Field(default=None, description="Current configuration.")
    utilization: Utilization | None = Field(default=None, description="Observed peak utilisation.")
    recommendation: Recommendation | None = Field(default=None, description="Recommendation.")
    reason: str = Field(default="", description="Why, in words.")


class RolloutPhase(StrEnum):
    UPDATING = "Updating"
    SUCCEEDED = "Succeeded"
    ROLLED_BACK = "RolledBack"
    FAILED = "Failed"


class Rollout(ApiModel):
    """The last change Apply mode started, and how it went."""

    phase: RolloutPhase = Field(description="Updating, Succeeded, RolledBack or Failed.")
    endpoint_config: str = Field(description="The EndpointConfig being rolled out.")
    previous_endpoint_config: str | None = Field(default=None, description="The config it replaces.")
    started: datetime | None = Field(default=None, description="When UpdateEndpoint was called.")
    message: str = Field(default="", description="What happened.")


class EndpointRightsizingStatus(ApiModel):
    """Observed state of the rightsizing."""

    observed_generation: int | None = Field(default=None, description="Generation reconciled.")
    conditions: list[Condition] = Field(
        default_factory=list,
        description=(
            "Ready, Synced; InferenceRecommender, CandidatesPriced, and Autoscaling (False with reason "
            "AutoscalingUnsupported for a serverless, asynchronous or inference-component variant)."
        ),
        json_schema_extra=CONDITIONS_LIST_MAP,
    )
    current: EndpointCost | None = Field(default=None, description="Current configuration.")
    utilization: Utilization | None = Field(default=None, description="Observed utilisation.")
    recommendation: Recommendation | None = Field(default=None, description="Recommendation.")
    last_applied: LastApplied | None = Field(default=None, description="Last applied change.")
    variants: list[VariantStatus] | None = Field(default=None, description="Every variant's figures.")
    rollout: Rollout | None = Field(default=None, description="The change in progress or last made.")
    failed_endpoint_configs: list[str] | None = Field(
        default=None, description="Configs whose rollout failed: never tried again for this endpoint."
    )
    managed_autoscaling: list[str] | None = Field(
        default=None,
        description="Variants whose autoscaling the operator registered (removed with the spec).",
    )
    last_sweep: datetime | None = Field(default=None, description="When AWS was last read.")


class EndpointRightsizing(ApiModel):
    """A whole EndpointRightsizing object as written in a manifest."""

    model_config = {"extra": "ignore"}

    api_version: Literal["mlcost.io/v1alpha1"] = Field(
        default="mlcost.io/v1alpha1", description="mlcost.io/v1alpha1."
    )
    kind: Literal["EndpointRightsizing"] = Field(
        default="EndpointRightsizing", description="EndpointRightsizing."
    )
    metadata: ObjectMeta = Field(description="Standard Kubernetes object metadata.")
    spec: EndpointRightsizingSpec = Field(description="Desired rightsizing of one endpoint.")
    status: EndpointRightsizingStatus | None = Field(
        default=None, description="Observed state, written by the operator."
    )
