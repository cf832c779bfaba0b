"""Application Auto Scaling of SageMaker variants: one target-tracking policy on invocations per instance."""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from mlcost.aws.errors import aws_call_or_gone
from mlcost.constants import MANAGED_BY_TAG
from mlcost.domain.errors import InvalidSpec, NotFound

NAMESPACE = "sagemaker"
DIMENSION = "sagemaker:variant:DesiredInstanceCount"
POLICY_NAME = "mlcost-invocations-target"
METRIC_TYPE = "SageMakerVariantInvocationsPerInstance"
# Application Auto Scaling answers ObjectNotFoundException (and moto ValidationException
# "No scalable target / scaling policy found") for what is not there.
_GONE_HINTS = ("objectnotfoundexception", "no scalable target found", "no scaling policy found")


def resource_id(endpoint: str, variant: str) -> str:
    return f"endpoint/{endpoint}/variant/{variant}"


@dataclass(frozen=True)
class ScalableTarget:
    min_capacity: int
    max_capacity: int
    arn: str | None
    owner: str | None  # MANAGED_BY_TAG value: set only on targets the operator registered


@dataclass(frozen=True)
class TrackingPolicy:
    name: str
    arn: str | None
    policy_type: str
    target_value: Decimal | None
    metric_type: str | None  # the predefined metric; None for a customized one


@dataclass(frozen=True)
class ScalingState:
    """A variant's scalable target, the operator's policy on it, and any other policies."""

    endpoint: str
    variant: str
    target: ScalableTarget | None
    policy: TrackingPolicy | None
    other_policies: tuple[str, ...]

    @property
    def resource_id(self) -> str:
        return resource_id(self.endpoint, self.variant)

    def registered_by(self, owner: str) -> bool:
        return self.target is not None and self.target.owner == owner


@dataclass(frozen=True)
class ScalingChange:
    """The mutating calls ensure() or remove() made."""

    registered_target: bool = False
    updated_capacity: bool = False
    put_policy: bool = False
    deleted_policy: bool = False
    deregistered_target: bool = False

    @property
    def changed(self) -> bool:
        return any(
            (
                self.registered_target,
                self.updated_capacity,
                self.put_policy,
                self.deleted_policy,
                self.deregistered_target,
            )
        )


def _scaling(operation: str) -> AbstractContextManager[None]:
    return aws_call_or_gone(f"application-autoscaling:{operation}", _GONE_HINTS)


class VariantAutoscaling:
    """Reads and keeps the autoscaling of SageMaker production variants (one AAS client).

    Ownership rule: the operator never removes what it did not create. It registers a
    scalable target only where none is registered, tagging it MANAGED_BY_TAG=<owner> in that
    RegisterScalableTarget call, and its one policy has a fixed name (POLICY_NAME). remove()
    deletes that policy, and deregisters the target only when the target carries the owner's
    tag and no other policy is attached (deregistering would delete those too). A target
    registered by someone else gets the spec's min/max while the spec asks for autoscaling,
    and stays registered afterwards.
    """

    def __init__(self, client: Any) -> None:
        self._client = client

    def read(self, endpoint: str, variant: str) -> ScalingState:
        """The target (min, max, owner tag) and policies: 2 calls, 3 when a target exists."""
        rid = resource_id(endpoint, variant)
        with _scaling("DescribeScalableTargets"):
            targets = self._client.describe_scalable_targets(
                ServiceNamespace=NAMESPACE, ResourceIds=[rid], ScalableDimension=DIMENSION
            ).get("ScalableTargets", [])
        raw_target = next((t for t in targets if t["ResourceId"] == rid), None)
        target = None
        if raw_target is not None:
            arn = raw_target.get("ScalableTargetARN")
            target = ScalableTarget(
                min_capacity=int(raw_target["MinCapacity"]),
                max_capacity=int(raw_target["MaxCapacity"]),
                arn=arn,
                owner=self._owner(arn) if arn else None,
            )
        with _scaling("DescribeScalingPolicies"):
            pages = self._client.get_paginator("describe_scaling_policies").paginate(
                ServiceNamespace=NAMESPACE, ResourceId=rid, ScalableDimension=DIMENSION
            )
            # Filter again: moto matches ResourceId as a substring.
            policies = [
                p
                for page in pages
                for p in page.get("ScalingPolicies", [])
                if p["ResourceId"] == rid and p["ScalableDimension"] == DIMENSION
            ]
        ours = next((p for p in policies if p["PolicyName"] == POLICY_NAME), None)
        return ScalingState(
            endpoint=endpoint,
            variant=variant,
            target=target,
            policy=_policy(ours) if ours else None,
            other_policies=tuple(sorted(p["PolicyName"] for p in policies if p["PolicyName"] != POLICY_NAME)),
        )

    def _owner(self, arn: str) -> str | None:
        try:
            with _scaling("ListTagsForResource"):
                tags = self._client.list_tags_for_resource(ResourceARN=arn).get("Tags", {})
        except NotFound:
            return None
        value = tags.get(MANAGED_BY_TAG)
        return str(value) if value is not None else None

    def ensure(
        self,
        endpoint: str,
        variant: str,
        *,
        min_capacity: int,
        max_capacity: int,
        target_invocations: int | Decimal,
        owner: str,
    ) -> ScalingChange:
        """Register the variant with min/max and keep POLICY_NAME at target_invocations.

        Calls RegisterScalableTarget / PutScalingPolicy only for what differs: a second call
        with the same arguments makes no mutating call.
        """
        if min_capacity > max_capacity:
            raise InvalidSpec(
                f"autoscaling minInstances {min_capacity} is above maxInstances {max_capacity}: "
                "make minInstances at most maxInstances"
            )
        target_value = Decimal(str(target_invocations))
        if target_value <= 0:
            raise InvalidSpec(
                f"autoscaling targetInvocationsPerInstance must be above 0, not {target_invocations}"
            )
        state = self.read(endpoint, variant)
        rid = state.resource_id
        registered = state.target is None
        updated = state.target is not None and (
            (state.target.min_capacity, state.target.max_capacity) != (min_capacity, max_capacity)
        )
        if registered or updated:
            request: dict[str, Any] = {
                "ServiceNamespace": NAMESPACE,
                "ResourceId": rid,
                "ScalableDimension": DIMENSION,
                "MinCapacity": min_capacity,
                "MaxCapacity": max_capacity,
            }
            if registered:
                # Tags apply only when the call creates the target: the ownership marker.
                request["Tags"] = {MANAGED_BY_TAG: owner}
            with _scaling("RegisterScalableTarget"):
                self._client.register_scalable_target(**request)
        put = False
        policy = state.policy
        if (
            policy is None
            or policy.policy_type != "TargetTrackingScaling"
            or policy.metric_type != METRIC_TYPE
            or policy.target_value != target_value
        ):
            with _scaling("PutScalingPolicy"):
                self._client.put_scaling_policy(
                    PolicyName=POLICY_NAME,
                    ServiceNamespace=NAMESPACE,
                    ResourceId=rid,
                    ScalableDimension=DIMENSION,
                    PolicyType="TargetTrackingScaling",
                    TargetTrackingScalingPolicyConfiguration={
                        "TargetValue": float(target_value),
                        "PredefinedMetricSpecification": {"PredefinedMetricType": METRIC_TYPE},
                    },
                )
            put = True
        return ScalingChange(registered_target=registered, updated_capacity=updated, put_policy=put)

    def remove(self, endpoint: str, variant: str, *, owner: str) -> ScalingChange:
        """Delete POLICY_NAME; deregister the target only if owner registered it (module rule)."""
        state = self.read(endpoint, variant)
        rid = state.resource_id
        deleted = deregistered = False
        if state.policy is not None:
            try:
                with _scaling("DeleteScalingPolicy"):
                    self._client.delete_scaling_policy(
                        PolicyName=POLICY_NAME,
                        ServiceNamespace=NAMESPACE,
                        ResourceId=rid,
                        ScalableDimension=DIMENSION,
                    )
                deleted = True
            except NotFound:
                pass
        if state.registered_by(owner) and not state.other_policies:
            try:
                with _scaling("DeregisterScalableTarget"):
                    self._client.deregister_scalable_target(
                        ServiceNamespace=NAMESPACE, ResourceId=rid, ScalableDimension=DIMENSION
                    )
                deregistered = True
            except NotFound:
                pass
        return ScalingChange(deleted_policy=deleted, deregistered_target=deregistered)


def _policy(raw: dict[str, Any]) -> TrackingPolicy:
    config = raw.get("TargetTrackingScalingPolicyConfiguration") or {}
    value = config.get("TargetValue")
    return TrackingPolicy(
        name=raw["PolicyName"],
        arn=raw.get("PolicyARN"),
        policy_type=raw.get("PolicyType", ""),
        target_value=None if value is None else Decimal(str(value)),
        metric_type=(config.get("PredefinedMetricSpecification") or {}).get("PredefinedMetricType"),
    )
