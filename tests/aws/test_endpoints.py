"""EndpointsClient and endpoint metrics against the embedded AWS: read, copy a config, update, clean up."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import boto3
import pytest

from mlcost.aws.cloudwatch import MetricsReader
from mlcost.aws.endpoints import (
    DEFAULT_BAKE_SECONDS,
    EndpointConfigState,
    EndpointsClient,
    change_hash,
    config_name,
    config_prefix,
    deployment_config,
)
from mlcost.aws.session import AwsSessions
from mlcost.constants import MANAGED_BY_TAG
from mlcost.domain.errors import Conflict, InvalidSpec, NotFound, Throttled
from mlcost.embedded.server import DEFAULT_ACCOUNT_ID, EmbeddedAws

from .conftest import ClientFactory

OWNER = "team-fraud/fraud-scorer"
ROLE = f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:role/sagemaker-execution"
KMS = f"arn:aws:kms:us-east-1:{DEFAULT_ACCOUNT_ID}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
NAME_PATTERN = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")

DATA_CAPTURE = {
    "EnableCapture": True,
    "InitialSamplingPercentage": 20,
    "DestinationS3Uri": "s3://fraud-capture/scorer",
    "KmsKeyId": KMS,
    "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
    "CaptureContentTypeHeader": {"JsonContentTypes": ["application/json"]},
}
VPC = {"SecurityGroupIds": ["sg-0123456789abcdef0"], "Subnets": ["subnet-0123456789abcdef0"]}
EXPLAINER = {
    "ClarifyExplainerConfig": {
        "ShapConfig": {"ShapBaselineConfig": {"ShapBaseline": "1,2,3"}, "NumberOfSamples": 100}
    }
}


@pytest.fixture
def sagemaker(aws_client: ClientFactory) -> Any:
    return aws_client("sagemaker")


@pytest.fixture
def endpoints(sagemaker: Any) -> EndpointsClient:
    return EndpointsClient(sagemaker)


def _model(sm: Any, name: str) -> None:
    sm.create_model(
        ModelName=name,
        PrimaryContainer={"Image": IMAGE, "ModelDataUrl": f"s3://fraud-models/{name}/model.tar.gz"},
        ExecutionRoleArn=ROLE,
    )


def _variant(name: str, model: str, instance_type: str, count: int, weight: float = 1.0) -> dict[str, Any]:
    return {
        "VariantName": name,
        "ModelName": model,
        "InstanceType": instance_type,
        "InitialInstanceCount": count,
        "InitialVariantWeight": weight,
        "VolumeSizeInGB": 30,
        "ModelDataDownloadTimeoutInSeconds": 1200,
        "ContainerStartupHealthCheckTimeoutInSeconds": 600,
    }


def _scorer(sm: Any, *, tags: dict[str, str] | None = None) -> None:
    """fraud-scorer: two variants, data capture to S3 with KMS, in a VPC, with a shadow variant."""
    _model(sm, "scorer-model")
    _model(sm, "scorer-challenger")
    sm.create_endpoint_config(
        EndpointConfigName="fraud-scorer-config",
        ProductionVariants=[
            _variant("AllTraffic", "scorer-model", "ml.m5.2xlarge", 2, 0.9),
            _variant("Challenger", "scorer-challenger", "ml.m5.xlarge", 1, 0.1),
        ],
        ShadowProductionVariants=[_variant("Shadow", "scorer-challenger", "ml.m5.large", 1)],
        DataCaptureConfig=DATA_CAPTURE,
        KmsKeyId=KMS,
        ExplainerConfig=EXPLAINER,
        ExecutionRoleArn=ROLE,
        VpcConfig=VPC,
        EnableNetworkIsolation=True,
        Tags=[
            {"Key": k, "Value": v} for k, v in (tags or {"team": "fraud", "cost-center": "cc-0042"}).items()
        ],
    )
    sm.create_endpoint(EndpointName="fraud-scorer", EndpointConfigName="fraud-scorer-config")


def _async_endpoint(sm: Any) -> None:
    _model(sm, "batchy-model")
    sm.create_endpoint_config(
        EndpointConfigName="batchy-config",
        ProductionVariants=[_variant("AllTraffic", "batchy-model", "ml.c5.2xlarge", 1)],
        AsyncInferenceConfig={
            "ClientConfig": {"MaxConcurrentInvocationsPerInstance": 4},
            "OutputConfig": {"S3OutputPath": "s3://fraud-async/out", "KmsKeyId": KMS},
        },
        KmsKeyId=KMS,
    )
    sm.create_endpoint(EndpointName="batchy", EndpointConfigName="batchy-config")


def _source(endpoints: EndpointsClient, name: str = "fraud-scorer-config") -> EndpointConfigState:
    source = endpoints.describe_config(name)
    assert source is not None
    return source


def _settle(endpoints: EndpointsClient, name: str) -> list[str]:
    """The statuses DescribeEndpoint shows until the endpoint leaves Updating."""
    seen = []
    for _ in range(5):
        state = endpoints.describe(name)
        assert state is not None
        seen.append(state.status)
        if not state.transitioning:
            break
    return seen


# ---------------------------------------------------------------------------- names


@pytest.mark.parametrize(
    "endpoint",
    [
        "fraud-scorer",
        "a",
        "x" * 63,
        "long-endpoint-name-" * 3 + "end",
        "ends-with-hyphen-at-the-cut-" + "y" * 40,
    ],
)
def test_config_names_fit_sagemakers_rules_and_are_deterministic(endpoint: str) -> None:
    name = config_name(endpoint, change_hash("src", {"AllTraffic": ("ml.c5.xlarge", 1)}))

    assert len(name) <= 63
    assert NAME_PATTERN.fullmatch(name)
    assert name.startswith(config_prefix(endpoint))
    assert name == config_name(endpoint, change_hash("src", {"AllTraffic": ("ml.c5.xlarge", 1)}))
    assert name != config_name(endpoint, change_hash("src", {"AllTraffic": ("ml.c5.xlarge", 2)}))


def test_short_names_read_as_endpoint_and_hash_and_long_ones_stay_apart() -> None:
    assert config_name("fraud-scorer", "0123456789abcdef") == "fraud-scorer-mlcost-0123456789"
    # A hash with characters SageMaker refuses is hashed again.
    assert NAME_PATTERN.fullmatch(config_name("fraud-scorer", "v1/ml.c5.xlarge x1"))
    long_a, long_b = (
        "team-fraud-realtime-scoring-endpoint-" + "a" * 20,
        "team-fraud-realtime-scoring-endpoint-" + "b" * 20,
    )
    assert config_prefix(long_a) != config_prefix(long_b)


# ---------------------------------------------------------------------------- read


def test_describe_reports_status_config_and_variants(endpoints: EndpointsClient, sagemaker: Any) -> None:
    _scorer(sagemaker)

    state = endpoints.describe("fraud-scorer")

    assert state is not None
    assert (state.status, state.config_name, state.in_service, state.pending) == (
        "InService",
        "fraud-scorer-config",
        True,
        None,
    )
    main = state.variant("AllTraffic")
    assert main is not None
    assert (main.current_instance_count, main.desired_instance_count, main.serverless) == (2, 2, False)
    assert str(main.current_weight) == "0.9"
    assert state.last_modified is not None and state.last_modified.tzinfo is not None
    assert endpoints.describe("no-such-endpoint") is None


def test_describe_config_reads_variants_tags_and_settings(endpoints: EndpointsClient, sagemaker: Any) -> None:
    _scorer(sagemaker)
    _model(sagemaker, "tiny-model")
    sagemaker.create_endpoint_config(
        EndpointConfigName="tiny-config",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": "tiny-model",
                "ServerlessConfig": {"MemorySizeInMB": 2048, "MaxConcurrency": 5},
            }
        ],
    )

    config = _source(endpoints)
    tiny = endpoints.describe_config("tiny-config")

    assert [(v.name, v.model_name, v.instance_type, v.initial_instance_count) for v in config.variants] == [
        ("AllTraffic", "scorer-model", "ml.m5.2xlarge", 2),
        ("Challenger", "scorer-challenger", "ml.m5.xlarge", 1),
    ]
    assert dict(config.tags) == {"team": "fraud", "cost-center": "cc-0042"}
    assert (config.owner, config.kms_key_id, config.captures_data, config.asynchronous) == (
        None,
        KMS,
        True,
        False,
    )
    assert tiny is not None and tiny.variants[0].serverless is not None
    assert (tiny.variants[0].instance_type, tiny.variants[0].serverless.memory_mb) == (None, 2048)
    assert endpoints.describe_config("no-such-config") is None


# ---------------------------------------------------------------------------- copy


def test_the_copy_changes_only_the_variant_and_keeps_every_other_field(
    endpoints: EndpointsClient, sagemaker: Any
) -> None:
    _scorer(sagemaker)
    source = _source(endpoints)
    name = config_name("fraud-scorer", change_hash(source.name, {"AllTraffic": ("ml.c5.xlarge", 1)}))

    created = endpoints.create_config_copy(source, name, {"AllTraffic": ("ml.c5.xlarge", 1)}, OWNER)

    copy = endpoints.describe_config(name)
    assert created and copy is not None
    expected = {
        k: v
        for k, v in source.raw.items()
        if k not in ("EndpointConfigName", "EndpointConfigArn", "CreationTime")
    }
    expected["ProductionVariants"] = [
        {**source.raw["ProductionVariants"][0], "InstanceType": "ml.c5.xlarge", "InitialInstanceCount": 1},
        source.raw["ProductionVariants"][1],
    ]
    got = {
        k: v
        for k, v in copy.raw.items()
        if k not in ("EndpointConfigName", "EndpointConfigArn", "CreationTime")
    }
    assert got == expected
    # What a user would check by hand: capture, encryption, network and shadow traffic are kept.
    assert (got["DataCaptureConfig"], got["KmsKeyId"], got["VpcConfig"], got["EnableNetworkIsolation"]) == (
        DATA_CAPTURE,
        KMS,
        VPC,
        True,
    )
    assert got["ShadowProductionVariants"][0]["VariantName"] == "Shadow"
    assert got["ExplainerConfig"] == EXPLAINER
    assert dict(copy.tags) == {"team": "fraud", "cost-center": "cc-0042", MANAGED_BY_TAG: OWNER}


def test_the_copy_of_an_async_endpoint_keeps_its_async_settings(
    endpoints: EndpointsClient, sagemaker: Any
) -> None:
    _async_endpoint(sagemaker)
    source = _source(endpoints, "batchy-config")

    endpoints.create_config_copy(
        source, "batchy-mlcost-0000000001", {"AllTraffic": ("ml.c5.xlarge", 2)}, OWNER
    )

    copy = endpoints.describe_config("batchy-mlcost-0000000001")
    assert copy is not None and copy.asynchronous
    assert copy.raw["AsyncInferenceConfig"] == source.raw["AsyncInferenceConfig"]
    assert (copy.variants[0].instance_type, copy.variants[0].initial_instance_count) == ("ml.c5.xlarge", 2)


def test_the_copy_can_move_to_current_gpu_and_graviton_types(
    endpoints: EndpointsClient, sagemaker: Any
) -> None:
    _scorer(sagemaker)

    endpoints.create_config_copy(
        _source(endpoints),
        "fraud-scorer-mlcost-00000000g5",
        {"AllTraffic": ("ml.g5.xlarge", 1), "Challenger": ("ml.c7g.large", 1)},
        OWNER,
    )

    copy = endpoints.describe_config("fraud-scorer-mlcost-00000000g5")
    assert copy is not None
    assert [v.instance_type for v in copy.variants] == ["ml.g5.xlarge", "ml.c7g.large"]


def test_creating_the_same_copy_again_makes_no_call_that_changes_anything(
    endpoints: EndpointsClient, sagemaker: Any, embedded_aws: EmbeddedAws
) -> None:
    _scorer(sagemaker)
    source = _source(endpoints)
    endpoints.create_config_copy(
        source, "fraud-scorer-mlcost-aaaaaaaaaa", {"AllTraffic": ("ml.c5.xlarge", 1)}, OWNER
    )
    embedded_aws.reset_calls()

    again = endpoints.create_config_copy(
        source, "fraud-scorer-mlcost-aaaaaaaaaa", {"AllTraffic": ("ml.c5.xlarge", 1)}, OWNER
    )

    assert again is False
    assert embedded_aws.calls()[("sagemaker", "CreateEndpointConfig")] == 0


def test_a_config_of_that_name_owned_by_someone_else_is_a_conflict_and_left_alone(
    endpoints: EndpointsClient, sagemaker: Any
) -> None:
    _scorer(sagemaker)
    source = _source(endpoints)
    endpoints.create_config_copy(
        source, "fraud-scorer-mlcost-bbbbbbbbbb", {"AllTraffic": ("ml.c5.xlarge", 1)}, "other/epr"
    )

    with pytest.raises(Conflict, match="not the operator's"):
        endpoints.create_config_copy(
            source, "fraud-scorer-mlcost-bbbbbbbbbb", {"AllTraffic": ("ml.c5.xlarge", 1)}, OWNER
        )

    kept = endpoints.describe_config("fraud-scorer-mlcost-bbbbbbbbbb")
    assert kept is not None and kept.owner == "other/epr"


def test_aws_refuses_a_second_config_of_a_name(sagemaker: Any) -> None:
    _scorer(sagemaker)

    with pytest.raises(
        sagemaker.exceptions.ClientError, match="Cannot create already existing endpoint configuration"
    ):
        sagemaker.create_endpoint_config(
            EndpointConfigName="fraud-scorer-config",
            ProductionVariants=[_variant("AllTraffic", "scorer-model", "ml.c5.xlarge", 1)],
        )


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"Canary": ("ml.c5.xlarge", 1)}, "has no production variant Canary"),
        (
            {"AllTraffic": ("ml.c5.xlarge", 1), "Blue": ("ml.c5.xlarge", 1)},
            "variants are AllTraffic, Challenger",
        ),
    ],
)
def test_a_wrong_variant_name_is_refused_before_any_call(
    endpoints: EndpointsClient, sagemaker: Any, embedded_aws: EmbeddedAws, changes: Any, message: str
) -> None:
    _scorer(sagemaker)
    source = _source(endpoints)
    embedded_aws.reset_calls()

    with pytest.raises(InvalidSpec, match=message):
        endpoints.create_config_copy(source, "fraud-scorer-mlcost-cccccccccc", changes, OWNER)

    assert sum(embedded_aws.calls().values()) == 0


def test_a_serverless_variant_has_nothing_to_rightsize(endpoints: EndpointsClient, sagemaker: Any) -> None:
    _model(sagemaker, "tiny-model")
    sagemaker.create_endpoint_config(
        EndpointConfigName="tiny-config",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": "tiny-model",
                "ServerlessConfig": {"MemorySizeInMB": 2048, "MaxConcurrency": 5},
            }
        ],
    )

    with pytest.raises(InvalidSpec, match="serverless"):
        endpoints.create_config_copy(
            _source(endpoints, "tiny-config"),
            "tiny-mlcost-0000000001",
            {"AllTraffic": ("ml.c5.xlarge", 1)},
            OWNER,
        )


# ---------------------------------------------------------------------------- update


def test_an_update_goes_through_updating_to_in_service_on_the_new_config(
    endpoints: EndpointsClient, sagemaker: Any
) -> None:
    _scorer(sagemaker)
    endpoints.create_config_copy(
        _source(endpoints), "fraud-scorer-mlcost-dddddddddd", {"AllTraffic": ("ml.c5.xlarge", 1)}, OWNER
    )

    endpoints.update_endpoint("fraud-scorer", "fraud-scorer-mlcost-dddddddddd", ["fraud-scorer-5xx"])

    during = endpoints.describe("fraud-scorer")
    assert during is not None and during.status == "Updating" and during.transitioning
    assert during.pending is not None and during.pending.config_name == "fraud-scorer-mlcost-dddddddddd"
    assert [(v.name, v.instance_type, v.desired_instance_count) for v in during.pending.variants] == [
        ("AllTraffic", "ml.c5.xlarge", 1),
        ("Challenger", "ml.m5.xlarge", 1),
    ]
    after = endpoints.describe("fraud-scorer")
    assert after is not None
    assert (after.status, after.config_name, after.failure_reason, after.pending) == (
        "InService",
        "fraud-scorer-mlcost-dddddddddd",
        None,
        None,
    )
    main = after.variant("AllTraffic")
    assert main is not None and main.current_instance_count == 1
    deployed = sagemaker.describe_endpoint(EndpointName="fraud-scorer")["LastDeploymentConfig"]
    assert deployed == {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {
                "Type": "ALL_AT_ONCE",
                "WaitIntervalInSeconds": DEFAULT_BAKE_SECONDS,
            },
            # The old fleet (what a rollback returns to) outlives the bake (deployment_config).
            "TerminationWaitInSeconds": DEFAULT_BAKE_SECONDS,
        },
        "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": "fraud-scorer-5xx"}]},
    }


def test_without_alarms_the_update_is_all_at_once_with_no_bake_time() -> None:
    assert deployment_config([]) == {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 0},
            "TerminationWaitInSeconds": 0,
        }
    }
    with pytest.raises(InvalidSpec, match="at most 10"):
        deployment_config([f"alarm-{i}" for i in range(11)])
    with pytest.raises(InvalidSpec, match="0-3600"):
        deployment_config(["alarm"], bake_seconds=3601)


def test_a_failed_update_rolls_back_to_the_old_config_and_says_why(
    endpoints: EndpointsClient, sagemaker: Any, embedded_aws: EmbeddedAws
) -> None:
    _scorer(sagemaker)
    endpoints.create_config_copy(
        _source(endpoints), "fraud-scorer-mlcost-eeeeeeeeee", {"AllTraffic": ("ml.c5.large", 1)}, OWNER
    )
    embedded_aws.fail_endpoint_config("fraud-scorer-mlcost-eeeeeeeeee", "Alarm fraud-scorer-5xx fired")

    endpoints.update_endpoint("fraud-scorer", "fraud-scorer-mlcost-eeeeeeeeee", ["fraud-scorer-5xx"])

    assert _settle(endpoints, "fraud-scorer") == ["Updating", "InService"]
    state = endpoints.describe("fraud-scorer")
    assert state is not None
    assert (state.config_name, state.failure_reason) == (
        "fraud-scorer-config",
        "Alarm fraud-scorer-5xx fired",
    )
    main = state.variant("AllTraffic")
    assert main is not None and main.current_instance_count == 2


def test_an_endpoint_that_is_updating_cannot_be_updated_again(
    endpoints: EndpointsClient, sagemaker: Any
) -> None:
    _scorer(sagemaker)
    source = _source(endpoints)
    endpoints.create_config_copy(
        source, "fraud-scorer-mlcost-ffffffffff", {"AllTraffic": ("ml.c5.xlarge", 1)}, OWNER
    )
    endpoints.update_endpoint("fraud-scorer", "fraud-scorer-mlcost-ffffffffff", [])

    with pytest.raises(InvalidSpec, match="Cannot update in-progress endpoint"):
        endpoints.update_endpoint("fraud-scorer", "fraud-scorer-config", [])


def test_updating_a_missing_endpoint_or_to_a_missing_config_is_not_found(
    endpoints: EndpointsClient, sagemaker: Any
) -> None:
    _scorer(sagemaker)

    with pytest.raises(NotFound):
        endpoints.update_endpoint("no-such-endpoint", "fraud-scorer-config", [])
    with pytest.raises(NotFound):
        endpoints.update_endpoint("fraud-scorer", "no-such-config", [])


def test_changing_the_instance_type_of_an_autoscaled_variant_is_refused(
    endpoints: EndpointsClient, sagemaker: Any, aws_client: ClientFactory
) -> None:
    _scorer(sagemaker)
    aws_client("application-autoscaling").register_scalable_target(
        ServiceNamespace="sagemaker",
        ResourceId="endpoint/fraud-scorer/variant/AllTraffic",
        ScalableDimension="sagemaker:variant:DesiredInstanceCount",
        MinCapacity=1,
        MaxCapacity=4,
    )
    source = _source(endpoints)
    endpoints.create_config_copy(
        source, "fraud-scorer-mlcost-1111111111", {"AllTraffic": ("ml.c5.xlarge", 1)}, OWNER
    )
    endpoints.create_config_copy(
        source, "fraud-scorer-mlcost-2222222222", {"AllTraffic": ("ml.m5.2xlarge", 3)}, OWNER
    )

    with pytest.raises(InvalidSpec, match="deregister it"):
        endpoints.update_endpoint("fraud-scorer", "fraud-scorer-mlcost-1111111111", [])
    # Only the count changes: allowed.
    endpoints.update_endpoint("fraud-scorer", "fraud-scorer-mlcost-2222222222", [])


def test_throttling_reaches_the_caller_as_a_domain_error(
    endpoints: EndpointsClient, sagemaker: Any, embedded_aws: EmbeddedAws
) -> None:
    _scorer(sagemaker)
    embedded_aws.inject_error("sagemaker", "UpdateEndpoint", "ThrottlingException", "Rate exceeded")

    with pytest.raises(Throttled):
        endpoints.update_endpoint("fraud-scorer", "fraud-scorer-config", [])

    state = endpoints.describe("fraud-scorer")
    assert state is not None and state.status == "InService"


# ---------------------------------------------------------------------------- clean-up


def test_owned_configs_are_found_by_name_and_tag_and_foreign_ones_are_not(
    endpoints: EndpointsClient, sagemaker: Any, embedded_aws: EmbeddedAws
) -> None:
    _scorer(sagemaker)
    source = _source(endpoints)
    change = {"AllTraffic": ("ml.c5.xlarge", 1)}
    first = config_name("fraud-scorer", "1" * 16)
    second = config_name("fraud-scorer", "2" * 16)
    endpoints.create_config_copy(source, first, change, OWNER)
    endpoints.create_config_copy(source, second, change, OWNER)
    endpoints.create_config_copy(source, config_name("fraud-scorer", "3" * 16), change, "team-risk/scorer")
    # Look-alikes: another endpoint's, and a config someone named like ours without the tag.
    sagemaker.create_endpoint_config(
        EndpointConfigName=config_name("fraud-scorer-v2", "4" * 16),
        ProductionVariants=[_variant("AllTraffic", "scorer-model", "ml.c5.xlarge", 1)],
        Tags=[{"Key": MANAGED_BY_TAG, "Value": OWNER}],
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName=config_name("fraud-scorer", "5" * 16),
        ProductionVariants=[_variant("AllTraffic", "scorer-model", "ml.c5.xlarge", 1)],
    )
    embedded_aws.reset_calls()

    owned = endpoints.list_owned_configs("fraud-scorer", OWNER)

    assert owned == [first, second]
    calls = embedded_aws.calls()
    assert calls[("sagemaker", "ListEndpointConfigs")] == 1
    assert calls[("sagemaker", "ListTags")] == 4  # the configs named <endpoint>-mlcost-<hash> only


def test_an_orphan_config_is_deleted_and_deleting_it_again_is_fine(
    endpoints: EndpointsClient, sagemaker: Any
) -> None:
    _scorer(sagemaker)
    orphan = config_name("fraud-scorer", "9" * 16)
    endpoints.create_config_copy(_source(endpoints), orphan, {"AllTraffic": ("ml.c5.xlarge", 1)}, OWNER)

    assert endpoints.delete_config(orphan) is True
    assert endpoints.delete_config(orphan) is False
    assert endpoints.list_owned_configs("fraud-scorer", OWNER) == []
    assert endpoints.describe_config("fraud-scorer-config") is not None


# ---------------------------------------------------------------------------- utilisation


def _put(cw: Any, namespace: str, metric: str, variant: str, points: list[tuple[datetime, float]]) -> None:
    cw.put_metric_data(
        Namespace=namespace,
        MetricData=[
            {
                "MetricName": metric,
                "Dimensions": [
                    {"Name": "EndpointName", "Value": "fraud-scorer"},
                    {"Name": "VariantName", "Value": variant},
                ],
                "Timestamp": at,
                "Value": value,
            }
            for at, value in points
        ],
    )


def test_utilisation_of_every_variant_comes_in_one_call(
    aws_client: ClientFactory, embedded_aws: EmbeddedAws
) -> None:
    sessions = AwsSessions(
        default_region=embedded_aws.region,
        endpoint_url=embedded_aws.endpoint_url,
        max_attempts=1,
        base_session=boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing"),
    )
    cw = aws_client("cloudwatch")
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    hours = [now - timedelta(hours=h) for h in (50, 30, 2)]
    _put(
        cw, "AWS/SageMaker", "Invocations", "AllTraffic", list(zip(hours, [600.0, 900.0, 300.0], strict=True))
    )
    _put(
        cw,
        "AWS/SageMaker",
        "InvocationsPerInstance",
        "AllTraffic",
        list(zip(hours, [150, 410, 80], strict=True)),
    )
    _put(
        cw, "AWS/SageMaker", "ModelLatency", "AllTraffic", list(zip(hours, [9000, 41000, 12000], strict=True))
    )
    _put(
        cw,
        "/aws/sagemaker/Endpoints",
        "CPUUtilization",
        "AllTraffic",
        list(zip(hours, [40, 89.6, 20], strict=True)),
    )
    _put(
        cw,
        "/aws/sagemaker/Endpoints",
        "MemoryUtilization",
        "AllTraffic",
        list(zip(hours, [30, 31, 30.1], strict=True)),
    )
    _put(cw, "/aws/sagemaker/Endpoints", "GPUUtilization", "Challenger", [(hours[2], 55.0)])
    _put(cw, "/aws/sagemaker/Endpoints", "CPUUtilization", "AllTraffic", [(now - timedelta(days=20), 800.0)])
    embedded_aws.reset_calls()

    found = MetricsReader(sessions).endpoint_utilization(
        sessions.target(None, None),
        "fraud-scorer",
        ["AllTraffic", "Challenger", "Idle"],
        timedelta(days=14),
        now,
    )

    assert embedded_aws.calls()[("cloudwatch", "GetMetricData")] == 1
    main, challenger, idle = found["AllTraffic"], found["Challenger"], found["Idle"]
    assert main.period == 300
    assert (main.invocations.total, main.invocations.samples) == (Decimal(1800), 3)
    # Invocations over the instances reporting CPUUtilization then (one sample: 1 instance).
    assert main.invocations_per_instance.peak == Decimal(900)
    assert main.model_latency.peak == Decimal(41000)
    # The 800 % of twenty days ago is outside the window.
    assert (main.cpu.peak, main.memory.peak) == (Decimal("89.6"), Decimal(31))
    assert (main.samples, main.first_datapoint, main.has_gpu) == (3, hours[0], False)
    assert (challenger.gpu.peak, challenger.has_gpu, challenger.invocations.total) == (
        Decimal(55),
        True,
        Decimal(0),
    )
    assert (idle.samples, idle.first_datapoint, idle.cpu.peak) == (0, None, None)
