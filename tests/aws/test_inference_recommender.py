"""Inference Recommender against the embedded AWS: job states and the recommendations of a completed job."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from mlcost.aws.inference_recommender import InferenceRecommenderClient
from mlcost.domain.errors import AccessDenied
from mlcost.embedded.server import DEFAULT_ACCOUNT_ID, EmbeddedAws

from .conftest import ClientFactory

ROLE = f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:role/sagemaker-execution"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
PACKAGE = f"arn:aws:sagemaker:us-east-1:{DEFAULT_ACCOUNT_ID}:model-package/fraud-scorer/3"


@pytest.fixture
def sagemaker(aws_client: ClientFactory) -> Any:
    sm = aws_client("sagemaker")
    sm.create_model(
        ModelName="scorer-model",
        PrimaryContainer={"Image": IMAGE, "ModelDataUrl": "s3://fraud-models/scorer/model.tar.gz"},
        ExecutionRoleArn=ROLE,
    )
    return sm


@pytest.fixture
def recommender(sagemaker: Any) -> InferenceRecommenderClient:
    return InferenceRecommenderClient(sagemaker)


def _job(sm: Any, name: str = "fraud-scorer-ir", **inputs: Any) -> str:
    arn: str = sm.create_inference_recommendations_job(
        JobName=name,
        JobType="Default",
        RoleArn=ROLE,
        InputConfig=inputs or {"ModelName": "scorer-model"},
    )["JobArn"]
    return arn


def test_a_new_job_is_in_progress_with_no_recommendations(
    recommender: InferenceRecommenderClient, sagemaker: Any
) -> None:
    arn = _job(sagemaker)

    job = recommender.describe_job("fraud-scorer-ir")

    assert job is not None
    assert (job.arn, job.status, job.running, job.completed, job.failed) == (
        arn,
        "IN_PROGRESS",
        True,
        False,
        False,
    )
    assert (job.model_name, job.model_package_arn, job.recommendations) == ("scorer-model", None, ())
    assert job.creation_time is not None and job.completion_time is None


def test_a_completed_job_lists_instance_types_with_cost_latency_and_throughput(
    recommender: InferenceRecommenderClient, sagemaker: Any, embedded_aws: EmbeddedAws
) -> None:
    _job(sagemaker)
    embedded_aws.set_inference_recommendations(
        "fraud-scorer-ir",
        "COMPLETED",
        [
            {
                "InstanceType": "ml.c5.xlarge",
                "CostPerHour": 0.20399999618530273,
                "CostPerInference": 5.246913588052848e-06,
                "MaxInvocations": 648,
                "ModelLatency": 263,
                "CpuUtilization": 61.5,
                "MemoryUtilization": float("nan"),
            },
            {
                "InstanceType": "ml.g5.xlarge",
                "InitialInstanceCount": 2,
                "CostPerHour": 1.408,
                "ModelLatency": 40,
            },
        ],
    )

    job = recommender.describe_job("fraud-scorer-ir")

    assert job is not None and job.completed and job.completion_time is not None
    cheap, gpu = job.recommendations
    assert (cheap.instance_type, cheap.initial_instance_count) == ("ml.c5.xlarge", 1)
    # Single-precision floats come back as the numbers the job meant.
    assert (cheap.cost_per_hour, cheap.cost_per_inference) == (Decimal("0.204"), Decimal("0.000005246914"))
    assert (cheap.max_invocations, cheap.model_latency_ms, cheap.cpu_utilization) == (
        648,
        263,
        Decimal("61.5"),
    )
    assert cheap.memory_utilization is None  # NaN: not measured
    assert (gpu.instance_type, gpu.initial_instance_count, gpu.cost_per_hour, gpu.max_invocations) == (
        "ml.g5.xlarge",
        2,
        Decimal("1.408"),
        None,
    )
    assert cheap.recommendation_id and cheap.recommendation_id != gpu.recommendation_id


def test_recommendations_in_aws_shape_are_read_as_is(
    recommender: InferenceRecommenderClient, sagemaker: Any, embedded_aws: EmbeddedAws
) -> None:
    _job(sagemaker, ModelPackageVersionArn=PACKAGE)
    embedded_aws.set_inference_recommendations(
        "fraud-scorer-ir",
        "COMPLETED",
        [
            {
                "RecommendationId": "fraud-scorer-ir/abc",
                "Metrics": {"CostPerHour": 0.1, "MaxInvocations": 120, "ModelLatency": 90},
                "EndpointConfiguration": {
                    "EndpointName": "sm-epc-1",
                    "VariantName": "sm-epc-variant",
                    "ServerlessConfig": {"MemorySizeInMB": 4096, "MaxConcurrency": 10},
                },
                "ModelConfiguration": {},
            }
        ],
    )

    job = recommender.describe_job("fraud-scorer-ir")

    assert job is not None
    assert (job.model_name, job.model_package_arn) == (None, PACKAGE)
    (serverless,) = job.recommendations
    assert (serverless.recommendation_id, serverless.instance_type, serverless.serverless_memory_mb) == (
        "fraud-scorer-ir/abc",
        None,
        4096,
    )


@pytest.mark.parametrize(
    ("status", "reason", "expected_reason"),
    [
        (
            "FAILED",
            "The model did not respond to the sample payload",
            "The model did not respond to the sample payload",
        ),
        ("FAILED", None, "Benchmarking failed"),
        ("STOPPED", None, None),
        ("PENDING", None, None),
    ],
)
def test_unfinished_and_failed_jobs_have_no_recommendations(
    recommender: InferenceRecommenderClient,
    sagemaker: Any,
    embedded_aws: EmbeddedAws,
    status: str,
    reason: str | None,
    expected_reason: str | None,
) -> None:
    _job(sagemaker)
    embedded_aws.set_inference_recommendations(
        "fraud-scorer-ir",
        status,
        [{"InstanceType": "ml.c5.xlarge", "CostPerHour": 0.2}],
        failure_reason=reason,
    )

    job = recommender.describe_job("fraud-scorer-ir")

    assert job is not None
    assert (job.status, job.recommendations, job.failed) == (status, (), status == "FAILED")
    assert job.running is (status == "PENDING")
    if expected_reason is None:
        assert job.failure_reason is None
    else:
        assert job.failure_reason is not None and job.failure_reason.startswith(expected_reason)


def test_an_unknown_job_is_none(recommender: InferenceRecommenderClient) -> None:
    assert recommender.describe_job("no-such-job") is None


def test_denied_access_is_a_domain_error(
    recommender: InferenceRecommenderClient, embedded_aws: EmbeddedAws
) -> None:
    embedded_aws.inject_error("sagemaker", "DescribeInferenceRecommendationsJob", "AccessDeniedException")

    with pytest.raises(AccessDenied, match="DescribeInferenceRecommendationsJob"):
        recommender.describe_job("fraud-scorer-ir")


def test_aws_validates_new_jobs(sagemaker: Any) -> None:
    _job(sagemaker)

    with pytest.raises(sagemaker.exceptions.ResourceInUse):
        _job(sagemaker)
    with pytest.raises(sagemaker.exceptions.ClientError, match="Could not find model"):
        _job(sagemaker, "other-ir", ModelName="no-such-model")
    with pytest.raises(sagemaker.exceptions.ClientError, match="Exactly one of"):
        _job(sagemaker, "third-ir", ModelName="scorer-model", ModelPackageVersionArn=PACKAGE)


def test_the_hook_needs_an_existing_job_and_a_real_status(embedded_aws: EmbeddedAws, sagemaker: Any) -> None:
    with pytest.raises(LookupError):
        embedded_aws.set_inference_recommendations("no-such-job", "COMPLETED", [])
    _job(sagemaker)
    with pytest.raises(ValueError, match="status must be one of"):
        embedded_aws.set_inference_recommendations("fraud-scorer-ir", "Completed", [])


def test_the_model_packages_a_model_was_created_from(
    sagemaker: Any, recommender: InferenceRecommenderClient
) -> None:
    """What a job's ModelPackageVersionArn is matched against: the model's containers' packages."""
    package = "arn:aws:sagemaker:us-east-1:123456789012:model-package/fraud/3"
    sagemaker.create_model(
        ModelName="from-package",
        PrimaryContainer={"ModelPackageName": package},
        ExecutionRoleArn="arn:aws:iam::123456789012:role/sm",
    )
    sagemaker.create_model(
        ModelName="from-image",
        PrimaryContainer={"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/x:1"},
        ExecutionRoleArn="arn:aws:iam::123456789012:role/sm",
    )

    assert recommender.model_packages("from-package") == {package}
    assert recommender.model_packages("from-image") == frozenset()
    assert recommender.model_packages("no-such-model") == frozenset()  # gone: matches nothing
