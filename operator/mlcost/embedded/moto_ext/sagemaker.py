"""SageMaker for moto: UpdateEndpoint that passes through Updating, StopTrainingJob, held jobs.

moto makes endpoints InService and training jobs Completed at once. Here an update or a stop
becomes visible in steps counted in Describe calls (not wall time, so tests are deterministic):
with the default delay of 1, the first DescribeEndpoint after UpdateEndpoint still shows
Updating and the second shows the outcome; likewise Stopping then Stopped for a training job.

Endpoint configs behave as in AWS where moto differs: a second CreateEndpointConfig of a name
fails instead of replacing the first, every field of the request is kept and described
(moto drops ExplainerConfig, ShadowProductionVariants, VpcConfig, ...), and every instance
type of the SageMaker API model is accepted (moto knows a 2020 subset without ml.g5 or ml.c6i).
UpdateEndpoint fails, as AWS does, when it would change the instance type of a variant that
is an Application Auto Scaling target, or remove such a variant.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Any

import botocore.session
from moto.applicationautoscaling.models import applicationautoscaling_backends
from moto.core.responses import ActionResult, EmptyResult
from moto.core.utils import utcnow
from moto.sagemaker.exceptions import ResourceNotFound, ValidationError
from moto.sagemaker.models import (
    FakeEndpoint,
    FakeEndpointConfig,
    FakeTrainingJob,
    SageMakerModelBackend,
    sagemaker_backends,
)
from moto.sagemaker.responses import SageMakerResponse

from ._common import DEFAULT_ACCOUNT_ID, ext_state, original, patch

__all__ = [
    "DEFAULT_FAILURE_REASON",
    "fail_endpoint_config",
    "hold_training_jobs",
    "install",
    "set_transition_delay",
]

DEFAULT_FAILURE_REASON = (
    "The primary container for production variant AllTraffic did not pass the ping health "
    "check. Please check CloudWatch logs for this endpoint."
)
ALL_JOBS = "*"
_TRANSITIONAL = ("Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting")
# CreateEndpointConfig fields moto's FakeEndpointConfig does not keep; stored and described here.
_EXTRA_CONFIG_FIELDS = {
    "ExplainerConfig": "explainer_config",
    "ShadowProductionVariants": "shadow_production_variants",
    "ExecutionRoleArn": "execution_role_arn",
    "VpcConfig": "vpc_config",
    "EnableNetworkIsolation": "enable_network_isolation",
    "MetricsConfig": "metrics_config",
    "CrossRegionTrafficConfig": "cross_region_traffic_config",
}
_VARIANT_DIMENSION = "sagemaker:variant:DesiredInstanceCount"
_RETAINABLE = {
    "DesiredInstanceCount": ("CurrentInstanceCount", "DesiredInstanceCount"),
    "DesiredWeight": ("CurrentWeight", "DesiredWeight"),
}

# moto's server answers requests on several threads; the transitions below read and write
# shared state in more than one step.
_lock = threading.Lock()


@dataclass
class _Failure:
    reason: str
    rollback: bool


@dataclass
class _PendingUpdate:
    endpoint: FakeEndpoint
    config_name: str
    remaining: int
    retain_all: bool
    excluded: set[str]
    deployment_config: dict[str, Any] | None
    retain_deployment_config: bool


@dataclass
class _PendingStop:
    job: FakeTrainingJob
    remaining: int


@dataclass
class SageMakerState:
    """What the extension keeps on a regional moto SageMaker backend (reset with it)."""

    transition_delay: int = 1
    failing_configs: dict[str, _Failure] = field(default_factory=dict)
    updates: dict[str, _PendingUpdate] = field(default_factory=dict)
    stops: dict[str, _PendingStop] = field(default_factory=dict)
    held_jobs: dict[str, datetime | None] = field(default_factory=dict)


def _state(backend: SageMakerModelBackend) -> SageMakerState:
    return ext_state(backend, SageMakerState)


def _naive_utc(moment: datetime) -> datetime:
    # moto keeps naive UTC datetimes; mixing aware ones in breaks its comparisons.
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


# ---------------------------------------------------------------------------- endpoints


def update_endpoint(
    self: SageMakerModelBackend,
    endpoint_name: str,
    endpoint_config_name: str,
    retain_all_variant_properties: bool = False,
    exclude_retained_variant_properties: list[dict[str, str]] | None = None,
    deployment_config: dict[str, Any] | None = None,
    retain_deployment_config: bool = False,
) -> str:
    """UpdateEndpoint: an InService endpoint goes to Updating towards the new config."""
    with _lock:
        endpoint = self.endpoints.get(endpoint_name)
        if endpoint is None:
            arn = FakeEndpoint.arn_formatter(endpoint_name, self.account_id, self.region_name)
            raise ValidationError(message=f'Could not find endpoint "{arn}".')
        status = endpoint.endpoint_status
        if status in _TRANSITIONAL:
            raise ValidationError(message=f'Cannot update in-progress endpoint "{endpoint.arn}".')
        if status != "InService":
            raise ValidationError(message=f'Cannot update endpoint "{endpoint.arn}" in status {status}.')
        config = self.endpoint_configs.get(endpoint_config_name)
        if config is None:
            arn = FakeEndpointConfig.arn_formatter(endpoint_config_name, self.account_id, self.region_name)
            raise ValidationError(message=f'Could not find endpoint configuration "{arn}".')
        _check_autoscaled_variants(self, endpoint, config)
        now = utcnow()
        endpoint.endpoint_status = "Updating"
        endpoint.last_modified_time = now
        # setattr: moto declares failure_reason as None and has no pending summary at all.
        setattr(endpoint, "failure_reason", None)  # noqa: B010
        setattr(  # noqa: B010
            endpoint,
            "pending_deployment_summary",
            {
                "EndpointConfigName": endpoint_config_name,
                "ProductionVariants": [_pending_variant(v) for v in config.production_variants],
                "StartTime": now,
            },
        )
        state = _state(self)
        state.updates[endpoint_name] = _PendingUpdate(
            endpoint=endpoint,
            config_name=endpoint_config_name,
            remaining=state.transition_delay,
            retain_all=bool(retain_all_variant_properties),
            excluded={
                item.get("VariantPropertyType", "") for item in exclude_retained_variant_properties or []
            },
            deployment_config=deployment_config,
            retain_deployment_config=bool(retain_deployment_config),
        )
        return endpoint.arn


def _check_autoscaled_variants(
    backend: SageMakerModelBackend, endpoint: FakeEndpoint, config: FakeEndpointConfig
) -> None:
    """Refuse an update that changes the instance type of, or removes, an autoscaled variant.

    AWS checks this on UpdateEndpoint ("Update endpoints that use auto scaling" in the
    SageMaker developer guide): the variant must be deregistered first. The message is ours.
    """
    scaling = applicationautoscaling_backends[backend.account_id][backend.region_name]
    targets = scaling.targets.get(_VARIANT_DIMENSION, {})
    current = backend.endpoint_configs.get(endpoint.endpoint_config_name)
    if current is None or not targets:
        return
    new_types = {v["VariantName"]: v.get("InstanceType") for v in config.production_variants}
    for variant in current.production_variants:
        name = variant["VariantName"]
        if f"endpoint/{endpoint.endpoint_name}/variant/{name}" not in targets:
            continue
        if name not in new_types or new_types[name] != variant.get("InstanceType"):
            raise ValidationError(
                message=f'The production variant "{name}" of endpoint "{endpoint.arn}" is a target '
                "of Application Auto Scaling: deregister it (DeregisterScalableTarget) before an "
                "update that changes its instance type or removes it."
            )


def _pending_variant(variant: dict[str, Any]) -> dict[str, Any]:
    summary = {
        "VariantName": variant["VariantName"],
        "DesiredInstanceCount": variant.get("InitialInstanceCount"),
        "DesiredWeight": variant.get("InitialVariantWeight"),
        "InstanceType": variant.get("InstanceType"),
        "VariantStatus": [{"Status": "Creating", "StartTime": utcnow()}],
    }
    return {k: v for k, v in summary.items() if v is not None}


def _finish_update(backend: SageMakerModelBackend, pending: _PendingUpdate) -> None:
    endpoint = pending.endpoint
    endpoint.last_modified_time = utcnow()
    setattr(endpoint, "pending_deployment_summary", None)  # noqa: B010
    failure = _state(backend).failing_configs.get(pending.config_name)
    config = backend.endpoint_configs.get(pending.config_name)
    if failure is not None or config is None:
        reason = failure.reason if failure else "The endpoint configuration was deleted."
        # Rolled back: the endpoint serves on with its old configuration and says why.
        setattr(endpoint, "failure_reason", reason)  # noqa: B010
        endpoint.endpoint_status = "Failed" if failure and not failure.rollback else "InService"
        return
    variants = endpoint._process_production_variants(config.production_variants)
    if pending.retain_all:
        previous = {v["VariantName"]: v for v in endpoint.production_variants}
        for variant in variants:
            old = previous.get(variant["VariantName"])
            for prop, fields in _RETAINABLE.items():
                if old is None or prop in pending.excluded:
                    continue
                variant.update({f: old[f] for f in fields if f in old})
    keep_capture = pending.retain_all and "DataCaptureConfig" not in pending.excluded
    if not keep_capture:
        endpoint.data_capture_config = config.data_capture_config
    if pending.deployment_config is not None:
        setattr(endpoint, "last_deployment_config", pending.deployment_config)  # noqa: B010
    elif not pending.retain_deployment_config:
        setattr(endpoint, "last_deployment_config", None)  # noqa: B010
    endpoint.production_variants = variants
    endpoint.endpoint_config_name = pending.config_name
    endpoint.endpoint_status = "InService"


def describe_endpoint(self: SageMakerModelBackend, endpoint_name: str) -> dict[str, Any]:
    """DescribeEndpoint, moving a pending update one step towards its outcome first."""
    with _lock:
        state = _state(self)
        pending = state.updates.get(endpoint_name)
        if pending is not None:
            if self.endpoints.get(endpoint_name) is not pending.endpoint:
                del state.updates[endpoint_name]  # deleted (and maybe re-created) meanwhile
            elif pending.remaining > 0:
                pending.remaining -= 1
            else:
                del state.updates[endpoint_name]
                _finish_update(self, pending)
    return original(SageMakerModelBackend, "describe_endpoint")(self, endpoint_name)  # type: ignore[no-any-return]


# ---------------------------------------------------------------------------- endpoint configs


@cache
def _instance_types() -> frozenset[str]:
    """Every real-time instance type of the SageMaker API model botocore ships."""
    shape = (
        botocore.session.get_session()
        .get_service_model("sagemaker")
        .shape_for("ProductionVariantInstanceType")
    )
    return frozenset(getattr(shape, "enum", []))


def _validate_instance_type(self: FakeEndpointConfig, instance_type: str) -> None:
    if instance_type not in _instance_types():
        raise ValidationError(
            message=f"Value '{instance_type}' at 'instanceType' failed to satisfy constraint: "
            "Member must satisfy enum value set"
        )


def _validate_production_variants(
    self: SageMakerModelBackend, production_variants: list[dict[str, Any]]
) -> None:
    """moto's model check, minus variants without ModelName: AWS accepts those for endpoints
    that host inference components (ModelName is optional in botocore's ProductionVariant;
    AWS docs, "Deploy models with inference components"), where moto answers HTTP 500."""
    original(SageMakerModelBackend, "validate_production_variants")(
        self, [v for v in production_variants if v.get("ModelName")]
    )


def create_endpoint_config(
    self: SageMakerModelBackend, endpoint_config_name: str, *args: Any, **kwargs: Any
) -> FakeEndpointConfig:
    """CreateEndpointConfig that refuses an existing name, as AWS does (moto replaces it)."""
    with _lock:
        if endpoint_config_name in self.endpoint_configs:
            arn = FakeEndpointConfig.arn_formatter(endpoint_config_name, self.account_id, self.region_name)
            raise ValidationError(message=f'Cannot create already existing endpoint configuration "{arn}".')
        config: FakeEndpointConfig = original(SageMakerModelBackend, "create_endpoint_config")(
            self, endpoint_config_name, *args, **kwargs
        )
        return config


def _r_create_endpoint_config(self: SageMakerResponse) -> ActionResult:
    config = create_endpoint_config(
        self.sagemaker_backend,
        endpoint_config_name=self._get_param("EndpointConfigName"),
        async_inference_config=self._get_param("AsyncInferenceConfig"),
        production_variants=self._get_param("ProductionVariants"),
        data_capture_config=self._get_param("DataCaptureConfig"),
        tags=self._get_param("Tags"),
        kms_key_id=self._get_param("KmsKeyId"),
    )
    # moto's describe renders every attribute in CamelCase: the fields it drops come back too.
    for param, attribute in _EXTRA_CONFIG_FIELDS.items():
        value = self._get_param(param)
        if value is not None:
            setattr(config, attribute, value)
    return ActionResult({"EndpointConfigArn": config.endpoint_config_arn})


# ---------------------------------------------------------------------------- training jobs


def _hold(job: FakeTrainingJob, started_at: datetime | None) -> None:
    """Turn a job moto completed at once into one still training since started_at."""
    start = _naive_utc(started_at) if started_at else utcnow()
    job.training_job_status = "InProgress"
    job.secondary_status = "Training"
    job.creation_time = job.training_start_time = start
    job.last_modified_time = utcnow()
    setattr(job, "training_end_time", None)  # noqa: B010
    job.final_metric_data_list = []
    job.secondary_status_transitions = [
        {
            "Status": "Starting",
            "StartTime": start,
            "EndTime": start,
            "StatusMessage": "Preparing the instances for training",
        },
        {
            "Status": "Training",
            "StartTime": start,
            "StatusMessage": "Training image download completed. Training in progress.",
        },
    ]


def create_training_job(self: SageMakerModelBackend, *args: Any, **kwargs: Any) -> FakeTrainingJob:
    """CreateTrainingJob; a job named by hold_training_jobs() stays InProgress."""
    job: FakeTrainingJob = original(SageMakerModelBackend, "create_training_job")(self, *args, **kwargs)
    with _lock:
        held = _state(self).held_jobs
        for name in (job.training_job_name, ALL_JOBS):
            if name in held:
                _hold(job, held[name])
                break
    return job


def _transition(job: FakeTrainingJob, status: str, message: str) -> None:
    now = utcnow()
    for step in job.secondary_status_transitions:
        step.setdefault("EndTime", now)
    job.secondary_status_transitions.append({"Status": status, "StartTime": now, "StatusMessage": message})
    job.secondary_status = status
    job.last_modified_time = now


def stop_training_job(self: SageMakerModelBackend, training_job_name: str) -> None:
    """StopTrainingJob: InProgress -> Stopping (-> Stopped on a later describe)."""
    with _lock:
        job = self.training_jobs.get(training_job_name)
        if job is None:
            arn = FakeTrainingJob.arn_formatter(training_job_name, self.account_id, self.region_name)
            raise ResourceNotFound(message=f"Could not find training job '{arn}'.")
        if job.training_job_status != "InProgress":
            raise ValidationError(
                message="The request was rejected because the training job is in status "
                f"{job.training_job_status}."
            )
        job.training_job_status = "Stopping"
        _transition(job, "Stopping", "Stopping the training job")
        state = _state(self)
        state.stops[training_job_name] = _PendingStop(job, state.transition_delay)


def describe_training_job(self: SageMakerModelBackend, training_job_name: str) -> dict[str, Any]:
    """DescribeTrainingJob, moving a Stopping job one step towards Stopped first."""
    with _lock:
        state = _state(self)
        pending = state.stops.get(training_job_name)
        if pending is not None:
            if self.training_jobs.get(training_job_name) is not pending.job:
                del state.stops[training_job_name]
            elif pending.remaining > 0:
                pending.remaining -= 1
            else:
                del state.stops[training_job_name]
                job = pending.job
                job.training_job_status = "Stopped"
                _transition(job, "Stopped", "The job was stopped.")
                job.training_end_time = utcnow()
    return original(SageMakerModelBackend, "describe_training_job")(self, training_job_name)  # type: ignore[no-any-return]


# ---------------------------------------------------------------------------- responses


def _r_update_endpoint(self: SageMakerResponse) -> ActionResult:
    arn = update_endpoint(
        self.sagemaker_backend,
        endpoint_name=self._get_param("EndpointName"),
        endpoint_config_name=self._get_param("EndpointConfigName"),
        retain_all_variant_properties=self._get_param("RetainAllVariantProperties", False),
        exclude_retained_variant_properties=self._get_param("ExcludeRetainedVariantProperties"),
        deployment_config=self._get_param("DeploymentConfig"),
        retain_deployment_config=self._get_param("RetainDeploymentConfig", False),
    )
    return ActionResult({"EndpointArn": arn})


def _r_stop_training_job(self: SageMakerResponse) -> ActionResult:
    stop_training_job(self.sagemaker_backend, self._get_param("TrainingJobName"))
    return EmptyResult()


# ---------------------------------------------------------------------------- hooks


def _backend(region: str, account_id: str) -> SageMakerModelBackend:
    return sagemaker_backends[account_id][region]


def set_transition_delay(
    describes: int, *, region: str = "us-east-1", account_id: str = DEFAULT_ACCOUNT_ID
) -> None:
    """Test hook: how many Describe calls still show Updating / Stopping (default 1, 0 = none)."""
    if describes < 0:
        raise ValueError("describes must be >= 0")
    with _lock:
        _state(_backend(region, account_id)).transition_delay = describes


def fail_endpoint_config(
    endpoint_config_name: str,
    reason: str = DEFAULT_FAILURE_REASON,
    *,
    rollback: bool = True,
    region: str = "us-east-1",
    account_id: str = DEFAULT_ACCOUNT_ID,
) -> None:
    """Test hook: updates to this endpoint config fail.

    rollback=True: the endpoint returns to InService on its old config with FailureReason
    (what SageMaker does when a deployment fails). rollback=False: it ends Failed.
    """
    with _lock:
        _state(_backend(region, account_id)).failing_configs[endpoint_config_name] = _Failure(
            reason, rollback
        )


def hold_training_jobs(
    names: Iterable[str],
    *,
    started_at: datetime | None = None,
    region: str = "us-east-1",
    account_id: str = DEFAULT_ACCOUNT_ID,
) -> None:
    """Test hook: training jobs with these names (or "*" for all) stay InProgress.

    Applies to jobs created later and turns existing Completed ones back to InProgress.
    started_at backdates CreationTime and TrainingStartTime (e.g. to exceed a max runtime).
    """
    backend = _backend(region, account_id)
    with _lock:
        state = _state(backend)
        for name in names:
            state.held_jobs[name] = started_at
            targets = (
                backend.training_jobs.values()
                if name == ALL_JOBS
                else ([backend.training_jobs[name]] if name in backend.training_jobs else [])
            )
            for job in targets:
                if job.training_job_status == "Completed":
                    _hold(job, started_at)


def _resource_or_not_found(backend: SageMakerModelBackend, arn: str) -> Any:
    # moto crashes (HTTP 500) tagging a resource that is gone; SageMaker answers ResourceNotFound.
    resource = original(SageMakerModelBackend, "_get_resource_from_arn")(backend, arn)
    if resource is None:
        raise ResourceNotFound(f"Resource {arn} does not exist")
    return resource


_MOTO_ENDPOINT_RESPONSE = FakeEndpoint.response_object


def _endpoint_response_object(self: FakeEndpoint) -> dict[str, Any]:
    # DescribeEndpoint and Search show a DataCaptureConfigSummary (EnableCapture, CaptureStatus,
    # CurrentSamplingPercentage, DestinationS3Uri, KmsKeyId: all required in botocore's model),
    # and only for an endpoint whose config captures data; moto sends the config's own
    # DataCaptureConfig, or {} when there is none.
    response: dict[str, Any] = _MOTO_ENDPOINT_RESPONSE.fget(self)  # type: ignore[attr-defined]
    capture = response.pop("DataCaptureConfig", None)
    if capture:
        enabled = bool(capture.get("EnableCapture", False))
        response["DataCaptureConfig"] = {
            "EnableCapture": enabled,
            "CaptureStatus": "Started" if enabled else "Stopped",
            "CurrentSamplingPercentage": int(capture.get("InitialSamplingPercentage", 0)),
            "DestinationS3Uri": str(capture.get("DestinationS3Uri", "")),
            "KmsKeyId": str(capture.get("KmsKeyId", "")),
        }
    return response


def install() -> None:
    """Patch moto's SageMaker backend and response classes."""
    # A property, so set directly (patch() takes functions); _MOTO_ENDPOINT_RESPONSE is moto's.
    FakeEndpoint.response_object = property(_endpoint_response_object)  # type: ignore[assignment,method-assign]
    patch(SageMakerModelBackend, "_get_resource_from_arn", _resource_or_not_found)
    patch(FakeEndpointConfig, "validate_instance_type", _validate_instance_type)
    patch(SageMakerModelBackend, "create_endpoint_config", create_endpoint_config)
    patch(SageMakerModelBackend, "validate_production_variants", _validate_production_variants)
    patch(SageMakerResponse, "create_endpoint_config", _r_create_endpoint_config)
    patch(SageMakerModelBackend, "update_endpoint", update_endpoint)
    patch(SageMakerModelBackend, "describe_endpoint", describe_endpoint)
    patch(SageMakerModelBackend, "create_training_job", create_training_job)
    patch(SageMakerModelBackend, "stop_training_job", stop_training_job)
    patch(SageMakerModelBackend, "describe_training_job", describe_training_job)
    patch(SageMakerResponse, "update_endpoint", _r_update_endpoint)
    patch(SageMakerResponse, "stop_training_job", _r_stop_training_job)
