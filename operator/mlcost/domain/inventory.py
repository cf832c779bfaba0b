"""The SageMaker resources of one account and region, as governance rules read them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

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


class EndpointKind(StrEnum):
    """How an endpoint serves requests, read from its endpoint config.

    The kind decides which CloudWatch metrics show its traffic: SageMaker publishes no
    `Invocations` for asynchronous endpoints (AWS docs, "Monitor asynchronous endpoints").
    """

    REAL_TIME = "RealTime"  # instance-backed variants, each hosting a model (ModelName)
    ASYNCHRONOUS = "Asynchronous"  # the config has AsyncInferenceConfig
    SERVERLESS = "Serverless"  # every variant has ServerlessConfig
    INFERENCE_COMPONENTS = "InferenceComponents"  # an instance-backed variant without ModelName


@dataclass(frozen=True)
class Variant:
    """One production variant of an endpoint."""

    name: str
    instance_type: str | None  # None for serverless variants
    instance_count: int
    serverless: bool = False
    # Instance-backed without a ModelName: the models run as inference components on it.
    inference_components: bool = False


def endpoint_kind(asynchronous: bool, variants: tuple[Variant, ...]) -> EndpointKind:
    """The kind of an endpoint whose config has (or lacks) AsyncInferenceConfig and these variants."""
    if asynchronous:
        return EndpointKind.ASYNCHRONOUS
    if any(v.inference_components for v in variants):
        return EndpointKind.INFERENCE_COMPONENTS
    if variants and all(v.serverless for v in variants):
        return EndpointKind.SERVERLESS
    return EndpointKind.REAL_TIME


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
    # From the endpoint config; None when it was not read (deleted, or not described), and
    # then nothing that depends on it (the idle rule) judges the endpoint.
    endpoint_kind: EndpointKind | None = None
    # Why the endpoint config is not known (so neither are its kind and instance types), in
    # words that end a sentence "its endpoint config X ...": None when it was read.
    config_note: str | None = None

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
    # False when endpoint configs were not described because no rule asked for them: endpoints
    # then have no instance types or kind, except those whose config was already cached.
    endpoint_configs_read: bool = True
    # Configs that should have been read but were not (throttled): name -> why.
    unread_configs: Mapping[str, str] = field(default_factory=dict)

    def of_type(self, type_: ResourceType) -> list[SageMakerResource]:
        return [r for r in self.resources if r.type is type_]
