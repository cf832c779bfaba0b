"""The exact requests rightsizing sends, where moto cannot tell right from wrong (botocore Stubber).

moto accepts any DeploymentConfig and any copied ProductionVariant; AWS does not. These tests pin
the parameters of UpdateEndpoint and CreateEndpointConfig, and that a refused candidate makes no
call at all. botocore's client-side parameter validation stays on (Stubber also checks every
expected request against the service model).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from mlcost.aws.endpoints import (
    CandidateRefused,
    EndpointConfigState,
    EndpointsClient,
    config_name,
    copy_plan,
)
from mlcost.catalogue import load_default_catalogue
from mlcost.constants import MANAGED_BY_TAG

OWNER = "team-fraud/fraud-scorer"
NEW = config_name("fraud-scorer", "a" * 16)
SPECS = load_default_catalogue().spec
ARN = "arn:aws:sagemaker:us-east-1:123456789012:endpoint-config/fraud-scorer-config"


@pytest.fixture
def sagemaker() -> Any:
    return boto3.client(
        "sagemaker", region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )


@pytest.fixture
def stub(sagemaker: Any) -> Iterator[Stubber]:
    with Stubber(sagemaker) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def source(**variant: Any) -> EndpointConfigState:
    """fraud-scorer-config with one variant AllTraffic (ml.g5.xlarge x2 unless told), KMS-encrypted."""
    raw_variant = {
        "VariantName": "AllTraffic",
        "ModelName": "scorer-model",
        "InstanceType": "ml.g5.xlarge",
        "InitialInstanceCount": 2,
        "InitialVariantWeight": 1.0,
        **variant,
    }
    raw = {
        "EndpointConfigName": "fraud-scorer-config",
        "EndpointConfigArn": ARN,
        "CreationTime": datetime(2026, 11, 1, tzinfo=UTC),
        "ProductionVariants": [raw_variant],
        "KmsKeyId": "arn:aws:kms:us-east-1:123456789012:key/abc",
    }
    return EndpointConfigState(
        name="fraud-scorer-config",
        arn=ARN,
        creation_time=raw["CreationTime"],  # type: ignore[arg-type]
        variants=(),
        tags={"team": "fraud", "aws:cloudformation:stack-name": "s"},
        raw=raw,
    )


def expected_copy(**variant: Any) -> dict[str, Any]:
    return {
        "EndpointConfigName": NEW,
        "ProductionVariants": [
            {"VariantName": "AllTraffic", "ModelName": "scorer-model", "InitialVariantWeight": 1.0, **variant}
        ],
        "KmsKeyId": "arn:aws:kms:us-east-1:123456789012:key/abc",
        "Tags": [{"Key": MANAGED_BY_TAG, "Value": OWNER}, {"Key": "team", "Value": "fraud"}],
    }


def _absent(stub: Stubber) -> None:
    # The copy's name is checked first: a config of that name must not exist yet.
    stub.add_client_error(
        "describe_endpoint_config",
        service_error_code="ValidationException",
        service_message=f"Could not find endpoint configuration {NEW}.",
        expected_params={"EndpointConfigName": NEW},
    )


# ---------------------------------------------------------------------------- UpdateEndpoint


@pytest.mark.parametrize(
    ("alarms", "bake", "expected"),
    [
        pytest.param(
            ["fraud-scorer-5xx"],
            None,
            {
                "BlueGreenUpdatePolicy": {
                    "TrafficRoutingConfiguration": {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 300},
                    "TerminationWaitInSeconds": 300,
                },
                "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": "fraud-scorer-5xx"}]},
            },
            id="alarms: a 5-minute bake, the old fleet kept through it",
        ),
        pytest.param(
            [],
            None,
            {
                "BlueGreenUpdatePolicy": {
                    "TrafficRoutingConfiguration": {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 0},
                    "TerminationWaitInSeconds": 0,
                }
            },
            id="no alarms: nothing to watch, no bake",
        ),
        pytest.param(
            ["a", "b"],
            900,
            {
                "BlueGreenUpdatePolicy": {
                    "TrafficRoutingConfiguration": {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 900},
                    "TerminationWaitInSeconds": 900,
                },
                "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": "a"}, {"AlarmName": "b"}]},
            },
            id="a longer bake",
        ),
    ],
)
def test_update_endpoint_sends_the_blue_green_bake(
    sagemaker: Any, stub: Stubber, alarms: list[str], bake: int | None, expected: dict[str, Any]
) -> None:
    stub.add_response(
        "update_endpoint",
        {"EndpointArn": "arn:aws:sagemaker:us-east-1:123456789012:endpoint/fraud-scorer"},
        expected_params={
            "EndpointName": "fraud-scorer",
            "EndpointConfigName": NEW,
            "DeploymentConfig": expected,
        },
    )
    EndpointsClient(sagemaker).update_endpoint("fraud-scorer", NEW, alarms, bake_seconds=bake)


# ---------------------------------------------------------------------------- CreateEndpointConfig


@pytest.mark.parametrize(
    ("variant", "change", "expected", "dropped"),
    [
        pytest.param(
            {},
            ("ml.g4dn.xlarge", 1),
            {"InstanceType": "ml.g4dn.xlarge", "InitialInstanceCount": 1},
            [],
            id="type and count change, the rest is copied",
        ),
        pytest.param(
            {"InferenceAmiVersion": "al2-ami-sagemaker-inference-gpu-2"},
            ("ml.g4dn.xlarge", 1),
            {
                "InstanceType": "ml.g4dn.xlarge",
                "InitialInstanceCount": 1,
                "InferenceAmiVersion": "al2-ami-sagemaker-inference-gpu-2",
            },
            [],
            id="GPU AMI onto another GPU type: kept",
        ),
        pytest.param(
            {"InferenceAmiVersion": "al2-ami-sagemaker-inference-gpu-2"},
            ("ml.c5.xlarge", 2),
            {"InstanceType": "ml.c5.xlarge", "InitialInstanceCount": 2},
            ["AllTraffic: InferenceAmiVersion al2-ami-sagemaker-inference-gpu-2"],
            id="GPU AMI onto a CPU type: dropped",
        ),
        pytest.param(
            {"InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 64},
            ("ml.m5.large", 2),
            {"InstanceType": "ml.m5.large", "InitialInstanceCount": 2, "VolumeSizeInGB": 64},
            [],
            id="EBS volume onto an EBS-only type: kept",
        ),
        pytest.param(
            {"InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 64},
            ("ml.g5.xlarge", 1),
            {"InstanceType": "ml.g5.xlarge", "InitialInstanceCount": 1},
            ["AllTraffic: VolumeSizeInGB 64 (ml.g5.xlarge has instance store"],
            id="EBS volume onto an instance-store type: dropped",
        ),
        pytest.param(
            {"ManagedInstanceScaling": {"Status": "ENABLED", "MinInstanceCount": 1, "MaxInstanceCount": 4}},
            ("ml.g5.xlarge", 1),
            {
                "InstanceType": "ml.g5.xlarge",
                "InitialInstanceCount": 1,
                "ManagedInstanceScaling": {"Status": "ENABLED", "MinInstanceCount": 1, "MaxInstanceCount": 4},
            },
            [],
            id="new count within managed scaling: kept",
        ),
        pytest.param(
            {
                "CapacityReservationConfig": {
                    "CapacityReservationPreference": "capacity-reservations-only",
                    "MlReservationArn": "arn:aws:sagemaker:us-east-1:123456789012:reserved-capacity/r1",
                }
            },
            ("ml.g5.xlarge", 1),
            {
                "InstanceType": "ml.g5.xlarge",
                "InitialInstanceCount": 1,
                "CapacityReservationConfig": {
                    "CapacityReservationPreference": "capacity-reservations-only",
                    "MlReservationArn": "arn:aws:sagemaker:us-east-1:123456789012:reserved-capacity/r1",
                },
            },
            [],
            id="fewer instances of the reserved type: reservation kept",
        ),
    ],
)
def test_the_copy_adapts_settings_tied_to_the_instance_type(
    sagemaker: Any,
    stub: Stubber,
    variant: dict[str, Any],
    change: tuple[str, int],
    expected: dict[str, Any],
    dropped: list[str],
) -> None:
    config = source(**variant)
    _, notes = copy_plan(config, NEW, {"AllTraffic": change}, OWNER, SPECS)
    assert len(notes) == len(dropped)
    for note, start in zip(notes, dropped, strict=True):
        assert note.startswith(start)
    _absent(stub)
    stub.add_response(
        "create_endpoint_config",
        {"EndpointConfigArn": ARN + "-copy"},
        expected_params=expected_copy(**expected),
    )
    assert EndpointsClient(sagemaker).create_config_copy(config, NEW, {"AllTraffic": change}, OWNER, SPECS)


@pytest.mark.parametrize(
    ("variant", "change", "why"),
    [
        pytest.param(
            {"InferenceAmiVersion": "al2-ami-sagemaker-inference-gpu-2"},
            ("ml.inf2.xlarge", 1),
            "is for gpu instances and ml.inf2.xlarge is not a gpu instance",
            id="GPU AMI onto Inferentia",
        ),
        pytest.param(
            {"InferenceAmiVersion": "al2-ami-sagemaker-inference-gpu-2"},
            ("ml.q9.xlarge", 1),
            "unknown to the price catalogue",
            id="AMI onto a type the catalogue does not know",
        ),
        pytest.param(
            {"CapacityReservationConfig": {"MlReservationArn": "arn:aws:sagemaker:us-east-1:1:reserved/r1"}},
            ("ml.g4dn.xlarge", 2),
            "ML capacity reservation",
            id="capacity reservation of another type",
        ),
        pytest.param(
            {"CapacityReservationConfig": {"MlReservationArn": "arn:aws:sagemaker:us-east-1:1:reserved/r1"}},
            ("ml.g5.xlarge", 3),
            "more instances cannot use",
            id="more instances than the reservation held",
        ),
        pytest.param(
            {"AcceleratorPartitionLayouts": [{"AcceleratorPartitionTypes": ["mig-3g.40gb"]}]},
            ("ml.g4dn.xlarge", 2),
            "GPU partition (MIG) profiles",
            id="MIG layout onto another GPU",
        ),
        pytest.param(
            {"ManagedInstanceScaling": {"Status": "ENABLED", "MinInstanceCount": 2, "MaxInstanceCount": 4}},
            ("ml.g5.xlarge", 1),
            "ManagedInstanceScaling keeps 2-4 instances",
            id="new count below managed scaling's minimum",
        ),
        pytest.param(
            {"ModelName": None},
            ("ml.g4dn.xlarge", 2),
            "hosts inference components",
            id="inference components sized for the old type",
        ),
        pytest.param(
            {"InstancePools": [{"InstanceType": "ml.g5.xlarge", "Priority": 1}]},
            ("ml.g4dn.xlarge", 2),
            "InstancePools",
            id="heterogeneous instance pools",
        ),
    ],
)
def test_a_candidate_the_copy_cannot_carry_is_refused_before_any_call(
    sagemaker: Any, stub: Stubber, variant: dict[str, Any], change: tuple[str, int], why: str
) -> None:
    # No response is queued: any AWS call would fail the test.
    with pytest.raises(CandidateRefused, match="variant AllTraffic cannot move") as refused:
        EndpointsClient(sagemaker).create_config_copy(
            source(**variant), NEW, {"AllTraffic": change}, OWNER, SPECS
        )
    assert why in refused.value.message
    assert refused.value.reason == "CandidateIncompatible"
