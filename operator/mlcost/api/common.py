"""API pieces shared by every kind: AWS target, conditions, object metadata."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field, JsonValue

from mlcost.api.types import ApiModel

REGION_PATTERN = r"^[a-z]{2}(-[a-z]+)+-[0-9]$"
ROLE_ARN_PATTERN = r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]{1,512}$"

# Schema of every status.conditions list: keyed by `type` (the Kubernetes convention), so that
# server-side apply merges conditions one by one instead of replacing the whole list.
CONDITIONS_LIST_MAP: dict[str, JsonValue] = {
    "x-kubernetes-list-type": "map",
    "x-kubernetes-list-map-keys": ["type"],
}


class AwsTarget(ApiModel):
    """Where and as whom the operator talks to AWS for this object."""

    region: str | None = Field(
        default=None,
        pattern=REGION_PATTERN,
        description="AWS region, e.g. us-east-1. Default: the operator's own region.",
    )
    role_arn: str | None = Field(
        default=None,
        pattern=ROLE_ARN_PATTERN,
        description=(
            "IAM role assumed (STS AssumeRole) for this object only. Default: the operator's own credentials."
        ),
    )


class ConditionStatus(StrEnum):
    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


class Condition(ApiModel):
    """A Kubernetes-style status condition, as Argo CD, Flux and `kubectl wait` read them."""

    type: str = Field(description="Condition type, e.g. Ready, BudgetSynced.")
    status: ConditionStatus = Field(description="True, False or Unknown.")
    reason: str = Field(description="One CamelCase word a program can match on.")
    message: str = Field(default="", description="What happened and what to do about it.")
    last_transition_time: datetime = Field(description="When status last changed (RFC 3339, UTC).")
    observed_generation: int | None = Field(
        default=None, description="The metadata.generation this condition was computed for."
    )


class ObjectMeta(ApiModel):
    """The part of Kubernetes metadata the operator and the CLI read."""

    model_config = {"extra": "ignore"}

    name: str = Field(description="Object name.")
    namespace: str = Field(default="default", description="Object namespace.")
    generation: int | None = Field(
        default=None, description="Set by the API server; bumped on every spec change."
    )
    labels: dict[str, str] = Field(default_factory=dict, description="Object labels.")
    annotations: dict[str, str] = Field(default_factory=dict, description="Object annotations.")
