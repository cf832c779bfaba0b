"""EndpointRightsizing against the embedded AWS: recommend from CloudWatch, apply safely, and
leave nothing half-done when AWS refuses, rolls back, or the operator restarts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from mlcost.api.v1alpha1.endpointrightsizing import EndpointRightsizingSpec, EndpointRightsizingStatus
from mlcost.aws.endpoints import EndpointsClient
from mlcost.constants import MANAGED_BY_TAG
from mlcost.embedded.server import EmbeddedAws
from mlcost.reconcile.results import ObjectRef
from mlcost.reconcile.rightsizing import RightsizingReconciler, RightsizingResult
from tests.conftest import client_of
from tests.reconcile.conftest import Clock, ReconcilerFactory
from tests.reconcile.test_budget_lifecycle import condition

REF = ObjectRef("team-fraud", "fraud-scorer", generation=1)
ENDPOINT, CONFIG = "fraud-scorer", "fraud-scorer-config"
ROLE = "arn:aws:iam::123456789012:role/sm"
OWNER = "team-fraud/fraud-scorer"


@pytest.fixture
def sagemaker(aws: EmbeddedAws) -> Any:
    return client_of(aws, "sagemaker")


@pytest.fixture
def scorer(sagemaker: Any, aws: EmbeddedAws) -> None:
    """ml.c5.2xlarge x2 with data capture, busy at 10% of its vCPUs for two days."""
    create_scorer(
        sagemaker,
        c5_2xlarge(2),
        DataCaptureConfig={
            "EnableCapture": True,
            "InitialSamplingPercentage": 20,
            "DestinationS3Uri": "s3://fraud/capture",
            "CaptureOptions": [{"CaptureMode": "Input"}],
        },
        KmsKeyId="arn:aws:kms:us-east-1:123456789012:key/abc",
    )
    put_load(aws, cpu=80, memory=10, invocations=600)


def c5_2xlarge(instances: int) -> dict[str, Any]:
    return {"InstanceType": "ml.c5.2xlarge", "InitialInstanceCount": instances}


def all_traffic(capacity: dict[str, Any]) -> dict[str, Any]:
    """The endpoint's one production variant: fraud-model on `capacity` (instances or ServerlessConfig)."""
    return {"VariantName": "AllTraffic", "ModelName": "fraud-model", **capacity}


def create_scorer(
    sagemaker: Any, capacity: dict[str, Any], *, container: dict[str, str] | None = None, **config: Any
) -> None:
    """fraud-model (from `container`, an ECR image unless given) behind ENDPOINT on CONFIG, one variant
    of `capacity`; `config` goes to CreateEndpointConfig as it is."""
    sagemaker.create_model(
        ModelName="fraud-model",
        PrimaryContainer=container or {"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/x:1"},
        ExecutionRoleArn=ROLE,
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName=CONFIG, ProductionVariants=[all_traffic(capacity)], **config
    )
    sagemaker.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName=CONFIG)


def _five_minutes(value: float, instances: int) -> dict[str, float]:
    """A 5-minute aggregate of an instance metric: each instance reports once a minute."""
    samples = 5.0 * instances
    return {"SampleCount": samples, "Sum": value * samples, "Minimum": value, "Maximum": value}


def put_load(
    aws: EmbeddedAws,
    *,
    cpu: float,
    memory: float,
    invocations: float,
    hours: int = 48,
    instances: int = 2,
    endpoint: str = ENDPOINT,
    variant: str = "AllTraffic",
    first_hour: int = 1,
) -> None:
    """An hourly datapoint of `hours` hours from `first_hour` ago back: CPU/memory as 5-minute
    aggregates of `instances`."""
    cloudwatch = client_of(aws, "cloudwatch")
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    dims = [{"Name": "EndpointName", "Value": endpoint}, {"Name": "VariantName", "Value": variant}]
    for hour in range(first_hour, first_hour + hours):
        at = now - timedelta(hours=hour)
        cloudwatch.put_metric_data(
            Namespace="/aws/sagemaker/Endpoints",
            MetricData=[
                {
                    "MetricName": "CPUUtilization",
                    "Dimensions": dims,
                    "Timestamp": at,
                    "StatisticValues": _five_minutes(cpu, instances),
                },
                {
                    "MetricName": "MemoryUtilization",
                    "Dimensions": dims,
                    "Timestamp": at,
                    "StatisticValues": _five_minutes(memory, instances),
                },
            ],
        )
        cloudwatch.put_metric_data(
            Namespace="AWS/SageMaker",
            MetricData=[
                {"MetricName": "Invocations", "Dimensions": dims, "Timestamp": at, "Value": invocations},
                {
                    "MetricName": "InvocationsPerInstance",
                    "Dimensions": dims,
                    "Timestamp": at,
                    "Value": invocations / instances,
                },
            ],
        )


@pytest.fixture
def rightsizing(make_reconciler: ReconcilerFactory, clock: Clock) -> RightsizingReconciler:
    policies = make_reconciler()
    return RightsizingReconciler(policies.sessions, lambda: policies.governance.catalogue, clock=clock)


def spec(**fields: Any) -> EndpointRightsizingSpec:
    return EndpointRightsizingSpec.model_validate({"endpointName": ENDPOINT, **fields})


APPLY = {"mode": "Apply", "candidates": {"instanceTypes": ["ml.c5.xlarge", "ml.c5.2xlarge"]}}


def sweep(
    rightsizing: RightsizingReconciler,
    spec_: EndpointRightsizingSpec,
    previous: EndpointRightsizingStatus | None = None,
) -> RightsizingResult:
    return rightsizing.reconcile(REF, spec_, previous)


def writes(aws: EmbeddedAws) -> dict[tuple[str, str], int]:
    return {
        k: n
        for k, n in aws.calls().items()
        if k[0] in ("sagemaker", "application-autoscaling")
        and not k[1].startswith(("Describe", "List", "Search"))
    }


def endpoint_config(sagemaker: Any) -> str:
    return str(sagemaker.describe_endpoint(EndpointName=ENDPOINT)["EndpointConfigName"])


def test_recommend_mode_reports_the_cheapest_fit_and_changes_nothing(
    rightsizing: RightsizingReconciler, scorer: None, aws: EmbeddedAws
) -> None:
    aws.reset_calls()

    result = sweep(rightsizing, spec(candidates={"instanceTypes": ["ml.c5.xlarge", "ml.c5.2xlarge"]}))

    status = result.status
    assert condition(result, "Ready")[:2] == ("True", "Recommended")
    assert status.current is not None and (status.current.instance_type, status.current.instance_count) == (
        "ml.c5.2xlarge",
        2,
    )
    rec = status.recommendation
    assert rec is not None and (rec.instance_type, rec.instance_count) == ("ml.c5.xlarge", 1)
    assert rec.monthly_savings is not None and rec.monthly_savings > 0
    assert rec.source is not None and rec.source.value == "CloudWatch"
    assert "vCPU" in rec.reason
    assert [e.reason for e in result.outcome.events] == ["RecommendationChanged"]
    assert writes(aws) == {}
    assert sum(n for (svc, op), n in aws.calls().items() if op == "GetMetricData") == 1


def test_too_little_data_is_insufficient_not_a_guess(
    rightsizing: RightsizingReconciler, sagemaker: Any, aws: EmbeddedAws
) -> None:
    create_scorer(sagemaker, c5_2xlarge(1))

    result = sweep(rightsizing, spec())

    assert condition(result, "Ready")[:2] == ("True", "InsufficientData")
    assert result.status.recommendation is None


def test_missing_endpoint_and_wrong_variant(rightsizing: RightsizingReconciler, scorer: None) -> None:
    missing = rightsizing.reconcile(
        REF, EndpointRightsizingSpec.model_validate({"endpointName": "nope"}), None
    )
    wrong = sweep(rightsizing, spec(variantName="Blue"))

    assert condition(missing, "Ready")[:2] == ("False", "EndpointNotFound")
    _, reason, message = condition(wrong, "Ready")
    assert reason == "VariantNotFound" and "AllTraffic" in message


def test_apply_rolls_out_a_full_copy_and_records_it(
    rightsizing: RightsizingReconciler, scorer: None, sagemaker: Any, aws: EmbeddedAws
) -> None:
    aws.set_transition_delay(0)  # the next look at the endpoint sees the update finished
    started = sweep(rightsizing, spec(**APPLY))

    rollout = started.status.rollout
    assert rollout is not None and rollout.phase.value == "Updating"
    new = rollout.endpoint_config
    assert new.startswith("fraud-scorer-mlcost-")
    copied = sagemaker.describe_endpoint_config(EndpointConfigName=new)
    assert copied["ProductionVariants"][0]["InstanceType"] == "ml.c5.xlarge"
    assert copied["ProductionVariants"][0]["InitialInstanceCount"] == 1
    assert copied["DataCaptureConfig"]["DestinationS3Uri"] == "s3://fraud/capture"
    assert copied["KmsKeyId"] == "arn:aws:kms:us-east-1:123456789012:key/abc"
    tags = {
        t["Key"]: t["Value"] for t in sagemaker.list_tags(ResourceArn=copied["EndpointConfigArn"])["Tags"]
    }
    assert tags[MANAGED_BY_TAG] == OWNER
    assert condition(started, "Synced")[:2] == ("False", "EndpointUpdating")
    assert "RolloutStarted" in [e.reason for e in started.outcome.events]

    done = sweep(rightsizing, spec(**APPLY), started.status)

    assert done.status.rollout is not None and done.status.rollout.phase.value == "Succeeded"
    assert endpoint_config(sagemaker) == new
    assert done.status.last_applied is not None and done.status.last_applied.to_endpoint_config == new
    assert sagemaker.describe_endpoint_config(EndpointConfigName=CONFIG)  # not ours: kept
    assert condition(done, "Synced")[0] == "True"


def test_rollback_is_reported_and_never_retried(
    rightsizing: RightsizingReconciler, scorer: None, sagemaker: Any, aws: EmbeddedAws
) -> None:
    aws.set_transition_delay(0)
    started = sweep(rightsizing, spec(**APPLY))
    new = started.status.rollout.endpoint_config  # type: ignore[union-attr]
    aws.fail_endpoint_config(new, "Alarm fraud-scorer-5xx fired")

    rolled_back = sweep(rightsizing, spec(**APPLY), started.status)
    again = sweep(rightsizing, spec(**APPLY), rolled_back.status)

    assert rolled_back.status.rollout is not None and rolled_back.status.rollout.phase.value == "RolledBack"
    assert "RolloutRolledBack" in [e.reason for e in rolled_back.outcome.events]
    assert rolled_back.status.failed_endpoint_configs == [new]
    assert endpoint_config(sagemaker) == CONFIG
    assert new not in [c["EndpointConfigName"] for c in sagemaker.list_endpoint_configs()["EndpointConfigs"]]
    assert "RolloutStarted" not in [e.reason for e in again.outcome.events]
    assert "failed before" in condition(again, "Ready")[2]


def test_outside_the_window_only_recommends(
    rightsizing: RightsizingReconciler, scorer: None, aws: EmbeddedAws, clock: Clock
) -> None:
    other_day = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")[(clock.now.weekday() + 3) % 7]
    aws.reset_calls()

    result = sweep(rightsizing, spec(**APPLY, apply={"maintenanceWindow": f"{other_day} 02:00-04:00"}))

    assert result.status.recommendation is not None
    assert "waiting for the maintenance window" in condition(result, "Ready")[2]
    assert writes(aws) == {}


def test_update_refused_leaves_no_config_behind(
    rightsizing: RightsizingReconciler, scorer: None, sagemaker: Any, aws: EmbeddedAws
) -> None:
    aws.inject_error(
        "sagemaker", "UpdateEndpoint", "ValidationException", "Cannot update in-progress endpoint", count=None
    )

    result = sweep(rightsizing, spec(**APPLY))

    assert condition(result, "Ready")[:2] == ("False", "InvalidSpec")
    assert "Cannot update in-progress endpoint" in condition(result, "Ready")[2]
    names = [c["EndpointConfigName"] for c in sagemaker.list_endpoint_configs()["EndpointConfigs"]]
    assert names == [CONFIG]
    assert endpoint_config(sagemaker) == CONFIG


def test_config_orphaned_by_a_restart_is_cleaned_up(
    rightsizing: RightsizingReconciler, scorer: None, sagemaker: Any, aws: EmbeddedAws
) -> None:
    # The operator created its config, then stopped before UpdateEndpoint.
    endpoints = EndpointsClient(sagemaker)
    source = endpoints.describe_config(CONFIG)
    assert source is not None
    endpoints.create_config_copy(
        source, "fraud-scorer-mlcost-0123456789", {"AllTraffic": ("ml.c5.xlarge", 1)}, OWNER
    )

    result = sweep(rightsizing, spec())  # a restarted operator, in Recommend mode now

    assert "EndpointConfigDeleted" in [e.reason for e in result.outcome.events]
    names = [c["EndpointConfigName"] for c in sagemaker.list_endpoint_configs()["EndpointConfigs"]]
    assert names == [CONFIG]


def test_endpoint_updating_is_never_touched(
    rightsizing: RightsizingReconciler, scorer: None, sagemaker: Any, aws: EmbeddedAws
) -> None:
    aws.set_transition_delay(10)
    sagemaker.create_endpoint_config(
        EndpointConfigName="manual", ProductionVariants=[all_traffic(c5_2xlarge(2))]
    )
    sagemaker.update_endpoint(EndpointName=ENDPOINT, EndpointConfigName="manual")
    aws.reset_calls()

    result = sweep(rightsizing, spec(**APPLY))

    assert condition(result, "Synced")[:2] == ("False", "EndpointUpdating")
    assert "only changed when InService" in condition(result, "Ready")[2]
    assert ("sagemaker", "UpdateEndpoint") not in writes(aws)


def test_autoscaling_is_managed_and_removed_with_the_spec(
    rightsizing: RightsizingReconciler, scorer: None, aws: EmbeddedAws
) -> None:
    scaling = {"targetInvocationsPerInstance": 1000, "minInstances": 1, "maxInstances": 4}
    autoscaling = client_of(aws, "application-autoscaling")

    first = sweep(rightsizing, spec(autoscaling=scaling))
    aws.reset_calls()
    second = sweep(rightsizing, spec(autoscaling=scaling), first.status)
    assert writes(aws) == {}
    targets = autoscaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]
    assert [(t["MinCapacity"], t["MaxCapacity"]) for t in targets] == [(1, 4)]
    assert "AutoscalingUpdated" in [e.reason for e in first.outcome.events]

    removed = sweep(rightsizing, spec(), second.status)

    assert "AutoscalingRemoved" in [e.reason for e in removed.outcome.events]
    assert autoscaling.describe_scaling_policies(ServiceNamespace="sagemaker")["ScalingPolicies"] == []


def test_inference_recommender_job_not_done_is_a_condition(
    rightsizing: RightsizingReconciler, scorer: None, aws: EmbeddedAws
) -> None:
    result = sweep(rightsizing, spec(inferenceRecommender={"jobName": "fraud-scorer-ir"}))

    status, reason, message = condition(result, "InferenceRecommender")
    assert (status, reason) == ("False", "JobNotFound")
    assert "CloudWatch alone" in message
    assert result.status.recommendation is not None  # still recommends from CloudWatch


def test_unknown_candidate_is_a_condition(rightsizing: RightsizingReconciler, scorer: None) -> None:
    result = sweep(rightsizing, spec(candidates={"instanceTypes": ["ml.c5.xlarge", "ml.zz9.huge"]}))

    status, reason, message = condition(result, "CandidatesPriced")
    assert (status, reason) == ("False", "UnknownCandidates")
    assert "ml.zz9.huge" in message


def test_apply_with_managed_autoscaling_pauses_it_and_restores_it(
    rightsizing: RightsizingReconciler, scorer: None, sagemaker: Any, aws: EmbeddedAws
) -> None:
    aws.set_transition_delay(0)
    scaling = {"autoscaling": {"targetInvocationsPerInstance": 1000, "minInstances": 1, "maxInstances": 4}}
    autoscaling = client_of(aws, "application-autoscaling")
    recommended = sweep(rightsizing, spec(**scaling))  # Recommend mode registers the autoscaling
    assert "AutoscalingUpdated" in [e.reason for e in recommended.outcome.events]

    started = sweep(rightsizing, spec(**APPLY, **scaling), recommended.status)  # Apply pauses it
    assert "AutoscalingPaused" in [e.reason for e in started.outcome.events]
    assert started.status.rollout is not None
    assert autoscaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"] == []

    done = sweep(rightsizing, spec(**APPLY, **scaling), started.status)

    assert done.status.rollout is not None and done.status.rollout.phase.value == "Succeeded"
    assert endpoint_config(sagemaker) == started.status.rollout.endpoint_config
    targets = autoscaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]
    assert [(t["MinCapacity"], t["MaxCapacity"]) for t in targets] == [(1, 4)]


def test_autoscaling_registered_by_someone_else_blocks_apply(
    rightsizing: RightsizingReconciler, scorer: None, sagemaker: Any, aws: EmbeddedAws
) -> None:
    client_of(aws, "application-autoscaling").register_scalable_target(
        ServiceNamespace="sagemaker",
        ResourceId=f"endpoint/{ENDPOINT}/variant/AllTraffic",
        ScalableDimension="sagemaker:variant:DesiredInstanceCount",
        MinCapacity=2,
        MaxCapacity=6,
    )
    aws.reset_calls()

    result = sweep(rightsizing, spec(**APPLY))

    assert "autoscaling the operator did not register" in condition(result, "Ready")[2]
    assert ("sagemaker", "UpdateEndpoint") not in writes(aws)


def test_throttled_cloudwatch_is_reported_then_converges(
    make_reconciler: ReconcilerFactory, clock: Clock, scorer: None, aws: EmbeddedAws
) -> None:
    policies = make_reconciler(max_attempts=1)
    rightsizing = RightsizingReconciler(policies.sessions, lambda: policies.governance.catalogue, clock=clock)
    aws.inject_error("cloudwatch", "GetMetricData", "Throttling", "Rate exceeded", count=None)

    throttled = sweep(rightsizing, spec())

    assert condition(throttled, "Ready")[:2] == ("False", "Throttled")
    assert [e.reason for e in throttled.outcome.events] == ["Throttled"]
    aws.clear_errors()
    healed = sweep(rightsizing, spec(), throttled.status)
    assert condition(healed, "Ready")[0] == "True"
    assert healed.status.recommendation is not None


# ---------------------------------------------------------------------------- what AWS measures


def test_a_peak_served_by_4_instances_is_not_sized_for_the_1_running_now(
    rightsizing: RightsizingReconciler, sagemaker: Any, aws: EmbeddedAws
) -> None:
    """Autoscaling ran 4 instances at the peak, 1 runs now: Apply must not shrink below the peak."""
    create_scorer(sagemaker, c5_2xlarge(1))
    # Two days at 1 instance and 20% of its 8 vCPUs, and one hour at 4 instances each at 20%.
    put_load(aws, cpu=160, memory=10, invocations=600, instances=1, first_hour=2)
    put_load(aws, cpu=160, memory=10, invocations=2400, hours=1, instances=4)
    aws.reset_calls()

    result = sweep(rightsizing, spec(**APPLY))

    status = result.status
    assert status.utilization is not None and status.utilization.instances_at_peak == 4
    # 4 x 1.6 = 6.4 busy vCPUs: 80% of today's one ml.c5.2xlarge, so nothing smaller is cheaper.
    assert status.recommendation is not None
    assert (status.recommendation.instance_type, status.recommendation.instance_count) == ("ml.c5.2xlarge", 1)
    assert "6.4 vCPUs over 4 instances at the peak (1 now)" in status.recommendation.reason
    assert writes(aws) == {}  # sized from today's count, this rolled out ml.c5.xlarge x1


def test_a_long_lookback_says_which_resolution_it_read(
    rightsizing: RightsizingReconciler, scorer: None
) -> None:
    result = sweep(rightsizing, spec(lookback="30d"))

    utilization = result.status.utilization
    assert utilization is not None
    assert (utilization.period_seconds, utilization.invocations_period_seconds) == (300, 300)
    # 300 invocations per instance in one 5-minute Sum are 60 a minute, not 300.
    assert utilization.invocations_per_instance == 60


@pytest.mark.parametrize("lookback", ["456d", "12h", "20160m"])
def test_a_lookback_cloudwatch_cannot_answer_is_refused_by_the_schema(lookback: str) -> None:
    with pytest.raises(ValueError, match="from 1d to 455d"):
        spec(lookback=lookback)


def test_apply_refuses_a_candidate_the_copy_cannot_carry(
    rightsizing: RightsizingReconciler, sagemaker: Any, aws: EmbeddedAws
) -> None:
    """The variant's managed scaling keeps 2-4 instances: a copy with 1 instance is never created."""
    create_scorer(
        sagemaker,
        {
            **c5_2xlarge(2),
            "ManagedInstanceScaling": {"Status": "ENABLED", "MinInstanceCount": 2, "MaxInstanceCount": 4},
        },
    )
    put_load(aws, cpu=80, memory=10, invocations=600)
    aws.reset_calls()

    first = sweep(rightsizing, spec(**APPLY))
    again = sweep(rightsizing, spec(**APPLY), first.status)

    _, reason, message = condition(first, "Ready")
    assert reason == "Recommended" and "not applied: variant AllTraffic cannot move" in message
    assert "ManagedInstanceScaling keeps 2-4 instances" in message
    assert [e.reason for e in first.outcome.events if e.type == "Warning"] == ["CandidateIncompatible"]
    assert "CandidateIncompatible" not in [e.reason for e in again.outcome.events]  # one Event
    assert writes(aws) == {}
    assert endpoint_config(sagemaker) == CONFIG


def test_autoscaling_is_refused_on_a_serverless_variant(
    rightsizing: RightsizingReconciler, sagemaker: Any, aws: EmbeddedAws
) -> None:
    create_scorer(sagemaker, {"ServerlessConfig": {"MemorySizeInMB": 2048, "MaxConcurrency": 5}})
    scaling = {"targetInvocationsPerInstance": 1000, "minInstances": 1, "maxInstances": 4}
    aws.reset_calls()

    first = sweep(rightsizing, spec(autoscaling=scaling))
    again = sweep(rightsizing, spec(autoscaling=scaling), first.status)

    status, reason, message = condition(first, "Autoscaling")
    assert (status, reason) == ("False", "AutoscalingUnsupported")
    assert "serverless" in message and "DesiredProvisionedConcurrency" in message
    assert "AutoscalingUnsupported" in [e.reason for e in first.outcome.events]
    assert "AutoscalingUnsupported" not in [e.reason for e in again.outcome.events]
    assert writes(aws) == {}
    assert first.status.managed_autoscaling is None


def test_autoscaling_on_invocations_is_refused_on_an_async_endpoint(
    rightsizing: RightsizingReconciler, sagemaker: Any, aws: EmbeddedAws
) -> None:
    """SageMaker publishes no InvocationsPerInstance for async endpoints: the policy would never scale."""
    create_scorer(
        sagemaker, c5_2xlarge(1), AsyncInferenceConfig={"OutputConfig": {"S3OutputPath": "s3://fraud/async"}}
    )
    aws.reset_calls()

    result = sweep(
        rightsizing,
        spec(autoscaling={"targetInvocationsPerInstance": 10, "minInstances": 1, "maxInstances": 4}),
    )

    status, reason, message = condition(result, "Autoscaling")
    assert (status, reason) == ("False", "AutoscalingUnsupported")
    assert "asynchronous" in message and "ApproximateBacklogSizePerInstance" in message
    assert writes(aws) == {}


def _ir_job(aws: EmbeddedAws, sagemaker: Any, **input_config: Any) -> None:
    sagemaker.create_inference_recommendations_job(
        JobName="fraud-scorer-ir", JobType="Default", RoleArn=ROLE, InputConfig=input_config
    )
    aws.set_inference_recommendations(
        "fraud-scorer-ir",
        "COMPLETED",
        [{"InstanceType": "ml.m5.large", "CostPerHour": 0.115, "ModelLatency": 30, "MaxInvocations": 5000}],
    )


def test_inference_recommender_results_of_another_model_are_not_used(
    rightsizing: RightsizingReconciler, scorer: None, sagemaker: Any, aws: EmbeddedAws
) -> None:
    sagemaker.create_model(ModelName="other-model", PrimaryContainer={"Image": "i"}, ExecutionRoleArn=ROLE)
    _ir_job(aws, sagemaker, ModelName="other-model")

    result = sweep(
        rightsizing,
        spec(
            inferenceRecommender={"jobName": "fraud-scorer-ir"},
            candidates={"instanceTypes": ["ml.c5.xlarge"]},
        ),
    )

    status, reason, message = condition(result, "InferenceRecommender")
    assert (status, reason) == ("False", "ModelMismatch")
    assert "model other-model" in message and "variant AllTraffic serves model fraud-model" in message
    assert result.status.recommendation is not None
    assert result.status.recommendation.source is not None
    assert result.status.recommendation.source.value == "CloudWatch"  # not the other model's m5.large


def test_inference_recommender_results_for_the_variants_model_package_are_used(
    rightsizing: RightsizingReconciler, sagemaker: Any, aws: EmbeddedAws
) -> None:
    package = "arn:aws:sagemaker:us-east-1:123456789012:model-package/fraud/3"
    create_scorer(sagemaker, c5_2xlarge(2), container={"ModelPackageName": package})
    put_load(aws, cpu=80, memory=10, invocations=600)
    _ir_job(aws, sagemaker, ModelPackageVersionArn=package)

    result = sweep(rightsizing, spec(inferenceRecommender={"jobName": "fraud-scorer-ir"}))

    status, reason, message = condition(result, "InferenceRecommender")
    assert (status, reason) == ("True", "JobCompleted")
    assert "for variant(s) AllTraffic" in message
    rec = result.status.recommendation
    assert rec is not None and (rec.instance_type, rec.instance_count) == ("ml.m5.large", 1)
    assert rec.source is not None and rec.source.value == "InferenceRecommender"


def test_apply_with_an_unpriced_current_type_says_which_price_to_supply(
    make_reconciler: ReconcilerFactory, clock: Clock, scorer: None, aws: EmbeddedAws
) -> None:
    from mlcost.domain.catalogue import PriceCatalogue, Usage

    policies = make_reconciler()
    shipped = policies.governance.catalogue
    unpriced = PriceCatalogue(
        specs=shipped.specs(),
        prices=[
            p for p in shipped.prices() if (p.instance_type, p.usage) != ("ml.c5.2xlarge", Usage.HOSTING)
        ],
    )
    rightsizing = RightsizingReconciler(policies.sessions, lambda: unpriced, clock=clock)
    aws.reset_calls()

    result = sweep(rightsizing, spec(**APPLY))

    message = condition(result, "Ready")[2]
    assert "saving is unknown" in message
    assert "hosting ml.c5.2xlarge in us-east-1" in message  # which price is missing...
    assert "MLCOST_PRICE_CATALOGUE" in message  # ...and how to supply it
    assert writes(aws) == {}
