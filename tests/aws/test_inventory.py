"""InventoryReader against the embedded AWS: what it reads, and how few calls it takes."""

from __future__ import annotations

import gzip
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.sagemaker.models import sagemaker_backends

from mlcost.api.v1alpha1.mlcostpolicy import ResourceType
from mlcost.aws.config_cache import (
    CacheKey,
    ConfigVariant,
    EndpointConfig,
    FileConfigStore,
    UnusableCache,
    decode,
    encode,
)
from mlcost.aws.inventory import InventoryReader
from mlcost.aws.session import AwsSessions, AwsTarget
from mlcost.domain.errors import AccessDenied, MlcostError, Throttled
from mlcost.domain.inventory import EndpointKind, Inventory, SageMakerResource, Variant
from mlcost.embedded.server import DEFAULT_ACCOUNT_ID, EmbeddedAws

from .conftest import ClientFactory

ROLE_ARN = "arn:aws:iam::123456789012:role/sagemaker-execution"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
TEAM = {"team": "fraud", "cost-center": "cc-0042"}


# ---------------------------------------------------------------------------- fixtures, seeding


@pytest.fixture(scope="module")
def base_session() -> boto3.Session:
    # One botocore session for the module: it loads SageMaker's large service model once.
    return boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing")


@pytest.fixture
def sessions(embedded_aws: EmbeddedAws, base_session: boto3.Session) -> AwsSessions:
    return AwsSessions(
        default_region=embedded_aws.region,
        endpoint_url=embedded_aws.endpoint_url,
        max_attempts=1,
        base_session=base_session,
    )


@pytest.fixture
def target(sessions: AwsSessions) -> AwsTarget:
    return sessions.target(None, None)


@pytest.fixture
def reader(sessions: AwsSessions) -> InventoryReader:
    return InventoryReader(sessions)


@pytest.fixture
def sagemaker(aws_client: ClientFactory) -> Any:
    return aws_client("sagemaker")


def _tags(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def _model(sm: Any, name: str = "model") -> str:
    sm.create_model(ModelName=name, PrimaryContainer={"Image": IMAGE}, ExecutionRoleArn=ROLE_ARN)
    return name


def _config(sm: Any, name: str, variants: list[dict[str, Any]], model: str = "model") -> None:
    sm.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[{"ModelName": model, **v} for v in variants],
        # Tagged on purpose: moto's tagging API answers tagged configs with a malformed ARN.
        Tags=_tags(TEAM),
    )


def _instances(variant: str, instance_type: str, count: int) -> dict[str, Any]:
    return {"VariantName": variant, "InstanceType": instance_type, "InitialInstanceCount": count}


def _training_job(
    sm: Any, name: str, *, spot: bool, tags: dict[str, str], instance: str = "ml.m5.xlarge"
) -> None:
    stopping = {"MaxRuntimeInSeconds": 4 * 3600}
    if spot:
        stopping["MaxWaitTimeInSeconds"] = 8 * 3600
    sm.create_training_job(
        TrainingJobName=name,
        AlgorithmSpecification={"TrainingImage": IMAGE, "TrainingInputMode": "File"},
        RoleArn=ROLE_ARN,
        OutputDataConfig={"S3OutputPath": "s3://models/output"},
        ResourceConfig={"InstanceType": instance, "InstanceCount": 2, "VolumeSizeInGB": 50},
        StoppingCondition=stopping,
        EnableManagedSpotTraining=spot,
        Tags=_tags(tags),
    )


def _by_name(inventory: Inventory, type_: ResourceType) -> dict[str, SageMakerResource]:
    return {r.name: r for r in inventory.of_type(type_)}


def _sweep_calls(aws: EmbeddedAws) -> Counter[tuple[str, str]]:
    # STS GetCallerIdentity is asked once per AwsSessions, not per sweep.
    return Counter({k: v for k, v in aws.calls().items() if k[0] != "sts"})


def _now() -> datetime:
    return datetime.now(UTC)


# ---------------------------------------------------------------------------- what a read returns


def test_read_returns_every_resource_with_what_the_rules_need(
    reader: InventoryReader, target: AwsTarget, sagemaker: Any, embedded_aws: EmbeddedAws
) -> None:
    sm = sagemaker
    _model(sm)
    _config(
        sm,
        "scorer-config",
        [_instances("AllTraffic", "ml.m5.xlarge", 2), _instances("Canary", "ml.c5.xlarge", 1)],
    )
    sm.create_endpoint(EndpointName="fraud-scorer", EndpointConfigName="scorer-config", Tags=_tags(TEAM))
    _config(
        sm,
        "serverless-config",
        [{"VariantName": "AllTraffic", "ServerlessConfig": {"MemorySizeInMB": 2048, "MaxConcurrency": 5}}],
    )
    sm.create_endpoint(EndpointName="fraud-serverless", EndpointConfigName="serverless-config")
    sm.create_notebook_instance(
        NotebookInstanceName="fraud-eda", InstanceType="ml.t3.medium", RoleArn=ROLE_ARN, Tags=_tags(TEAM)
    )
    sm.create_notebook_instance(
        NotebookInstanceName="gpu-leftover", InstanceType="ml.p3.2xlarge", RoleArn=ROLE_ARN
    )
    sm.stop_notebook_instance(NotebookInstanceName="gpu-leftover")
    _training_job(sm, "xgb-spot", spot=True, tags=TEAM)
    _training_job(sm, "xgb-on-demand", spot=False, tags={}, instance="ml.g4dn.xlarge")
    started = (_now() - timedelta(hours=6)).replace(microsecond=0)
    embedded_aws.hold_training_jobs(["dl-running"], started_at=started)
    _training_job(sm, "dl-running", spot=False, tags={"team": "vision"}, instance="ml.p3.2xlarge")

    inventory = reader.read(target, _now())

    assert (inventory.account_id, inventory.region) == (DEFAULT_ACCOUNT_ID, embedded_aws.region)
    endpoints = _by_name(inventory, ResourceType.ENDPOINT)
    scorer = endpoints["fraud-scorer"]
    assert (scorer.status, dict(scorer.tags), scorer.endpoint_config) == ("InService", TEAM, "scorer-config")
    assert scorer.variants == (
        Variant("AllTraffic", "ml.m5.xlarge", 2),
        Variant("Canary", "ml.c5.xlarge", 1),
    )
    assert (scorer.instance_type, scorer.instance_count) == ("ml.m5.xlarge", 3)
    assert scorer.created is not None
    assert scorer.started == scorer.created
    serverless = endpoints["fraud-serverless"]
    assert serverless.variants == (Variant("AllTraffic", None, 0, serverless=True),)
    assert (serverless.instance_type, dict(serverless.tags)) == (None, {})

    notebooks = _by_name(inventory, ResourceType.NOTEBOOK_INSTANCE)
    eda, leftover = notebooks["fraud-eda"], notebooks["gpu-leftover"]
    assert (eda.status, eda.instance_type, dict(eda.tags)) == ("InService", "ml.t3.medium", TEAM)
    assert eda.started is not None
    assert (leftover.status, leftover.instance_type, dict(leftover.tags)) == ("Stopped", "ml.p3.2xlarge", {})
    assert leftover.started is None  # not running

    jobs = _by_name(inventory, ResourceType.TRAINING_JOB)
    assert set(jobs) == {"xgb-spot", "xgb-on-demand", "dl-running"}
    spot, on_demand, running = jobs["xgb-spot"], jobs["xgb-on-demand"], jobs["dl-running"]
    assert (spot.status, spot.managed_spot, spot.instance_type, spot.instance_count) == (
        "Completed",
        True,
        "ml.m5.xlarge",
        2,
    )
    assert (spot.max_runtime_seconds, dict(spot.tags)) == (4 * 3600, TEAM)
    assert (on_demand.managed_spot, on_demand.instance_type, dict(on_demand.tags)) == (
        False,
        "ml.g4dn.xlarge",
        {},
    )
    assert (running.status, running.started, dict(running.tags)) == (
        "InProgress",
        started,
        {"team": "vision"},
    )
    assert running.transitional is False


def test_each_endpoint_kind_is_read_from_its_config(
    reader: InventoryReader, target: AwsTarget, sagemaker: Any, embedded_aws: EmbeddedAws
) -> None:
    sm = sagemaker
    _model(sm)
    _config(sm, "realtime", [_instances("AllTraffic", "ml.m5.xlarge", 1)])
    sm.create_endpoint_config(
        EndpointConfigName="async",
        ProductionVariants=[{"ModelName": "model", **_instances("AllTraffic", "ml.m5.xlarge", 2)}],
        AsyncInferenceConfig={
            "OutputConfig": {"S3OutputPath": "s3://fraud/async-out"},
            "ClientConfig": {"MaxConcurrentInvocationsPerInstance": 4},
        },
    )
    _config(
        sm,
        "serverless",
        [{"VariantName": "AllTraffic", "ServerlessConfig": {"MemorySizeInMB": 2048, "MaxConcurrency": 5}}],
    )
    # Endpoints for inference components name no model in their variants (the models are
    # placed with CreateInferenceComponent) and need an execution role.
    sm.create_endpoint_config(
        EndpointConfigName="components",
        ExecutionRoleArn=ROLE_ARN,
        ProductionVariants=[_instances("AllTraffic", "ml.g5.xlarge", 1)],
    )
    for name in ("realtime", "async", "serverless", "components"):
        sm.create_endpoint(EndpointName=f"fraud-{name}", EndpointConfigName=name)
    # What AWS answers and the reader relies on: the config carries AsyncInferenceConfig,
    # Search's Endpoint record does not (it is not in botocore's Endpoint shape).
    assert sm.describe_endpoint_config(EndpointConfigName="async")["AsyncInferenceConfig"] == {
        "OutputConfig": {"S3OutputPath": "s3://fraud/async-out"},
        "ClientConfig": {"MaxConcurrentInvocationsPerInstance": 4},
    }
    assert "AsyncInferenceConfig" not in sm.describe_endpoint_config(EndpointConfigName="realtime")
    assert (
        "ModelName"
        not in sm.describe_endpoint_config(EndpointConfigName="components")["ProductionVariants"][0]
    )
    embedded_aws.reset_calls()

    endpoints = _by_name(reader.read(target, _now()), ResourceType.ENDPOINT)

    assert {name: e.endpoint_kind for name, e in endpoints.items()} == {
        "fraud-realtime": EndpointKind.REAL_TIME,
        "fraud-async": EndpointKind.ASYNCHRONOUS,
        "fraud-serverless": EndpointKind.SERVERLESS,
        "fraud-components": EndpointKind.INFERENCE_COMPONENTS,
    }
    assert endpoints["fraud-async"].variants == (Variant("AllTraffic", "ml.m5.xlarge", 2),)
    assert endpoints["fraud-components"].variants == (
        Variant("AllTraffic", "ml.g5.xlarge", 1, inference_components=True),
    )
    # The kind costs no call beyond the one DescribeEndpointConfig per config.
    assert _sweep_calls(embedded_aws)[("sagemaker", "DescribeEndpointConfig")] == 4


def test_training_and_billable_seconds_are_read(
    reader: InventoryReader, target: AwsTarget, sagemaker: Any
) -> None:
    _training_job(sagemaker, "xgb-spot", spot=True, tags=TEAM)
    # moto never reports these; set them on its job the way SageMaker reports a finished
    # spot job that was billed for a third of its training time.
    job = sagemaker_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].training_jobs["xgb-spot"]
    setattr(job, "training_time_in_seconds", 3600)  # noqa: B010 (moto declares no such field)
    setattr(job, "billable_time_in_seconds", 1200)  # noqa: B010

    (found,) = reader.read(target, _now()).of_type(ResourceType.TRAINING_JOB)

    assert (found.training_seconds, found.billable_seconds) == (3600, 1200)


def test_training_jobs_are_those_of_the_lookback_plus_unfinished_ones(
    sessions: AwsSessions, target: AwsTarget, sagemaker: Any, embedded_aws: EmbeddedAws
) -> None:
    _training_job(sagemaker, "finished", spot=True, tags=TEAM)
    embedded_aws.hold_training_jobs(["still-running"])
    _training_job(sagemaker, "still-running", spot=True, tags=TEAM)
    in_40_days = _now() + timedelta(days=40)

    default = InventoryReader(sessions).read(target, in_40_days)
    longer = InventoryReader(sessions, training_lookback=timedelta(days=60)).read(target, in_40_days)

    assert [r.name for r in default.of_type(ResourceType.TRAINING_JOB)] == ["still-running"]
    assert {r.name for r in longer.of_type(ResourceType.TRAINING_JOB)} == {"finished", "still-running"}


def test_an_endpoint_whose_config_was_deleted_is_still_read(
    reader: InventoryReader, target: AwsTarget, sagemaker: Any, embedded_aws: EmbeddedAws
) -> None:
    _model(sagemaker)
    _config(sagemaker, "gone", [_instances("AllTraffic", "ml.m5.xlarge", 2)])
    sagemaker.create_endpoint(EndpointName="orphan", EndpointConfigName="gone")
    sagemaker.delete_endpoint_config(EndpointConfigName="gone")

    (orphan,) = reader.read(target, _now()).of_type(ResourceType.ENDPOINT)
    embedded_aws.reset_calls()
    reader.read(target, _now())

    # The count is live; the type was only in the config: unknown, never guessed.
    assert orphan.variants == (Variant("AllTraffic", None, 2),)
    assert (orphan.endpoint_config, orphan.instance_type) == ("gone", None)
    assert orphan.endpoint_kind is None  # so the idle rule never judges it
    assert _sweep_calls(embedded_aws)[("sagemaker", "DescribeEndpointConfig")] == 0


# ---------------------------------------------------------------------------- calls per sweep


def test_calls_per_read_are_pages_not_resources(
    reader: InventoryReader, target: AwsTarget, sagemaker: Any, embedded_aws: EmbeddedAws
) -> None:
    count = 101  # two pages of each
    _model(sagemaker)
    configs = [f"config-{i}" for i in range(3)]
    for name, instance_type in zip(configs, ("ml.m5.xlarge", "ml.c5.xlarge", "ml.g4dn.xlarge"), strict=True):
        _config(sagemaker, name, [_instances("AllTraffic", instance_type, 1)])
    for i in range(count):
        tags = _tags({"team": f"team-{i % 20}"})
        sagemaker.create_endpoint(EndpointName=f"ep-{i}", EndpointConfigName=configs[i % 3], Tags=tags)
        sagemaker.create_notebook_instance(
            NotebookInstanceName=f"nb-{i}", InstanceType="ml.t3.medium", RoleArn=ROLE_ARN, Tags=tags
        )
        _training_job(sagemaker, f"job-{i}", spot=i % 2 == 0, tags={"team": f"team-{i % 20}"})
    embedded_aws.reset_calls()

    first = reader.read(target, _now())
    first_calls = _sweep_calls(embedded_aws)
    embedded_aws.reset_calls()
    steady = reader.read(target, _now())
    steady_calls = _sweep_calls(embedded_aws)

    assert len(first.resources) == len(steady.resources) == 3 * count
    assert {r.tags["team"] for r in steady.resources} == {f"team-{i}" for i in range(20)}
    pages = {
        ("sagemaker", "Search"): 2 + 2,  # endpoints, training jobs
        ("sagemaker", "ListNotebookInstances"): 2,
        ("resourcegroupstaggingapi", "GetResources"): 2,
    }
    # One describe per distinct endpoint config, once: 3, not 101.
    assert first_calls == Counter({**pages, ("sagemaker", "DescribeEndpointConfig"): 3})
    assert steady_calls == Counter(pages)


def test_an_endpoint_moved_to_another_config_is_described_once(
    reader: InventoryReader, target: AwsTarget, sagemaker: Any, embedded_aws: EmbeddedAws
) -> None:
    _model(sagemaker)
    _config(sagemaker, "m5", [_instances("AllTraffic", "ml.m5.xlarge", 2)])
    _config(sagemaker, "c5", [_instances("AllTraffic", "ml.c5.xlarge", 1)])
    sagemaker.create_endpoint(EndpointName="scorer", EndpointConfigName="m5")
    reader.read(target, _now())
    embedded_aws.set_transition_delay(0)
    sagemaker.update_endpoint(EndpointName="scorer", EndpointConfigName="c5")
    sagemaker.describe_endpoint(EndpointName="scorer")  # the embedded AWS completes the update
    embedded_aws.reset_calls()

    (moved,) = reader.read(target, _now()).of_type(ResourceType.ENDPOINT)
    after_update = _sweep_calls(embedded_aws)[("sagemaker", "DescribeEndpointConfig")]
    embedded_aws.reset_calls()
    reader.read(target, _now())

    assert (moved.endpoint_config, moved.variants) == ("c5", (Variant("AllTraffic", "ml.c5.xlarge", 1),))
    assert after_update == 1
    assert _sweep_calls(embedded_aws)[("sagemaker", "DescribeEndpointConfig")] == 0


def test_configs_of_deleted_endpoints_are_forgotten(
    reader: InventoryReader, target: AwsTarget, sagemaker: Any, embedded_aws: EmbeddedAws
) -> None:
    _model(sagemaker)
    _config(sagemaker, "shared", [_instances("AllTraffic", "ml.m5.xlarge", 1)])
    sagemaker.create_endpoint(EndpointName="first", EndpointConfigName="shared")
    reader.read(target, _now())
    sagemaker.delete_endpoint(EndpointName="first")
    reader.read(target, _now())  # no endpoint uses "shared" any more: the reader lets it go
    sagemaker.create_endpoint(EndpointName="second", EndpointConfigName="shared")
    embedded_aws.reset_calls()

    reader.read(target, _now())

    assert _sweep_calls(embedded_aws)[("sagemaker", "DescribeEndpointConfig")] == 1


def test_an_empty_account_costs_three_calls(
    reader: InventoryReader, target: AwsTarget, embedded_aws: EmbeddedAws
) -> None:
    inventory = reader.read(target, _now())

    assert inventory.resources == ()
    # No notebook listed: no tagging call.
    assert _sweep_calls(embedded_aws) == Counter(
        {("sagemaker", "Search"): 2, ("sagemaker", "ListNotebookInstances"): 1}
    )


# ---------------------------------------------------------------------------- faults


@pytest.mark.parametrize(
    ("service", "operation", "code", "error"),
    [
        ("sagemaker", "Search", "AccessDeniedException", AccessDenied),
        ("sagemaker", "ListNotebookInstances", "ThrottlingException", Throttled),
        ("resourcegroupstaggingapi", "GetResources", "ThrottlingException", Throttled),
        ("sagemaker", "DescribeEndpointConfig", "AccessDeniedException", AccessDenied),
    ],
)
def test_aws_errors_become_domain_errors_and_the_next_read_recovers(
    reader: InventoryReader,
    target: AwsTarget,
    sagemaker: Any,
    embedded_aws: EmbeddedAws,
    service: str,
    operation: str,
    code: str,
    error: type[MlcostError],
) -> None:
    _model(sagemaker)
    _config(sagemaker, "config", [_instances("AllTraffic", "ml.m5.xlarge", 1)])
    sagemaker.create_endpoint(EndpointName="scorer", EndpointConfigName="config")
    sagemaker.create_notebook_instance(
        NotebookInstanceName="eda", InstanceType="ml.t3.medium", RoleArn=ROLE_ARN, Tags=_tags(TEAM)
    )
    embedded_aws.inject_error(service, operation, code)

    with pytest.raises(error, match=operation):
        reader.read(target, _now())
    inventory = reader.read(target, _now())

    endpoint = _by_name(inventory, ResourceType.ENDPOINT)["scorer"]
    assert endpoint.instance_type == "ml.m5.xlarge"
    assert dict(_by_name(inventory, ResourceType.NOTEBOOK_INSTANCE)["eda"].tags) == TEAM


# ---------------------------------------------------------------------------- the embedded Search


@pytest.fixture
def five_jobs(sagemaker: Any, embedded_aws: EmbeddedAws) -> Any:
    embedded_aws.hold_training_jobs(["job-3"])
    for i in range(5):
        tags = {"team": "fraud"} if i % 2 == 0 else {}
        _training_job(
            sagemaker,
            f"job-{i}",
            spot=i < 2,
            tags=tags,
            instance="ml.p3.2xlarge" if i == 4 else "ml.m5.xlarge",
        )
    return sagemaker


def _names(sm: Any, expression: dict[str, Any] | None = None, **request: Any) -> list[str]:
    if expression is not None:
        request["SearchExpression"] = expression
    results = sm.search(Resource="TrainingJob", SortBy="TrainingJobName", SortOrder="Ascending", **request)
    return [r["TrainingJob"]["TrainingJobName"] for r in results["Results"]]


def _filter(name: str, operator: str, value: str | None = None) -> dict[str, Any]:
    return {"Filters": [{"Name": name, "Operator": operator, **({"Value": value} if value else {})}]}


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        (
            _filter("CreationTime", "GreaterThan", "2020-01-01T00:00:00"),
            ["job-0", "job-1", "job-2", "job-3", "job-4"],
        ),
        (_filter("CreationTime", "LessThan", "2020-01-01T00:00:00"), []),
        (_filter("TrainingJobStatus", "Equals", "InProgress"), ["job-3"]),
        (_filter("TrainingJobStatus", "In", "InProgress,Stopping"), ["job-3"]),
        (_filter("EnableManagedSpotTraining", "Equals", "true"), ["job-0", "job-1"]),
        (_filter("ResourceConfig.InstanceType", "Equals", "ml.p3.2xlarge"), ["job-4"]),
        (
            _filter("StoppingCondition.MaxRuntimeInSeconds", "GreaterThanOrEqualTo", "14400"),
            ["job-0", "job-1", "job-2", "job-3", "job-4"],
        ),
        (_filter("Tags.team", "Equals", "fraud"), ["job-0", "job-2", "job-4"]),
        (_filter("Tags.team", "NotExists"), ["job-1", "job-3"]),
        (_filter("TrainingJobName", "Contains", "-4"), ["job-4"]),
        (
            {
                "Filters": [
                    {"Name": "EnableManagedSpotTraining", "Operator": "Equals", "Value": "true"},
                    {"Name": "TrainingJobStatus", "Operator": "Equals", "Value": "InProgress"},
                ],
                "Operator": "Or",
            },
            ["job-0", "job-1", "job-3"],
        ),
        (
            {
                "SubExpressions": [
                    _filter("Tags.team", "Exists"),
                    _filter("ResourceConfig.InstanceType", "NotEquals", "ml.p3.2xlarge"),
                ]
            },
            ["job-0", "job-2"],
        ),
    ],
)
def test_embedded_search_follows_the_reference(
    five_jobs: Any, expression: dict[str, Any], expected: list[str]
) -> None:
    assert _names(five_jobs, expression, MaxResults=100) == expected


def test_embedded_search_pages_and_sorts(five_jobs: Any) -> None:
    first = five_jobs.search(
        Resource="TrainingJob", MaxResults=2, SortBy="TrainingJobName", SortOrder="Descending"
    )
    second = five_jobs.search(
        Resource="TrainingJob",
        MaxResults=2,
        SortBy="TrainingJobName",
        SortOrder="Descending",
        NextToken=first["NextToken"],
    )
    third = five_jobs.search(
        Resource="TrainingJob",
        MaxResults=2,
        SortBy="TrainingJobName",
        SortOrder="Descending",
        NextToken=second["NextToken"],
    )

    pages = [
        [r["TrainingJob"]["TrainingJobName"] for r in page["Results"]] for page in (first, second, third)
    ]
    assert pages == [["job-4", "job-3"], ["job-2", "job-1"], ["job-0"]]
    assert "NextToken" not in third
    assert third["Results"][0]["TrainingJob"]["Tags"] == [{"Key": "team", "Value": "fraud"}]


def test_embedded_search_rejects_ordering_on_text(five_jobs: Any) -> None:
    with pytest.raises(five_jobs.exceptions.ClientError, match="not supported for text property"):
        _names(five_jobs, _filter("TrainingJobName", "GreaterThan", "job-2"))


# ---------------------------------------------------------------------------- endpoint configs


def _endpoints(sm: Any, count: int, *, prefix: str = "ep") -> list[str]:
    """`count` endpoints, each on its own config; the config names, in creation order."""
    _model(sm)
    names = []
    for i in range(count):
        name = f"{prefix}-config-{i:03d}"
        _config(sm, name, [_instances("AllTraffic", "ml.m5.xlarge", 1 + i % 3)])
        sm.create_endpoint(EndpointName=f"{prefix}-{i:03d}", EndpointConfigName=name)
        names.append(name)
    return names


def _describes(aws: EmbeddedAws) -> int:
    return _sweep_calls(aws)[("sagemaker", "DescribeEndpointConfig")]


def test_a_read_without_endpoint_configs_costs_the_pages_alone(
    reader: InventoryReader, target: AwsTarget, sagemaker: Any, embedded_aws: EmbeddedAws
) -> None:
    _endpoints(sagemaker, 5)
    embedded_aws.reset_calls()

    tag_only = reader.read(target, _now(), endpoint_configs=False)
    without = _describes(embedded_aws)
    full = reader.read(target, _now(), endpoint_configs=True)
    with_configs = _describes(embedded_aws) - without
    embedded_aws.reset_calls()
    later_tag_only = reader.read(target, _now(), endpoint_configs=False)

    assert without == 0
    first = _by_name(tag_only, ResourceType.ENDPOINT)["ep-000"]
    assert (first.instance_type, first.endpoint_kind) == (None, None)
    assert first.config_note is not None and "no rule" in first.config_note
    assert tag_only.unread_configs == {}  # not wanted is not missing
    assert with_configs == 5
    assert {r.instance_type for r in full.of_type(ResourceType.ENDPOINT)} == {"ml.m5.xlarge"}
    # What was described once is used by later reads that do not ask for configs, at no cost.
    assert _describes(embedded_aws) == 0
    assert {r.endpoint_kind for r in later_tag_only.of_type(ResourceType.ENDPOINT)} == {
        EndpointKind.REAL_TIME
    }


def test_configs_are_described_concurrently_once_each_in_a_deterministic_order(
    sessions: AwsSessions, target: AwsTarget, sagemaker: Any, embedded_aws: EmbeddedAws
) -> None:
    configs = _endpoints(sagemaker, 30)
    in_flight = peak = 0
    lock = threading.Lock()

    def enter(**_: Any) -> None:
        nonlocal in_flight, peak
        with lock:
            in_flight += 1
            peak = max(peak, in_flight)
        time.sleep(0.02)  # as long as a call to AWS: the workers overlap

    def leave(**_: Any) -> None:
        nonlocal in_flight
        with lock:
            in_flight -= 1

    client = sessions.client("sagemaker", target)
    client.meta.events.register("before-call.sagemaker.DescribeEndpointConfig", enter)
    client.meta.events.register("after-call.sagemaker.DescribeEndpointConfig", leave)
    embedded_aws.reset_calls()

    inventory = InventoryReader(sessions, describe_concurrency=4, describe_rate=1000).read(target, _now())
    again = InventoryReader(sessions, describe_concurrency=4, describe_rate=1000).read(target, _now())

    assert _describes(embedded_aws) == 2 * len(configs)  # once per config per (new) reader
    assert 1 < peak <= 4
    endpoints = inventory.of_type(ResourceType.ENDPOINT)
    assert [e.endpoint_config for e in endpoints] == configs  # Search's order, not completion order
    assert endpoints == again.of_type(ResourceType.ENDPOINT)
    assert [e.instance_count for e in endpoints[:3]] == [1, 2, 3]


def test_throttled_amid_the_describes_the_read_completes_and_the_next_resumes(
    sessions: AwsSessions,
    target: AwsTarget,
    sagemaker: Any,
    embedded_aws: EmbeddedAws,
    caplog: pytest.LogCaptureFixture,
) -> None:
    configs = _endpoints(sagemaker, 12)
    reader = InventoryReader(sessions, describe_concurrency=3, describe_rate=1000)
    embedded_aws.reset_calls()
    # After 4 answers, every DescribeEndpointConfig is throttled (max_attempts=1: no retry).
    answered = 0

    def throttle_after_four(**_: Any) -> None:
        nonlocal answered
        answered += 1
        if answered == 5:
            embedded_aws.inject_error(
                "sagemaker", "DescribeEndpointConfig", "ThrottlingException", count=None
            )

    sessions.client("sagemaker", target).meta.events.register(
        "before-call.sagemaker.DescribeEndpointConfig", throttle_after_four
    )

    first = reader.read(target, _now())
    first_describes = _describes(embedded_aws)
    embedded_aws.clear_errors()
    embedded_aws.reset_calls()
    second = reader.read(target, _now())

    unread = set(first.unread_configs)
    read = {e.endpoint_config for e in first.of_type(ResourceType.ENDPOINT) if e.instance_type}
    assert len(first.of_type(ResourceType.ENDPOINT)) == 12  # nothing lost
    assert unread and read and unread | read == set(configs) and not unread & read
    # Describing stops at the throttling: at most the calls then in flight are refused.
    assert first_describes <= 4 + 3
    assert all("Throttling" in why or "throttling" in why for why in first.unread_configs.values())
    skipped = _by_name(first, ResourceType.ENDPOINT)[f"ep-{configs.index(min(unread)):03d}"]
    assert (
        skipped.endpoint_kind is None
        and skipped.config_note
        and "read again next sweep" in skipped.config_note
    )
    assert "endpoint configs were not read this sweep" in caplog.text
    # The next read describes only what the first did not: nothing twice.
    assert _describes(embedded_aws) == len(unread)
    assert second.unread_configs == {}
    assert {e.instance_type for e in second.of_type(ResourceType.ENDPOINT)} == {"ml.m5.xlarge"}


def test_a_config_deleted_between_search_and_describe(
    reader: InventoryReader, sessions: AwsSessions, target: AwsTarget, sagemaker: Any
) -> None:
    (config,) = _endpoints(sagemaker, 1)

    def delete_it_first(**_: Any) -> None:
        sagemaker.delete_endpoint_config(EndpointConfigName=config)

    sessions.client("sagemaker", target).meta.events.register(
        "before-call.sagemaker.DescribeEndpointConfig", delete_it_first
    )
    inventory = reader.read(target, _now())

    (endpoint,) = inventory.of_type(ResourceType.ENDPOINT)
    assert (endpoint.instance_type, endpoint.endpoint_kind) == (None, None)
    assert endpoint.config_note == "was deleted: SageMaker could not find it"
    assert inventory.unread_configs == {}  # deleted is an answer, not a fault to retry


# ---------------------------------------------------------------------------- the persisted cache


def _stored(directory: Path) -> list[Path]:
    return sorted(directory.glob("endpoint-configs-*.json.gz"))


def test_a_restarted_reader_describes_nothing_again(
    sessions: AwsSessions, target: AwsTarget, sagemaker: Any, embedded_aws: EmbeddedAws, tmp_path: Path
) -> None:
    _endpoints(sagemaker, 6)
    client = sessions.client("sagemaker", target)
    client.create_endpoint_config(
        EndpointConfigName="queue-config",
        ProductionVariants=[{"ModelName": "model", **_instances("AllTraffic", "ml.c5.xlarge", 1)}],
        AsyncInferenceConfig={"OutputConfig": {"S3OutputPath": "s3://out/async"}},
    )
    client.create_endpoint_config(
        EndpointConfigName="components-config",
        ProductionVariants=[_instances("AllTraffic", "ml.g5.xlarge", 1)],
        ExecutionRoleArn=ROLE_ARN,
    )
    sagemaker.create_endpoint(EndpointName="queue", EndpointConfigName="queue-config")
    sagemaker.create_endpoint(EndpointName="components", EndpointConfigName="components-config")
    store = FileConfigStore(tmp_path)
    InventoryReader(sessions, store=store).read(target, _now())
    embedded_aws.reset_calls()
    steady = InventoryReader(sessions, store=store)
    steady.read(target, _now())
    embedded_aws.reset_calls()

    restarted = InventoryReader(sessions, store=FileConfigStore(tmp_path)).read(target, _now())
    restarted_tag_only = InventoryReader(sessions, store=FileConfigStore(tmp_path)).read(
        target, _now(), endpoint_configs=False
    )

    assert len(_stored(tmp_path)) == 1
    assert _describes(embedded_aws) == 0
    # Not asked to describe, yet complete: every config came from the store.
    assert restarted_tag_only.endpoint_configs_read
    assert restarted_tag_only.of_type(ResourceType.ENDPOINT) == restarted.of_type(ResourceType.ENDPOINT)
    kinds = {e.name: e.endpoint_kind for e in restarted.of_type(ResourceType.ENDPOINT)}
    assert kinds["queue"] is EndpointKind.ASYNCHRONOUS
    assert kinds["components"] is EndpointKind.INFERENCE_COMPONENTS
    assert kinds["ep-000"] is EndpointKind.REAL_TIME
    assert _by_name(restarted, ResourceType.ENDPOINT)["ep-001"].instance_count == 2


def test_an_endpoint_modified_after_its_config_was_stored_is_described_again(
    sessions: AwsSessions, target: AwsTarget, sagemaker: Any, embedded_aws: EmbeddedAws, tmp_path: Path
) -> None:
    _endpoints(sagemaker, 2)
    InventoryReader(sessions, store=FileConfigStore(tmp_path)).read(target, _now())
    # The name is deleted and re-created with another type; the endpoint moves to it.
    sagemaker.delete_endpoint_config(EndpointConfigName="ep-config-000")
    _config(sagemaker, "ep-config-000", [_instances("AllTraffic", "ml.c5.2xlarge", 1)])
    embedded_aws.set_transition_delay(0)
    time.sleep(1.1)  # LastModifiedTime has whole seconds
    sagemaker.update_endpoint(EndpointName="ep-000", EndpointConfigName="ep-config-000")
    sagemaker.describe_endpoint(EndpointName="ep-000")
    embedded_aws.reset_calls()

    restarted = InventoryReader(sessions, store=FileConfigStore(tmp_path)).read(target, _now())

    assert _describes(embedded_aws) == 1
    assert _by_name(restarted, ResourceType.ENDPOINT)["ep-000"].instance_type == "ml.c5.2xlarge"


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b"\x00not gzip at all", id="corrupt"),
        pytest.param(gzip.compress(b'{"schema": "someone-else/v9"}'), id="foreign-schema"),
        pytest.param(
            encode(
                CacheKey("999999999999", "us-east-1"),
                {"ep-config-000": EndpointConfig({}, True, False, datetime.now(UTC) + timedelta(days=1))},
            ),
            id="another-account",
        ),
    ],
)
def test_an_unusable_cache_file_is_ignored_with_a_warning_and_rebuilt(
    sessions: AwsSessions,
    target: AwsTarget,
    sagemaker: Any,
    embedded_aws: EmbeddedAws,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    content: bytes,
) -> None:
    _endpoints(sagemaker, 3)
    store = FileConfigStore(tmp_path)
    key = CacheKey(DEFAULT_ACCOUNT_ID, target.region, sessions.endpoint_url)
    store.path(key).write_bytes(content)
    embedded_aws.reset_calls()

    inventory = InventoryReader(sessions, store=store).read(target, _now())

    assert "Ignoring the endpoint-config cache" in caplog.text
    assert _describes(embedded_aws) == 3
    assert {e.instance_type for e in inventory.of_type(ResourceType.ENDPOINT)} == {"ml.m5.xlarge"}
    assert set(FileConfigStore(tmp_path).load(key)) == {f"ep-config-{i:03d}" for i in range(3)}


def test_a_cache_of_another_region_or_endpoint_is_never_used(tmp_path: Path) -> None:
    here = CacheKey(DEFAULT_ACCOUNT_ID, "us-east-1", "http://127.0.0.1:5000")
    config = EndpointConfig(
        {"AllTraffic": ConfigVariant("ml.m5.xlarge", 1, False, False)}, True, True, datetime.now(UTC)
    )
    store = FileConfigStore(tmp_path)
    store.save(here, {"shared-name": config})

    assert store.load(here) == {"shared-name": config}
    assert store.load(CacheKey(DEFAULT_ACCOUNT_ID, "eu-west-1", "http://127.0.0.1:5000")) == {}
    # Another endpoint (real AWS here, an embedded one when stored) under the same file name.
    with pytest.raises(UnusableCache, match="not of account"):
        decode(CacheKey(DEFAULT_ACCOUNT_ID, "us-east-1"), store.path(here).read_bytes())
    assert store.load(CacheKey(DEFAULT_ACCOUNT_ID, "us-east-1")) == {}


def test_the_stored_cache_is_bounded_keeping_the_newest(tmp_path: Path) -> None:
    key = CacheKey(DEFAULT_ACCOUNT_ID, "us-east-1")
    start = datetime(2026, 1, 1, tzinfo=UTC)
    configs = {
        f"config-{i:05d}-{'x' * 40}": EndpointConfig(
            {f"variant-{v}": ConfigVariant(f"ml.m5.{v}xlarge", v, False, False) for v in range(1, 4)},
            True,
            False,
            start + timedelta(minutes=i),
        )
        for i in range(5000)
    }

    data = encode(key, configs, max_bytes=8 * 1024)
    kept = decode(key, data)

    assert len(data) <= 8 * 1024
    assert 0 < len(kept) < len(configs)
    oldest_kept = min(c.seen_modified for c in kept.values())
    assert all(c.seen_modified < oldest_kept for n, c in configs.items() if n not in kept)
