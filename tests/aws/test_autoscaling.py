"""VariantAutoscaling against the embedded AWS: one policy kept at its target, and only our things removed."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from mlcost.aws.autoscaling import (
    DIMENSION,
    METRIC_TYPE,
    NAMESPACE,
    POLICY_NAME,
    ScalingChange,
    VariantAutoscaling,
    resource_id,
)
from mlcost.aws.errors import QuotaExceeded, translate
from mlcost.constants import MANAGED_BY_TAG
from mlcost.domain.errors import AccessDenied, InvalidSpec, Throttled
from mlcost.embedded.server import EmbeddedAws

from .conftest import ClientFactory

OWNER = "team-fraud/fraud-scorer"
RESOURCE = resource_id("fraud-scorer", "AllTraffic")
MUTATING = ("RegisterScalableTarget", "PutScalingPolicy", "DeleteScalingPolicy", "DeregisterScalableTarget")


@pytest.fixture
def aas(aws_client: ClientFactory) -> Any:
    return aws_client("application-autoscaling")


@pytest.fixture
def scaling(aas: Any) -> VariantAutoscaling:
    return VariantAutoscaling(aas)


def _mutations(aws: EmbeddedAws) -> int:
    calls = aws.calls()
    return sum(calls[("application-autoscaling", op)] for op in MUTATING)


def _register_by_hand(aas: Any, min_capacity: int = 2, max_capacity: int = 6) -> None:
    """A target someone registered in the console: no mlcost tag."""
    aas.register_scalable_target(
        ServiceNamespace=NAMESPACE,
        ResourceId=RESOURCE,
        ScalableDimension=DIMENSION,
        MinCapacity=min_capacity,
        MaxCapacity=max_capacity,
    )


def _their_policy(aas: Any, name: str = "team-cpu-step") -> None:
    aas.put_scaling_policy(
        PolicyName=name,
        ServiceNamespace=NAMESPACE,
        ResourceId=RESOURCE,
        ScalableDimension=DIMENSION,
        PolicyType="StepScaling",
        StepScalingPolicyConfiguration={
            "AdjustmentType": "ChangeInCapacity",
            "StepAdjustments": [{"MetricIntervalLowerBound": 0, "ScalingAdjustment": 1}],
        },
    )


def _ensure(scaling: VariantAutoscaling, **overrides: Any) -> ScalingChange:
    args: dict[str, Any] = {
        "min_capacity": 1,
        "max_capacity": 4,
        "target_invocations": 1000,
        "owner": OWNER,
    }
    args.update(overrides)
    return scaling.ensure("fraud-scorer", "AllTraffic", **args)


def test_reading_a_variant_without_autoscaling(scaling: VariantAutoscaling) -> None:
    state = scaling.read("fraud-scorer", "AllTraffic")

    assert (state.target, state.policy, state.other_policies) == (None, None, ())
    assert state.resource_id == "endpoint/fraud-scorer/variant/AllTraffic"


def test_ensure_registers_the_variant_and_one_target_tracking_policy(
    scaling: VariantAutoscaling, aas: Any
) -> None:
    change = _ensure(scaling)

    assert change == ScalingChange(registered_target=True, put_policy=True)
    state = scaling.read("fraud-scorer", "AllTraffic")
    assert state.target is not None
    assert (state.target.min_capacity, state.target.max_capacity, state.target.owner) == (1, 4, OWNER)
    assert state.registered_by(OWNER)
    assert state.policy is not None
    assert (state.policy.name, state.policy.metric_type, state.policy.target_value) == (
        POLICY_NAME,
        METRIC_TYPE,
        Decimal(1000),
    )
    # What the console shows: the ownership tag on the target.
    arn = aas.describe_scalable_targets(ServiceNamespace=NAMESPACE)["ScalableTargets"][0]["ScalableTargetARN"]
    assert aas.list_tags_for_resource(ResourceARN=arn)["Tags"] == {MANAGED_BY_TAG: OWNER}


def test_ensuring_again_with_nothing_changed_makes_no_mutating_call(
    scaling: VariantAutoscaling, embedded_aws: EmbeddedAws
) -> None:
    _ensure(scaling)
    embedded_aws.reset_calls()

    change = _ensure(scaling)

    assert change == ScalingChange() and not change.changed
    assert _mutations(embedded_aws) == 0
    # What the second call costs: targets, the owner tag, policies.
    assert sum(embedded_aws.calls().values()) == 3


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"max_capacity": 8}, ScalingChange(updated_capacity=True)),
        ({"min_capacity": 2}, ScalingChange(updated_capacity=True)),
        ({"target_invocations": 750}, ScalingChange(put_policy=True)),
        (
            {"max_capacity": 6, "target_invocations": Decimal("1200.5")},
            ScalingChange(updated_capacity=True, put_policy=True),
        ),
    ],
)
def test_ensure_changes_only_what_differs(
    scaling: VariantAutoscaling, embedded_aws: EmbeddedAws, overrides: dict[str, Any], expected: ScalingChange
) -> None:
    _ensure(scaling)
    embedded_aws.reset_calls()

    change = _ensure(scaling, **overrides)

    assert change == expected
    assert _mutations(embedded_aws) == int(expected.updated_capacity) + int(expected.put_policy)
    state = scaling.read("fraud-scorer", "AllTraffic")
    assert state.target is not None and state.policy is not None
    assert state.target.max_capacity == overrides.get("max_capacity", 4)
    assert state.policy.target_value == Decimal(str(overrides.get("target_invocations", 1000)))
    # An update keeps the target ours.
    assert state.registered_by(OWNER)


def test_a_target_registered_by_someone_else_gets_our_bounds_but_stays_theirs(
    scaling: VariantAutoscaling, aas: Any
) -> None:
    _register_by_hand(aas)

    change = _ensure(scaling)

    assert change == ScalingChange(updated_capacity=True, put_policy=True)
    state = scaling.read("fraud-scorer", "AllTraffic")
    assert state.target is not None
    assert (state.target.min_capacity, state.target.max_capacity, state.target.owner) == (1, 4, None)


def test_remove_deletes_our_policy_and_the_target_we_registered(
    scaling: VariantAutoscaling, embedded_aws: EmbeddedAws
) -> None:
    _ensure(scaling)

    change = scaling.remove("fraud-scorer", "AllTraffic", owner=OWNER)

    assert change == ScalingChange(deleted_policy=True, deregistered_target=True)
    state = scaling.read("fraud-scorer", "AllTraffic")
    assert (state.target, state.policy) == (None, None)
    embedded_aws.reset_calls()
    assert scaling.remove("fraud-scorer", "AllTraffic", owner=OWNER) == ScalingChange()
    assert _mutations(embedded_aws) == 0


def test_remove_leaves_a_foreign_target_and_foreign_policies_alone(
    scaling: VariantAutoscaling, aas: Any
) -> None:
    _register_by_hand(aas)
    _their_policy(aas)
    _ensure(scaling)

    change = scaling.remove("fraud-scorer", "AllTraffic", owner=OWNER)

    assert change == ScalingChange(deleted_policy=True)
    state = scaling.read("fraud-scorer", "AllTraffic")
    assert state.target is not None and state.policy is None
    assert state.other_policies == ("team-cpu-step",)


def test_remove_keeps_our_target_while_someone_else_has_a_policy_on_it(
    scaling: VariantAutoscaling, aas: Any
) -> None:
    _ensure(scaling)
    _their_policy(aas)

    change = scaling.remove("fraud-scorer", "AllTraffic", owner=OWNER)

    # Deregistering would delete their policy with it.
    assert change == ScalingChange(deleted_policy=True)
    assert scaling.read("fraud-scorer", "AllTraffic").other_policies == ("team-cpu-step",)


def test_remove_leaves_a_target_another_rightsizing_registered(scaling: VariantAutoscaling) -> None:
    _ensure(scaling, owner="team-risk/scorer")

    change = scaling.remove("fraud-scorer", "AllTraffic", owner=OWNER)

    assert change == ScalingChange(deleted_policy=True)
    state = scaling.read("fraud-scorer", "AllTraffic")
    assert state.target is not None and state.target.owner == "team-risk/scorer"


def test_policies_of_other_variants_are_not_ours(scaling: VariantAutoscaling) -> None:
    scaling.ensure(
        "fraud-scorer",
        "AllTraffic-canary",
        min_capacity=1,
        max_capacity=2,
        target_invocations=500,
        owner=OWNER,
    )

    state = scaling.read("fraud-scorer", "AllTraffic")

    assert (state.target, state.policy, state.other_policies) == (None, None, ())


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"min_capacity": 5, "max_capacity": 2}, "minInstances 5 is above maxInstances 2"),
        ({"target_invocations": 0}, "must be above 0"),
    ],
)
def test_bad_bounds_are_refused_before_any_call(
    scaling: VariantAutoscaling, embedded_aws: EmbeddedAws, overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidSpec, match=message):
        _ensure(scaling, **overrides)

    assert sum(embedded_aws.calls().values()) == 0


def test_a_denied_call_is_a_domain_error_and_nothing_half_done(
    scaling: VariantAutoscaling, embedded_aws: EmbeddedAws
) -> None:
    embedded_aws.inject_error("application-autoscaling", "PutScalingPolicy", "AccessDeniedException")

    with pytest.raises(AccessDenied, match="application-autoscaling:PutScalingPolicy"):
        _ensure(scaling)

    # The target got registered; the next reconcile finishes the job with one call.
    embedded_aws.reset_calls()
    assert _ensure(scaling) == ScalingChange(put_policy=True)
    assert _mutations(embedded_aws) == 1


def test_aws_tags_scalable_targets_only_when_they_are_created(aas: Any) -> None:
    _register_by_hand(aas)
    arn = aas.describe_scalable_targets(ServiceNamespace=NAMESPACE)["ScalableTargets"][0]["ScalableTargetARN"]

    aas.register_scalable_target(
        ServiceNamespace=NAMESPACE,
        ResourceId=RESOURCE,
        ScalableDimension=DIMENSION,
        MinCapacity=1,
        MaxCapacity=3,
        Tags={MANAGED_BY_TAG: OWNER},
    )

    assert aas.list_tags_for_resource(ResourceARN=arn)["Tags"] == {}
    aas.tag_resource(ResourceARN=arn, Tags={"team": "fraud"})
    aas.untag_resource(ResourceARN=arn, TagKeys=["team"])
    assert aas.list_tags_for_resource(ResourceARN=arn)["Tags"] == {}
    aas.deregister_scalable_target(
        ServiceNamespace=NAMESPACE, ResourceId=RESOURCE, ScalableDimension=DIMENSION
    )
    with pytest.raises(aas.exceptions.ResourceNotFoundException):
        aas.list_tags_for_resource(ResourceARN=arn)


def test_the_policy_quota_is_a_quota_not_throttling() -> None:
    """Application Auto Scaling's LimitExceededException is a resource quota (at most 50 policies a
    scalable target, "Quotas for Application Auto Scaling"), so it gets its own reason. moto has no
    such quota, so the answer comes from a Stubber."""
    client = boto3.client(
        "application-autoscaling", region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t"
    )
    query = {"ServiceNamespace": NAMESPACE, "ResourceIds": [RESOURCE], "ScalableDimension": DIMENSION}
    with Stubber(client) as stub:
        stub.add_response("describe_scalable_targets", {"ScalableTargets": []}, query)
        stub.add_response("describe_scaling_policies", {"ScalingPolicies": []})
        stub.add_response("register_scalable_target", {})
        stub.add_client_error(
            "put_scaling_policy",
            service_error_code="LimitExceededException",
            service_message="A scalable target can have at most 50 scaling policies.",
        )
        with pytest.raises(QuotaExceeded, match="service quota of the account, not throttling") as raised:
            _ensure(VariantAutoscaling(client))
        stub.assert_no_pending_responses()
    assert raised.value.reason == "QuotaExceeded"
    assert not isinstance(raised.value, Throttled) and not raised.value.transient
    assert raised.value.operation == "application-autoscaling:PutScalingPolicy"


def test_cost_explorer_limit_exceeded_stays_throttling() -> None:
    """The same code from Cost Explorer means "too many calls in a short period" (botocore)."""
    error = ClientError(
        {"Error": {"Code": "LimitExceededException", "Message": "slow down"}}, "GetCostAndUsage"
    )
    assert isinstance(translate(error, "ce:GetCostAndUsage"), Throttled)
    assert isinstance(translate(error, "application-autoscaling:PutScalingPolicy"), QuotaExceeded)
