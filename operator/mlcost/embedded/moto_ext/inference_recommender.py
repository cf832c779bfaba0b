"""SageMaker Inference Recommender for moto (which has none): create and describe jobs, a results hook."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from moto.core.responses import ActionResult
from moto.core.utils import utcnow
from moto.sagemaker.exceptions import ResourceInUseException, ResourceNotFound, ValidationError
from moto.sagemaker.models import SageMakerModelBackend, sagemaker_backends
from moto.sagemaker.responses import SageMakerResponse
from moto.sagemaker.utils import arn_formatter

from ._common import DEFAULT_ACCOUNT_ID, ext_state, patch

__all__ = ["JOB_STATUSES", "install", "set_inference_recommendations"]

JOB_STATUSES = (
    "PENDING",
    "IN_PROGRESS",
    "COMPLETED",
    "FAILED",
    "STOPPING",
    "STOPPED",
    "DELETING",
    "DELETED",
)
_FINISHED = ("COMPLETED", "FAILED", "STOPPED", "DELETED")
_JOB_TYPES = ("Default", "Advanced")
DEFAULT_FAILURE_REASON = "Benchmarking failed: the model container did not respond to the sample payload."

# The keys of a recommendation's RecommendationMetrics (API reference).
_METRICS = (
    "CostPerHour",
    "CostPerInference",
    "MaxInvocations",
    "ModelLatency",
    "CpuUtilization",
    "MemoryUtilization",
    "ModelSetupTime",
)

_lock = threading.Lock()
_ids = itertools.count(1)


@dataclass
class _Job:
    name: str
    arn: str
    job_type: str
    role_arn: str
    input_config: dict[str, Any]
    description: str | None
    stopping_conditions: dict[str, Any] | None
    tags: list[dict[str, str]]
    status: str
    created: datetime
    modified: datetime
    completed: datetime | None = None
    failure_reason: str | None = None
    recommendations: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class RecommenderState:
    """Inference Recommender jobs of one regional SageMaker backend (reset with it)."""

    jobs: dict[str, _Job] = field(default_factory=dict)


def _state(backend: SageMakerModelBackend) -> RecommenderState:
    return ext_state(backend, RecommenderState)


def _job_arn(backend: SageMakerModelBackend, name: str) -> str:
    return arn_formatter("inference-recommendations-job", name, backend.account_id, backend.region_name)


def create_job(
    backend: SageMakerModelBackend,
    *,
    name: str,
    job_type: str,
    role_arn: str,
    input_config: dict[str, Any],
    description: str | None = None,
    stopping_conditions: dict[str, Any] | None = None,
    tags: list[dict[str, str]] | None = None,
) -> str:
    """CreateInferenceRecommendationsJob as the SageMaker API reference has it; the job's ARN.

    JobType Default | Advanced; InputConfig names exactly one of ModelName (an existing
    model, else ValidationException) and ModelPackageVersionArn; a second job of a name is
    ResourceInUse. The job stays IN_PROGRESS until set_inference_recommendations() gives it
    another status: real jobs run 45 minutes or more, and tests choose the outcome.
    """
    if job_type not in _JOB_TYPES:
        raise ValidationError(
            message=f"Value '{job_type}' at 'jobType' failed to satisfy constraint: "
            f"Member must satisfy enum value set: [{', '.join(_JOB_TYPES)}]"
        )
    model_name = input_config.get("ModelName")
    if bool(model_name) == bool(input_config.get("ModelPackageVersionArn")):
        raise ValidationError(
            message="Exactly one of InputConfig.ModelName and InputConfig.ModelPackageVersionArn "
            "must be provided."
        )
    if model_name and model_name not in backend._models:
        arn = arn_formatter("model", model_name, backend.account_id, backend.region_name)
        raise ValidationError(message=f"Could not find model '{arn}'.")
    with _lock:
        jobs = _state(backend).jobs
        if name in jobs:
            raise ResourceInUseException(message=f"Inference recommendations job {name} already exists.")
        now = utcnow()
        job = _Job(
            name=name,
            arn=_job_arn(backend, name),
            job_type=job_type,
            role_arn=role_arn,
            input_config=input_config,
            description=description,
            stopping_conditions=stopping_conditions,
            tags=tags or [],
            status="IN_PROGRESS",
            created=now,
            modified=now,
        )
        jobs[name] = job
        return job.arn


def describe_job(backend: SageMakerModelBackend, name: str) -> dict[str, Any]:
    """DescribeInferenceRecommendationsJob as the API reference shapes it; ResourceNotFound if absent.

    InferenceRecommendations appear once the job is COMPLETED, FailureReason when FAILED.
    """
    with _lock:
        job = _state(backend).jobs.get(name)
        if job is None:
            arn = _job_arn(backend, name)
            raise ResourceNotFound(message=f"Could not find inference recommendations job '{arn}'.")
        response: dict[str, Any] = {
            "JobName": job.name,
            "JobDescription": job.description,
            "JobType": job.job_type,
            "JobArn": job.arn,
            "RoleArn": job.role_arn,
            "Status": job.status,
            "CreationTime": job.created,
            "CompletionTime": job.completed,
            "LastModifiedTime": job.modified,
            "FailureReason": job.failure_reason,
            "InputConfig": job.input_config,
            "StoppingConditions": job.stopping_conditions,
        }
        if job.status == "COMPLETED":
            response["InferenceRecommendations"] = job.recommendations
        return {key: value for key, value in response.items() if value is not None}


def _recommendation(job: _Job, index: int, entry: dict[str, Any]) -> dict[str, Any]:
    """A full InferenceRecommendation from AWS's shape (kept as is) or the flat shorthand."""
    if "EndpointConfiguration" in entry:
        return entry
    endpoint = {
        "EndpointName": f"sm-epc-{job.name}-{index:02d}"[:63],
        "VariantName": entry.get("VariantName", "sm-epc-variant"),
    }
    for key in ("InstanceType", "InitialInstanceCount", "ServerlessConfig"):
        if key in entry:
            endpoint[key] = entry[key]
    if "InstanceType" in endpoint:
        endpoint.setdefault("InitialInstanceCount", 1)
    unknown = set(entry) - set(_METRICS) - {"VariantName", *endpoint}
    if unknown:
        raise ValueError(f"unknown recommendation fields {sorted(unknown)}")
    return {
        "RecommendationId": f"{job.name}/{next(_ids):08d}",
        "Metrics": {key: entry[key] for key in _METRICS if key in entry},
        "EndpointConfiguration": endpoint,
        "ModelConfiguration": {},
        "InvocationStartTime": job.created,
        "InvocationEndTime": utcnow(),
    }


def set_inference_recommendations(
    job_name: str,
    status: str,
    recommendations: Iterable[dict[str, Any]] = (),
    *,
    failure_reason: str | None = None,
    region: str = "us-east-1",
    account_id: str = DEFAULT_ACCOUNT_ID,
) -> None:
    """Test hook: give an existing job a status and, for COMPLETED, its recommendations.

    A recommendation is AWS's InferenceRecommendation (with "EndpointConfiguration") or the
    shorthand {"InstanceType", "InitialInstanceCount"?, "VariantName"?, "ServerlessConfig"?,
    and RecommendationMetrics keys "CostPerHour", "CostPerInference", "MaxInvocations",
    "ModelLatency", "CpuUtilization", "MemoryUtilization", "ModelSetupTime"}. FAILED without
    failure_reason gets a default reason. LookupError when the job doesn't exist.
    """
    if status not in JOB_STATUSES:
        raise ValueError(f"status must be one of {', '.join(JOB_STATUSES)}, not {status!r}")
    backend: SageMakerModelBackend = sagemaker_backends[account_id][region]
    with _lock:
        job = _state(backend).jobs.get(job_name)
        if job is None:
            raise LookupError(f"no inference recommendations job {job_name!r} in {account_id}/{region}")
        entries = [_recommendation(job, index, dict(entry)) for index, entry in enumerate(recommendations)]
        now = utcnow()
        job.status = status
        job.modified = now
        job.completed = now if status in _FINISHED else None
        job.recommendations = entries if status == "COMPLETED" else []
        if status == "FAILED":
            failure_reason = failure_reason or DEFAULT_FAILURE_REASON
        job.failure_reason = failure_reason


def _r_create(self: SageMakerResponse) -> ActionResult:
    arn = create_job(
        self.sagemaker_backend,
        name=self._get_param("JobName"),
        job_type=self._get_param("JobType"),
        role_arn=self._get_param("RoleArn"),
        input_config=self._get_param("InputConfig") or {},
        description=self._get_param("JobDescription"),
        stopping_conditions=self._get_param("StoppingConditions"),
        tags=self._get_param("Tags"),
    )
    return ActionResult({"JobArn": arn})


def _r_describe(self: SageMakerResponse) -> ActionResult:
    return ActionResult(describe_job(self.sagemaker_backend, self._get_param("JobName")))


def install() -> None:
    """Add the Inference Recommender operations to moto's SageMaker responses."""
    patch(SageMakerResponse, "create_inference_recommendations_job", _r_create)
    patch(SageMakerResponse, "describe_inference_recommendations_job", _r_describe)
