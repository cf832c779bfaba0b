"""SageMaker Inference Recommender: a job's status and, once completed, its instance recommendations."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from mlcost.aws.errors import aws_call, aws_call_or_gone
from mlcost.domain.errors import NotFound

# RecommendationJobStatus of the API reference.
RUNNING_STATUSES = frozenset({"PENDING", "IN_PROGRESS", "STOPPING"})
COMPLETED = "COMPLETED"
FAILED = "FAILED"


@dataclass(frozen=True)
class InstanceRecommendation:
    """One benchmarked endpoint configuration (InferenceRecommendation) and its metrics.

    model_latency_ms is RecommendationMetrics.ModelLatency as reported, in milliseconds per
    the Inference Recommender guide's results table (the API reference names no unit, and the
    guide's sample response, 263596, reads like microseconds: check against a real job).
    max_invocations is requests per minute for the configuration. A metric the job did not
    report (or reported as NaN) is None.
    """

    recommendation_id: str | None
    instance_type: str | None  # None for a serverless configuration
    initial_instance_count: int | None
    serverless_memory_mb: int | None
    cost_per_hour: Decimal | None
    cost_per_inference: Decimal | None
    max_invocations: int | None
    model_latency_ms: int | None
    cpu_utilization: Decimal | None
    memory_utilization: Decimal | None


@dataclass(frozen=True)
class RecommenderJob:
    """An Inference Recommender job as DescribeInferenceRecommendationsJob reports it."""

    name: str
    arn: str
    job_type: str
    status: str
    model_name: str | None
    model_package_arn: str | None
    endpoint_names: tuple[str, ...]  # existing endpoints the job benchmarked (Advanced jobs)
    failure_reason: str | None
    creation_time: datetime | None
    completion_time: datetime | None
    recommendations: tuple[InstanceRecommendation, ...]

    @property
    def completed(self) -> bool:
        return self.status == COMPLETED

    @property
    def running(self) -> bool:
        return self.status in RUNNING_STATUSES

    @property
    def failed(self) -> bool:
        return self.status == FAILED

    @property
    def benchmarked(self) -> str:
        """What the job benchmarked, for a message: 'model M' or 'model package ARN'."""
        if self.model_name:
            return f"model {self.model_name}"
        if self.model_package_arn:
            return f"model package {self.model_package_arn}"
        return "no model named in its InputConfig"


def _number(value: Any) -> Decimal | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, float):
        # The metrics are single-precision floats (0.204 arrives as 0.20399999618530273):
        # keep the 7 significant digits they carry.
        return Decimal(f"{value:.7g}")
    return Decimal(str(value))


def _integer(value: Any) -> int | None:
    number = _number(value)
    return None if number is None else int(number)


def _utc(value: Any) -> datetime | None:
    return value.astimezone(UTC) if isinstance(value, datetime) else None


class InferenceRecommenderClient:
    """Reads Inference Recommender jobs through one SageMaker client."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def describe_job(self, job_name: str) -> RecommenderJob | None:
        """The job, with its recommendations when COMPLETED; None when there is no such job."""
        try:
            with aws_call("sagemaker:DescribeInferenceRecommendationsJob"):
                raw = self._client.describe_inference_recommendations_job(JobName=job_name)
        except NotFound:
            return None
        inputs = raw.get("InputConfig") or {}
        return RecommenderJob(
            name=raw["JobName"],
            arn=raw["JobArn"],
            job_type=raw.get("JobType", ""),
            status=raw["Status"],
            model_name=inputs.get("ModelName") or None,
            model_package_arn=inputs.get("ModelPackageVersionArn") or None,
            endpoint_names=tuple(
                e["EndpointName"] for e in inputs.get("Endpoints", []) if e.get("EndpointName")
            ),
            failure_reason=raw.get("FailureReason") or None,
            creation_time=_utc(raw.get("CreationTime")),
            completion_time=_utc(raw.get("CompletionTime")),
            recommendations=tuple(_recommendation(r) for r in raw.get("InferenceRecommendations", [])),
        )

    def model_packages(self, model_name: str) -> frozenset[str]:
        """The model package ARNs a model's containers were created from (DescribeModel).

        A job whose InputConfig names ModelPackageVersionArn benchmarked that package; a variant
        serves it when its model's PrimaryContainer or Containers name it as ModelPackageName.
        Empty when the model does not exist (any more).
        """
        try:
            with aws_call_or_gone("sagemaker:DescribeModel"):
                raw = self._client.describe_model(ModelName=model_name)
        except NotFound:
            return frozenset()
        containers = [raw.get("PrimaryContainer") or {}, *(raw.get("Containers") or [])]
        return frozenset(str(c["ModelPackageName"]) for c in containers if c.get("ModelPackageName"))


def _recommendation(raw: dict[str, Any]) -> InstanceRecommendation:
    endpoint = raw.get("EndpointConfiguration") or {}
    metrics = raw.get("Metrics") or {}
    serverless = endpoint.get("ServerlessConfig") or {}
    return InstanceRecommendation(
        recommendation_id=raw.get("RecommendationId"),
        instance_type=endpoint.get("InstanceType"),
        initial_instance_count=_integer(endpoint.get("InitialInstanceCount")),
        serverless_memory_mb=_integer(serverless.get("MemorySizeInMB")),
        cost_per_hour=_number(metrics.get("CostPerHour")),
        cost_per_inference=_number(metrics.get("CostPerInference")),
        max_invocations=_integer(metrics.get("MaxInvocations")),
        model_latency_ms=_integer(metrics.get("ModelLatency")),
        cpu_utilization=_number(metrics.get("CpuUtilization")),
        memory_utilization=_number(metrics.get("MemoryUtilization")),
    )
