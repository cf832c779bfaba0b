"""InventoryReader against the embedded AWS: what it reads, and how few calls it takes."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.sagemaker.models import sagemaker_backends

from mlcost.api.v1alpha1.mlcostpolicy import ResourceType
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
        ("sagemaker", "DescribeEndpointConfig", "ThrottlingException", Throttled),
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


def test_a_read_throttled_while_describing_configs_resumes_where_it_stopped(
    reader: InventoryReader,
    sessions: AwsSessions,
    target: AwsTarget,
    sagemaker: Any,
    embedded_aws: EmbeddedAws,
) -> None:
    _model(sagemaker)
    for i in range(3):
        _config(sagemaker, f"config-{i}", [_instances("AllTraffic", "ml.m5.xlarge", 1)])
        sagemaker.create_endpoint(EndpointName=f"endpoint-{i}", EndpointConfigName=f"config-{i}")
    describes = 0

    def throttle_the_second(**_: Any) -> None:
        nonlocal describes
        describes += 1
        if describes == 2:
            raise ClientError(
                {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "Describe"
            )

    sessions.client("sagemaker", target).meta.events.register(
        "before-call.sagemaker.DescribeEndpointConfig", throttle_the_second
    )
    with pytest.raises(Throttled):
        reader.read(target, _now())
    embedded_aws.reset_calls()

    inventory = reader.read(target, _now())

    assert {r.instance_type for r in inventory.resources} == {"ml.m5.xlarge"}
    # config-0 was described before the throttling: only the other two are described now.
    assert _sweep_calls(embedded_aws)[("sagemaker", "DescribeEndpointConfig")] == 2


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
