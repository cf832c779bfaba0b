"""The SageMaker resources of one account and region, as governance rules read them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from mlcost.api.v1alpha1.mlcostpolicy import ResourceType

# Statuses in which SageMaker is still moving a resource: never act on these.
TRANSITIONAL_STATUSES = frozenset(
    {
        "Pending",
        "Stopping",
        "Updating",
        "Creating",
        "Deleting",
        "RollingBack",
        "SystemUpdating",
        "Starting",
    }
)


@dataclass(frozen=True)
class Variant:
    """One production variant of an endpoint."""

    name: str
    instance_type: str | None  # None for serverless variants
    instance_count: int
    serverless: bool = False


@dataclass(frozen=True)
class SageMakerResource:
    """A notebook instance, training job or endpoint, with what the rules need to know.

    `started` is when the resource last began running: a notebook's LastModifiedTime while
    InService (starting it is its last modification), a training job's TrainingStartTime, an
    endpoint's CreationTime.
    """

    type: ResourceType
    name: str
    arn: str
    status: str
    tags: Mapping[str, str] = field(default_factory=dict)
    instance_type: str | None = None
    instance_count: int = 1
    created: datetime | None = None
    started: datetime | None = None
    # Training jobs
    managed_spot: bool | None = None
    max_runtime_seconds: int | None = None
    training_seconds: int | None = None
    billable_seconds: int | None = None
    # Endpoints
    endpoint_config: str | None = None
    variants: tuple[Variant, ...] = ()

    @property
    def transitional(self) -> bool:
        return self.status in TRANSITIONAL_STATUSES


@dataclass(frozen=True)
class Inventory:
    """Everything SageMaker holds in one account and region, read in one sweep."""

    account_id: str
    region: str
    read_at: datetime
    resources: tuple[SageMakerResource, ...]

    def of_type(self, type_: ResourceType) -> list[SageMakerResource]:
        return [r for r in self.resources if r.type is type_]
