"""SageMaker endpoints for rightsizing: read endpoint and config, copy a config with new variants, update."""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from mlcost.aws.errors import aws_call_or_gone
from mlcost.constants import MANAGED_BY_TAG
from mlcost.domain.catalogue import InstanceSpec
from mlcost.domain.errors import Conflict, InvalidSpec, NotFound

# SageMaker names: at most 63 characters of [a-zA-Z0-9-], starting with a letter or digit.
MAX_NAME_LENGTH = 63
# Configs the operator creates are named "<endpoint>-mlcost-<hash>", so that the ones left
# behind by an interrupted apply are found with one ListEndpointConfigs(NameContains=...).
CONFIG_INFIX = "-mlcost-"
HASH_LENGTH = 10
# A too-long endpoint name keeps this many characters plus "-" and a digest of the full name,
# so two long names sharing a beginning still get different config prefixes.
_NAME_DIGEST_LENGTH = 8
# Fields of DescribeEndpointConfig that CreateEndpointConfig does not take.
RESPONSE_ONLY_FIELDS = frozenset(
    {"EndpointConfigArn", "CreationTime", "EndpointConfigName", "ResponseMetadata"}
)
# AWS keeps the aws: tag prefix for itself; CreateEndpointConfig rejects such keys.
_RESERVED_TAG_PREFIX = "aws:"
MAX_ROLLBACK_ALARMS = 10
# How long SageMaker watches the rollback alarms on the new fleet before it retires the old one.
DEFAULT_BAKE_SECONDS = 300
# WaitIntervalInSeconds and TerminationWaitInSeconds both range 0-3600 (botocore shapes).
MAX_BAKE_SECONDS = 3600
TRANSITIONAL_STATUSES = frozenset({"Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting"})
# SageMaker answers ValidationException, not ResourceNotFound, for a missing endpoint or config.
_ALREADY_EXISTS_HINTS = ("already existing", "already exists")
_SAFE_HASH = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True)
class VariantState:
    """A production variant as the endpoint runs it now (DescribeEndpoint)."""

    name: str
    current_instance_count: int | None
    desired_instance_count: int | None
    current_weight: Decimal | None
    desired_weight: Decimal | None
    serverless: bool


@dataclass(frozen=True)
class PendingVariant:
    """A variant of the configuration an update is deploying."""

    name: str
    instance_type: str | None
    desired_instance_count: int | None


@dataclass(frozen=True)
class PendingDeployment:
    """The update in progress (DescribeEndpoint PendingDeploymentSummary)."""

    config_name: str
    start_time: datetime | None
    variants: tuple[PendingVariant, ...]


@dataclass(frozen=True)
class EndpointState:
    """What DescribeEndpoint says about an endpoint."""

    name: str
    arn: str
    status: str
    config_name: str
    creation_time: datetime | None
    last_modified: datetime | None
    failure_reason: str | None
    variants: tuple[VariantState, ...]
    pending: PendingDeployment | None

    @property
    def in_service(self) -> bool:
        return self.status == "InService"

    @property
    def transitioning(self) -> bool:
        """SageMaker is changing the endpoint: no update may start now."""
        return self.status in TRANSITIONAL_STATUSES

    def variant(self, name: str) -> VariantState | None:
        return next((v for v in self.variants if v.name == name), None)


@dataclass(frozen=True)
class ServerlessSettings:
    memory_mb: int
    max_concurrency: int
    provisioned_concurrency: int | None


@dataclass(frozen=True)
class ConfigVariant:
    """A production variant as its endpoint config declares it."""

    name: str
    model_name: str | None
    instance_type: str | None
    initial_instance_count: int | None
    initial_weight: Decimal | None
    serverless: ServerlessSettings | None


@dataclass(frozen=True)
class EndpointConfigState:
    """An endpoint config, its tags, and the describe response it came from (for copying)."""

    name: str
    arn: str
    creation_time: datetime | None
    variants: tuple[ConfigVariant, ...]
    tags: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}), hash=False)
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def owner(self) -> str | None:
        """The MANAGED_BY_TAG value: who among the operator's objects created it, if any."""
        return self.tags.get(MANAGED_BY_TAG)

    @property
    def kms_key_id(self) -> str | None:
        value = self.raw.get("KmsKeyId")
        return str(value) if value else None

    @property
    def captures_data(self) -> bool:
        return bool(self.raw.get("DataCaptureConfig", {}).get("EnableCapture", False))

    @property
    def asynchronous(self) -> bool:
        return "AsyncInferenceConfig" in self.raw

    def variant(self, name: str) -> ConfigVariant | None:
        return next((v for v in self.variants if v.name == name), None)


def config_prefix(endpoint_name: str) -> str:
    """The start of every config name the operator makes for this endpoint ("<endpoint>-mlcost-")."""
    room = MAX_NAME_LENGTH - len(CONFIG_INFIX) - HASH_LENGTH
    if len(endpoint_name) > room:
        digest = hashlib.sha256(endpoint_name.encode()).hexdigest()[:_NAME_DIGEST_LENGTH]
        keep = room - _NAME_DIGEST_LENGTH - 1
        endpoint_name = f"{endpoint_name[:keep].rstrip('-')}-{digest}"
    return endpoint_name + CONFIG_INFIX


def config_name(endpoint_name: str, spec_hash: str) -> str:
    """The deterministic name of the config the operator creates for this endpoint and change.

    At most 63 characters of [a-zA-Z0-9-]: "<endpoint>-mlcost-<10 characters of the hash>"; a
    long endpoint name is shortened with a digest of it, a hash that is not lowercase
    alphanumeric is hashed again.
    """
    suffix = spec_hash.lower()
    if len(suffix) < HASH_LENGTH or not _SAFE_HASH.fullmatch(suffix):
        suffix = hashlib.sha256(spec_hash.encode()).hexdigest()
    return config_prefix(endpoint_name) + suffix[:HASH_LENGTH]


def change_hash(source_config_name: str, variant_changes: Mapping[str, tuple[str, int]]) -> str:
    """A hash of everything that decides a copy's content: the source config and the changes.

    Use it as config_name's spec_hash, so an existing config of that name is the same copy.
    """
    canonical = json.dumps(
        {"source": source_config_name, "changes": sorted((k, list(v)) for k, v in variant_changes.items())},
        sort_keys=True,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


InstanceSpecs = Callable[[str], InstanceSpec | None]

# EC2 families whose instances carry NVMe instance store volumes (Amazon EC2 User Guide, "Instance
# store volume limits for EC2 instances"): a "d" in the family's attributes (c5d, m5d, r5d, g4dn,
# p3dn, p4d, c6id, ...) or one of these. SageMaker hosting mounts that store and refuses
# VolumeSizeInGB for them (botocore, ProductionVariant.VolumeSizeInGB: "Currently only Amazon EBS gp2
# storage volumes are supported"; the SageMaker guide's "Host instance storage volumes" lists the
# instance-store types).
_INSTANCE_STORE_FAMILIES = frozenset({"g5", "g6", "g6e", "gr6", "p5", "p5e", "p5en", "trn1", "trn1n", "trn2"})
_D_ATTRIBUTE = re.compile(r"^[a-z]+[0-9]+[a-z]*d[a-z]*$")


def has_instance_store(instance_type: str) -> bool:
    """Whether the type's instances come with NVMe instance store (so no EBS VolumeSizeInGB)."""
    parts = instance_type.split(".")
    family = parts[1] if len(parts) == 3 else ""
    return family in _INSTANCE_STORE_FAMILIES or bool(_D_ATTRIBUTE.fullmatch(family))


class CandidateRefused(InvalidSpec):
    """The copy cannot carry a setting of the source to the new instance type: nothing is created."""

    reason = "CandidateIncompatible"


def _ami_accelerator(ami: str) -> str:
    """'gpu' or 'neuron': the accelerator an InferenceAmiVersion is built for (its name says)."""
    return "neuron" if "-neuron-" in ami else "gpu"


def _accelerator_of(spec: InstanceSpec | None) -> str | None:
    """'gpu', 'neuron', '' (CPU only) or None (the catalogue does not know the type)."""
    if spec is None:
        return None
    if spec.gpu_count:
        return "gpu"
    if spec.accelerator:
        lowered = spec.accelerator.lower()
        return "neuron" if "inferentia" in lowered or "trainium" in lowered else spec.accelerator
    return ""


def _refusal(variant: Mapping[str, Any], new_type: str, new_count: int) -> str | None:
    """Why a setting of the variant cannot move to new_type x new_count (adapt_variant's rules)."""
    old_type = variant.get("InstanceType")
    changes_type = new_type != old_type
    if not variant.get("ModelName") and changes_type:
        return (
            "it hosts inference components (no ModelName), whose compute requirements were set "
            "for its instance type; change the components and the type together yourself"
        )
    if variant.get("InstancePools"):
        return (
            "it provisions from InstancePools (several instance types by priority), which "
            "rightsizing does not change; list the types in the pools yourself"
        )
    if variant.get("AcceleratorType"):
        return (
            f"it uses Elastic Inference (AcceleratorType {variant['AcceleratorType']}), which "
            "SageMaker no longer accepts in a new endpoint config"
        )
    reservation = variant.get("CapacityReservationConfig")
    if reservation and (changes_type or new_count > int(variant.get("InitialInstanceCount") or 0)):
        return (
            f"it runs on an ML capacity reservation ({reservation.get('MlReservationArn', 'reserved')}) "
            f"of {old_type}, which another type or more instances cannot use, and the reservation is "
            "paid for whether it is used or not"
        )
    if variant.get("AcceleratorPartitionLayouts") and changes_type:
        return (
            f"its AcceleratorPartitionLayouts are GPU partition (MIG) profiles of {old_type}'s "
            "accelerators, which another type does not have"
        )
    scaling = variant.get("ManagedInstanceScaling") or {}
    if scaling.get("Status") == "ENABLED":
        low, high = scaling.get("MinInstanceCount"), scaling.get("MaxInstanceCount")
        if (low is not None and new_count < int(low)) or (high is not None and new_count > int(high)):
            return (
                f"its ManagedInstanceScaling keeps {low}-{high} instances; set candidates.minInstances/"
                "maxInstances within that range or change the managed scaling"
            )
    return None


def adapt_variant(
    variant: dict[str, Any], new_type: str, new_count: int, specs: InstanceSpecs | None = None
) -> list[str]:
    """Move one ProductionVariant (in place) to new_type x new_count; return what was dropped.

    Each setting tied to the instance type is kept, dropped or refused (CandidateRefused), so
    that CreateEndpointConfig and the rollout cannot fail on it (botocore's ProductionVariant
    documentation for each field):
    - A variant without ModelName hosts inference components, each sized for the instance type
      (ComputeResourceRequirements): refused, rightsizing does not resize them.
    - InstancePools list instance types themselves: refused, there is no one type to change.
    - AcceleratorType (Elastic Inference) "is no longer supported": refused, a new config cannot
      carry it and the model may depend on it.
    - InferenceAmiVersion is for GPU or Neuron instances only: kept for a type with the same
      accelerator, dropped for a CPU-only type (it gets SageMaker's default image), refused
      for any other or an unknown type.
    - CapacityReservationConfig reserves capacity of one instance type: refused for another
      type or more instances (the reservation is paid for whether used or not, and
      "capacity-reservations-only" fails to launch outside it).
    - AcceleratorPartitionLayouts are MIG profiles of one GPU model: refused for another type.
    - ManagedInstanceScaling bounds the count: refused when the new count is outside them.
    - VolumeSizeInGB is EBS only: dropped for a type with instance store.
    """
    name = variant.get("VariantName", "?")
    old_type = variant.get("InstanceType")
    dropped: list[str] = []

    def refuse(why: str) -> CandidateRefused:
        return CandidateRefused(
            f"variant {name} cannot move from {old_type} x{variant.get('InitialInstanceCount')} to "
            f"{new_type} x{new_count}: {why}",
            operation="sagemaker:CreateEndpointConfig",
        )

    why = _refusal(variant, new_type, new_count)
    if why is not None:
        raise refuse(why)
    ami = variant.get("InferenceAmiVersion")
    if ami and new_type != old_type:
        wanted = _ami_accelerator(str(ami))
        have = _accelerator_of(specs(new_type)) if specs else None
        if have == "":
            del variant["InferenceAmiVersion"]
            dropped.append(f"InferenceAmiVersion {ami} (for {wanted} instances; {new_type} has none)")
        elif have != wanted:
            known = "unknown to the price catalogue" if have is None else f"not a {wanted} instance"
            raise refuse(f"its InferenceAmiVersion {ami} is for {wanted} instances and {new_type} is {known}")
    if variant.get("VolumeSizeInGB") is not None and has_instance_store(new_type):
        dropped.append(
            f"VolumeSizeInGB {variant.pop('VolumeSizeInGB')} ({new_type} has instance store, "
            "which SageMaker uses instead of an EBS volume)"
        )
    variant["InstanceType"], variant["InitialInstanceCount"] = new_type, new_count
    return dropped


def copy_plan(
    source: EndpointConfigState,
    new_name: str,
    variant_changes: Mapping[str, tuple[str, int]],
    owner: str,
    specs: InstanceSpecs | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """copy_request's request and the settings it dropped ("AllTraffic: VolumeSizeInGB 30 (...)")."""
    request = copy_request(source, new_name, {}, owner)
    dropped: list[str] = []
    variants: list[dict[str, Any]] = request.get("ProductionVariants", [])
    unknown = set(variant_changes) - {v["VariantName"] for v in variants}
    if unknown:
        raise InvalidSpec(
            f"endpoint config {source.name} has no production variant {', '.join(sorted(unknown))}: "
            f"its variants are {', '.join(v['VariantName'] for v in variants)}"
        )
    for variant in variants:
        change = variant_changes.get(variant["VariantName"])
        if change is None:
            continue
        if variant.get("ServerlessConfig"):
            raise InvalidSpec(
                f"production variant {variant['VariantName']} of endpoint config {source.name} is "
                "serverless: it has no instance type or count to rightsize"
            )
        notes = adapt_variant(variant, change[0], change[1], specs)
        dropped.extend(f"{variant['VariantName']}: {note}" for note in notes)
    return request, dropped


def copy_request(
    source: EndpointConfigState,
    new_name: str,
    variant_changes: Mapping[str, tuple[str, int]],
    owner: str,
    specs: InstanceSpecs | None = None,
) -> dict[str, Any]:
    """The CreateEndpointConfig request that copies source with new instance types and counts.

    Every field of the describe response is kept except the response-only ones; the changed
    variants get InstanceType and InitialInstanceCount, and the settings tied to the old type
    are adapted (adapt_variant: kept, dropped, or CandidateRefused); the tags are the source's
    (without aws: keys) with MANAGED_BY_TAG set to owner.
    """
    if variant_changes:
        return copy_plan(source, new_name, variant_changes, owner, specs)[0]
    request = {
        k: copy.deepcopy(v)
        for k, v in source.raw.items()
        # An empty structure sets nothing, and CreateEndpointConfig rejects e.g. an empty
        # DataCaptureConfig for its missing required members (moto describes one as {}).
        if k not in RESPONSE_ONLY_FIELDS and v not in (None, {}, [])
    }
    request["EndpointConfigName"] = new_name
    tags = {k: v for k, v in source.tags.items() if not k.startswith(_RESERVED_TAG_PREFIX)}
    tags[MANAGED_BY_TAG] = owner
    request["Tags"] = [{"Key": k, "Value": v} for k, v in sorted(tags.items())]
    return request


def deployment_config(rollback_alarms: list[str], bake_seconds: int | None = None) -> dict[str, Any]:
    """Blue/green, all traffic at once, watched by the rollback alarms for bake_seconds.

    bake_seconds defaults to DEFAULT_BAKE_SECONDS with alarms (the time SageMaker watches them
    before retiring the old fleet) and 0 without (nothing to watch).

    Which field holds the bake: the API reference defines TrafficRoutingConfig.WaitIntervalInSeconds
    (required) as "the waiting time between incremental steps" and
    BlueGreenUpdatePolicy.TerminationWaitInSeconds as the "additional waiting time after the
    completion of an endpoint deployment before terminating the old endpoint fleet" (default 0);
    the guide ("Use all at once traffic shifting") calls the time after the one step, in which the
    alarms are watched, the baking period. So the bake goes into both: the alarms are watched
    for it after all traffic moved, and the old fleet (the rollback target) is kept at least that
    long after the deployment completes, whichever of the two SageMaker's alarm watch covers. The
    price is the old fleet running up to one bake longer.
    """
    if len(rollback_alarms) > MAX_ROLLBACK_ALARMS:
        raise InvalidSpec(
            f"{len(rollback_alarms)} rollback alarms given; SageMaker watches at most "
            f"{MAX_ROLLBACK_ALARMS}: list fewer in apply.rollbackAlarms"
        )
    wait = bake_seconds if bake_seconds is not None else (DEFAULT_BAKE_SECONDS if rollback_alarms else 0)
    if not 0 <= wait <= MAX_BAKE_SECONDS:
        raise InvalidSpec(f"a bake of {wait} s is outside SageMaker's 0-{MAX_BAKE_SECONDS} s")
    config: dict[str, Any] = {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": wait},
            "TerminationWaitInSeconds": wait,
        }
    }
    if rollback_alarms:
        config["AutoRollbackConfiguration"] = {"Alarms": [{"AlarmName": name} for name in rollback_alarms]}
    return config


def _sagemaker(operation: str) -> AbstractContextManager[None]:
    """aws_call for SageMaker, raising NotFound for the ValidationException of a missing resource."""
    return aws_call_or_gone(f"sagemaker:{operation}")


def _utc(value: Any) -> datetime | None:
    return value.astimezone(UTC) if isinstance(value, datetime) else None


def _decimal(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


class EndpointsClient:
    """Endpoints and endpoint configs of one SageMaker client's account and region."""

    def __init__(self, client: Any) -> None:
        self._client = client

    # ------------------------------------------------------------------------ read

    def describe(self, endpoint_name: str) -> EndpointState | None:
        """The endpoint's status, config, variants and pending update; None when it doesn't exist."""
        try:
            with _sagemaker("DescribeEndpoint"):
                raw = self._client.describe_endpoint(EndpointName=endpoint_name)
        except NotFound:
            return None
        pending = raw.get("PendingDeploymentSummary")
        return EndpointState(
            name=raw["EndpointName"],
            arn=raw["EndpointArn"],
            status=raw["EndpointStatus"],
            config_name=raw["EndpointConfigName"],
            creation_time=_utc(raw.get("CreationTime")),
            last_modified=_utc(raw.get("LastModifiedTime")),
            failure_reason=raw.get("FailureReason") or None,
            variants=tuple(
                VariantState(
                    name=v["VariantName"],
                    current_instance_count=_int(v.get("CurrentInstanceCount")),
                    desired_instance_count=_int(v.get("DesiredInstanceCount")),
                    current_weight=_decimal(v.get("CurrentWeight")),
                    desired_weight=_decimal(v.get("DesiredWeight")),
                    serverless="CurrentServerlessConfig" in v or "DesiredServerlessConfig" in v,
                )
                for v in raw.get("ProductionVariants", [])
            ),
            pending=None
            if not pending
            else PendingDeployment(
                config_name=pending["EndpointConfigName"],
                start_time=_utc(pending.get("StartTime")),
                variants=tuple(
                    PendingVariant(
                        name=v["VariantName"],
                        instance_type=v.get("InstanceType"),
                        desired_instance_count=_int(v.get("DesiredInstanceCount")),
                    )
                    for v in pending.get("ProductionVariants", [])
                ),
            ),
        )

    def describe_config(self, name: str) -> EndpointConfigState | None:
        """The config with its variants and tags (DescribeEndpointConfig + ListTags); None if absent."""
        try:
            with _sagemaker("DescribeEndpointConfig"):
                raw = self._client.describe_endpoint_config(EndpointConfigName=name)
        except NotFound:
            return None
        raw = {k: v for k, v in raw.items() if k != "ResponseMetadata"}
        return EndpointConfigState(
            name=raw["EndpointConfigName"],
            arn=raw["EndpointConfigArn"],
            creation_time=_utc(raw.get("CreationTime")),
            variants=tuple(_config_variant(v) for v in raw.get("ProductionVariants", [])),
            tags=MappingProxyType(self._tags(raw["EndpointConfigArn"])),
            raw=raw,
        )

    def _tags(self, arn: str) -> dict[str, str]:
        with _sagemaker("ListTags"):
            pages = self._client.get_paginator("list_tags").paginate(ResourceArn=arn)
            return {tag["Key"]: tag["Value"] for page in pages for tag in page.get("Tags", [])}

    def list_owned_configs(self, endpoint_name: str, owner: str) -> list[str]:
        """Names of the configs owner created for this endpoint, oldest first.

        One paginated ListEndpointConfigs(NameContains="<endpoint>-mlcost-") plus one ListTags
        per config of that form: the way to find configs left behind when the operator stopped
        between creating a config and updating the endpoint. The endpoint's current config is
        among them when the operator created it: exclude it before deleting.
        """
        prefix = config_prefix(endpoint_name)
        candidates: list[tuple[datetime, str, str]] = []
        with _sagemaker("ListEndpointConfigs"):
            pages = self._client.get_paginator("list_endpoint_configs").paginate(NameContains=prefix)
            for page in pages:
                for summary in page.get("EndpointConfigs", []):
                    name = summary["EndpointConfigName"]
                    rest = name[len(prefix) :]
                    # NameContains matches anywhere: keep "<prefix><hash>" only.
                    if name.startswith(prefix) and len(rest) == HASH_LENGTH and rest.isalnum():
                        created = _utc(summary.get("CreationTime")) or datetime.min.replace(tzinfo=UTC)
                        candidates.append((created, name, summary["EndpointConfigArn"]))
        owned = []
        for _, name, arn in sorted(candidates):
            try:
                tags = self._tags(arn)
            except NotFound:
                continue  # deleted since it was listed
            if tags.get(MANAGED_BY_TAG) == owner:
                owned.append(name)
        return owned

    # ------------------------------------------------------------------------ change

    def create_config_copy(
        self,
        source: EndpointConfigState,
        new_name: str,
        variant_changes: Mapping[str, tuple[str, int]],
        owner: str,
        specs: InstanceSpecs | None = None,
    ) -> bool:
        """Create new_name as a copy of source with the variants' (instance type, count) changed.

        Idempotent: True when this call created the config, False when owner's config of that
        name exists already (name it with change_hash so that it is the same copy). A config of
        that name owned by anyone else raises Conflict; it is never changed.
        """
        request = copy_request(source, new_name, variant_changes, owner, specs)
        existing = self.describe_config(new_name)
        if existing is None:
            try:
                with _sagemaker("CreateEndpointConfig"):
                    self._client.create_endpoint_config(**request)
                return True
            except InvalidSpec as exc:
                if not any(hint in exc.message.lower() for hint in _ALREADY_EXISTS_HINTS):
                    raise
            existing = self.describe_config(new_name)  # created meanwhile, by whom?
        if existing is not None and existing.owner == owner:
            return False
        raise Conflict(
            f"endpoint config {new_name} exists and is not the operator's (tag {MANAGED_BY_TAG}="
            f"{existing.owner if existing else None!r}, expected {owner!r}): delete or rename it",
            operation="sagemaker:CreateEndpointConfig",
        )

    def update_endpoint(
        self,
        endpoint_name: str,
        config_name: str,
        rollback_alarms: list[str],
        *,
        bake_seconds: int | None = None,
    ) -> None:
        """Start deploying config_name: blue/green, all at once, rolled back when an alarm fires.

        The endpoint goes to Updating; describe() shows the outcome later (InService on the new
        config, or on the old one with FailureReason after a rollback, or Failed). Variant
        counts come from the new config (RetainAllVariantProperties is off).
        """
        with _sagemaker("UpdateEndpoint"):
            self._client.update_endpoint(
                EndpointName=endpoint_name,
                EndpointConfigName=config_name,
                DeploymentConfig=deployment_config(rollback_alarms, bake_seconds),
            )

    def delete_config(self, name: str) -> bool:
        """Delete the config; False when it was already gone. The caller checks ownership."""
        try:
            with _sagemaker("DeleteEndpointConfig"):
                self._client.delete_endpoint_config(EndpointConfigName=name)
        except NotFound:
            return False
        return True


def _config_variant(raw: Mapping[str, Any]) -> ConfigVariant:
    serverless = raw.get("ServerlessConfig")
    return ConfigVariant(
        name=raw["VariantName"],
        model_name=raw.get("ModelName"),
        instance_type=raw.get("InstanceType"),
        initial_instance_count=_int(raw.get("InitialInstanceCount")),
        initial_weight=_decimal(raw.get("InitialVariantWeight")),
        serverless=None
        if not serverless
        else ServerlessSettings(
            memory_mb=int(serverless["MemorySizeInMB"]),
            max_concurrency=int(serverless["MaxConcurrency"]),
            provisioned_concurrency=_int(serverless.get("ProvisionedConcurrency")),
        ),
    )
