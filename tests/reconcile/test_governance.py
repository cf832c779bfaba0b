"""Governance against the embedded AWS: Audit reports, Enforce marks, waits, acts, and copes
with resources that vanish, refuse, or throttle."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from moto.sagemaker.models import sagemaker_backends

from mlcost.api.v1alpha1.mlcostpolicy import CostKind, MLCostPolicySpec, MLCostPolicyStatus
from mlcost.domain.enforcement import VIOLATION_TAG
from mlcost.embedded.server import DEFAULT_ACCOUNT_ID, EmbeddedAws
from mlcost.reconcile.policy import PolicyReconciler, PolicyResult
from mlcost.reconcile.results import ObjectRef
from tests.conftest import client_of
from tests.reconcile.conftest import Clock, ReconcilerFactory
from tests.reconcile.test_budget_lifecycle import condition

REF = ObjectRef("team-fraud", "fraud-detection", generation=1)
ROLE = "arn:aws:iam::123456789012:role/sm"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/xgboost:1"
TEAM = {"team": "fraud", "project": "scoring"}


@pytest.fixture
def sagemaker(aws: EmbeddedAws) -> Any:
    return client_of(aws, "sagemaker")


def notebook(
    sagemaker: Any, name: str, instance_type: str = "ml.t3.medium", tags: dict[str, str] = TEAM
) -> None:
    sagemaker.create_notebook_instance(
        NotebookInstanceName=name,
        InstanceType=instance_type,
        RoleArn=ROLE,
        Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
    )


def endpoint(sagemaker: Any, name: str, capacity: dict[str, Any] | None = None, **config: Any) -> None:
    """An endpoint of the team on `capacity` (one ml.c5.xlarge unless given: instances or a
    ServerlessConfig); `config` goes to CreateEndpointConfig as it is."""
    tags = [{"Key": k, "Value": v} for k, v in TEAM.items()]
    sagemaker.create_model(ModelName=f"{name}-m", PrimaryContainer={"Image": IMAGE}, ExecutionRoleArn=ROLE)
    sagemaker.create_endpoint_config(
        EndpointConfigName=f"{name}-c",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": f"{name}-m",
                **(capacity or {"InstanceType": "ml.c5.xlarge", "InitialInstanceCount": 1}),
            }
        ],
        **config,
    )
    sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=f"{name}-c", Tags=tags)


def training_job(sagemaker: Any, name: str, *, spot: bool, instance_type: str = "ml.m5.xlarge") -> None:
    stopping = {"MaxRuntimeInSeconds": 3600, **({"MaxWaitTimeInSeconds": 7200} if spot else {})}
    sagemaker.create_training_job(
        TrainingJobName=name,
        AlgorithmSpecification={"TrainingImage": IMAGE, "TrainingInputMode": "File"},
        RoleArn=ROLE,
        OutputDataConfig={"S3OutputPath": "s3://b/o"},
        ResourceConfig={"InstanceType": instance_type, "InstanceCount": 1, "VolumeSizeInGB": 10},
        StoppingCondition=stopping,
        EnableManagedSpotTraining=spot,
        Tags=[{"Key": k, "Value": v} for k, v in TEAM.items()],
    )


def policy(mode: str = "Enforce", **rules: Any) -> MLCostPolicySpec:
    return MLCostPolicySpec.model_validate(
        {"mode": mode, "scope": {"tags": {"team": "fraud"}}, "enforcement": {"gracePeriod": "1h"}, **rules}
    )


NOTEBOOK_TYPES = {"notebooks": {"allowedInstanceTypes": ["ml.t3.medium"]}}


def tags_of(sagemaker: Any, name: str) -> dict[str, str]:
    arn = sagemaker.describe_notebook_instance(NotebookInstanceName=name)["NotebookInstanceArn"]
    return {t["Key"]: t["Value"] for t in sagemaker.list_tags(ResourceArn=arn)["Tags"]}


def notebook_status(sagemaker: Any, name: str) -> str:
    return str(sagemaker.describe_notebook_instance(NotebookInstanceName=name)["NotebookInstanceStatus"])


def across_the_grace_period(
    sweep: Sweeper, clock: Clock, spec: MLCostPolicySpec
) -> tuple[PolicyResult, PolicyResult]:
    """A sweep, then one two hours later: past policy()'s 1h grace period."""
    first = sweep(spec)
    clock.advance(timedelta(hours=2))
    return first, sweep(spec)


def sagemaker_writes(aws: EmbeddedAws) -> dict[str, int]:
    return {
        op: n
        for (svc, op), n in aws.calls().items()
        if svc == "sagemaker" and not op.startswith(("List", "Describe", "Search"))
    }


Sweeper = Callable[..., PolicyResult]


@pytest.fixture
def sweep(make_reconciler: ReconcilerFactory) -> Sweeper:
    """sweep(spec) reconciles the policy again, carrying its status from sweep to sweep."""
    reconciler: PolicyReconciler = make_reconciler(inventory_max_age=timedelta(0))
    status: dict[str, MLCostPolicyStatus] = {}

    def run(spec: MLCostPolicySpec, reconciler_: PolicyReconciler | None = None) -> PolicyResult:
        result = (reconciler_ or reconciler).reconcile(REF, spec, status.get("last"))
        status["last"] = result.status
        return result

    return run


def test_audit_reports_and_changes_nothing(sweep: Sweeper, sagemaker: Any, aws: EmbeddedAws) -> None:
    notebook(sagemaker, "fraud-gpu", "ml.m5.xlarge")
    notebook(sagemaker, "fraud-ok")
    notebook(sagemaker, "other-team", "ml.m5.xlarge", tags={"team": "risk"})
    aws.reset_calls()

    result = sweep(policy("Audit", **NOTEBOOK_TYPES))

    compliance = result.status.compliance
    assert compliance is not None
    assert compliance.evaluated == 2 and compliance.violations == 1
    assert compliance.by_rule == {"InstanceTypeNotAllowed": 1}
    item = compliance.items[0]
    assert (item.name, item.rule, item.action) == ("fraud-gpu", "InstanceTypeNotAllowed", "WouldStop")
    assert item.monthly_cost is not None  # ml.m5.xlarge notebooks have a known price
    assert condition(result, "Compliant")[:2] == ("False", "ViolationsFound")
    assert condition(result, "Ready")[0] == "True"
    assert sagemaker_writes(aws) == {}


def test_enforce_marks_waits_then_stops(sweep: Sweeper, sagemaker: Any, clock: Clock) -> None:
    notebook(sagemaker, "fraud-gpu", "ml.m5.xlarge")

    marked = sweep(policy(**NOTEBOOK_TYPES))

    assert VIOLATION_TAG in tags_of(sagemaker, "fraud-gpu")
    assert notebook_status(sagemaker, "fraud-gpu") == "InService"
    assert [e.reason for e in marked.outcome.events] == ["ViolationMarked"]
    pending = marked.status.compliance.items[0].pending_action  # type: ignore[union-attr]
    assert pending is not None and "stop due at" in pending

    clock.advance(timedelta(minutes=30))
    waiting = sweep(policy(**NOTEBOOK_TYPES))
    assert waiting.outcome.events == []
    assert notebook_status(sagemaker, "fraud-gpu") == "InService"

    clock.advance(timedelta(minutes=31))
    acted = sweep(policy(**NOTEBOOK_TYPES))
    assert [e.reason for e in acted.outcome.events] == ["NotebookStopped"]
    assert notebook_status(sagemaker, "fraud-gpu") == "Stopped"
    assert acted.status.compliance.items[0].action == "Stopped"  # type: ignore[union-attr]

    after = sweep(policy(**NOTEBOOK_TYPES))  # stopped: nothing left to act on, so unmarked
    assert [e.reason for e in after.outcome.events] == ["ViolationCleared"]
    assert VIOLATION_TAG not in tags_of(sagemaker, "fraud-gpu")


def test_compliant_during_grace_is_unmarked_and_left_running(
    sweep: Sweeper, sagemaker: Any, clock: Clock
) -> None:
    notebook(sagemaker, "fraud-gpu", "ml.m5.xlarge")
    sweep(policy(**NOTEBOOK_TYPES))

    allowed = policy(notebooks={"allowedInstanceTypes": ["ml.t3.medium", "ml.m5.xlarge"]})
    clock.advance(timedelta(hours=2))
    result = sweep(allowed)

    assert [e.reason for e in result.outcome.events] == ["ViolationCleared"]
    assert notebook_status(sagemaker, "fraud-gpu") == "InService"


def test_missing_default_tag_added_wrong_value_only_reported(sweep: Sweeper, sagemaker: Any) -> None:
    notebook(sagemaker, "fraud-a", tags={"team": "fraud"})
    notebook(sagemaker, "fraud-b", tags={"team": "fraud", "cost-center": "marketing"})
    rules = {
        "tagging": {
            "required": [{"key": "cost-center", "pattern": "^cc-[0-9]{4}$"}],
            "defaults": {"cost-center": "cc-0042"},
        }
    }

    result = sweep(policy(**rules))

    assert tags_of(sagemaker, "fraud-a")["cost-center"] == "cc-0042"
    assert tags_of(sagemaker, "fraud-b")["cost-center"] == "marketing"
    assert [e.reason for e in result.outcome.events if e.type.value == "Normal"] == ["TagsAdded"]
    assert result.status.compliance.by_rule == {"MissingTag": 1, "TagPatternMismatch": 1}  # type: ignore[union-attr]


def test_running_training_job_without_spot_is_stopped_after_grace(
    sweep: Sweeper, sagemaker: Any, aws: EmbeddedAws, clock: Clock
) -> None:
    training_job(sagemaker, "fraud-xgb", spot=False)
    aws.hold_training_jobs(["fraud-xgb"])
    rules = {"training": {"requireManagedSpot": True}}

    _, result = across_the_grace_period(sweep, clock, policy(**rules))

    assert [e.reason for e in result.outcome.events] == ["TrainingJobStopped"]
    assert sagemaker.describe_training_job(TrainingJobName="fraud-xgb")["TrainingJobStatus"] in (
        "Stopping",
        "Stopped",
    )


def test_idle_endpoint_deleted_config_kept(sweep: Sweeper, sagemaker: Any, clock: Clock) -> None:
    endpoint(sagemaker, "fraud-legacy")
    rules = {"endpoints": {"idle": {"window": "7d", "maxInvocations": 0, "action": "Delete"}}}
    clock.advance(timedelta(days=8))  # the endpoint is now older than the window, with no traffic

    marked = sweep(policy(**rules))
    assert [e.reason for e in marked.outcome.events] == ["ViolationMarked"]
    # ml.c5.xlarge hosting at $0.204/h for 730 h.
    assert marked.status.compliance.idle_monthly_waste == Decimal("148.92")  # type: ignore[union-attr]
    clock.advance(timedelta(hours=2))
    deleted = sweep(policy(**rules))

    assert [e.reason for e in deleted.outcome.events] == ["EndpointDeleted"]
    assert "fraud-legacy-c" in deleted.outcome.events[0].message
    assert sagemaker.list_endpoints()["Endpoints"] == []
    assert sagemaker.describe_endpoint_config(EndpointConfigName="fraud-legacy-c")


IDLE_DELETE: dict[str, Any] = {
    "endpoints": {"idle": {"window": "7d", "maxInvocations": 0, "action": "Delete"}}
}


def async_endpoint(sagemaker: Any, name: str) -> None:
    """An asynchronous endpoint: its config has AsyncInferenceConfig."""
    endpoint(sagemaker, name, AsyncInferenceConfig={"OutputConfig": {"S3OutputPath": "s3://fraud/async-out"}})


def publish(
    aws: EmbeddedAws,
    clock: Clock,
    metric: str,
    value: float,
    dimensions: dict[str, str],
    hours_ago: float = 6,
) -> None:
    """One datapoint of a SageMaker metric, as SageMaker would publish it."""
    client_of(aws, "cloudwatch").put_metric_data(
        Namespace="AWS/SageMaker",
        MetricData=[
            {
                "MetricName": metric,
                "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions.items()],
                "Timestamp": clock.now - timedelta(hours=hours_ago),
                "Value": value,
                "Unit": "None",
            }
        ],
    )


def endpoint_names(sagemaker: Any) -> list[str]:
    return sorted(e["EndpointName"] for e in sagemaker.list_endpoints()["Endpoints"])


def test_busy_async_endpoint_is_never_deleted(
    sweep: Sweeper, sagemaker: Any, aws: EmbeddedAws, clock: Clock
) -> None:
    # Busy the way an async endpoint shows it: requests processed and queued, and (as AWS
    # documents for async endpoints) no Invocations at all.
    async_endpoint(sagemaker, "fraud-batch")
    clock.advance(timedelta(days=8))
    variant = {"EndpointName": "fraud-batch", "VariantName": "AllTraffic"}
    publish(aws, clock, "InvocationsProcessed", 1200, variant)
    publish(aws, clock, "ApproximateBacklogSize", 35, {"EndpointName": "fraud-batch"})
    aws.reset_calls()

    first, second = across_the_grace_period(sweep, clock, policy(**IDLE_DELETE))

    assert endpoint_names(sagemaker) == ["fraud-batch"]
    for result in (first, second):
        assert result.status.compliance.by_rule == {}  # type: ignore[union-attr]
        assert [e.reason for e in result.outcome.events] == []
    assert sagemaker_writes(aws) == {}
    assert condition(second, "Compliant")[:2] == ("True", "NoViolations")


def test_async_endpoint_with_only_a_backlog_is_busy(
    sweep: Sweeper, sagemaker: Any, aws: EmbeddedAws, clock: Clock
) -> None:
    async_endpoint(sagemaker, "fraud-batch")
    clock.advance(timedelta(days=8))
    # Nothing processed in the window (scaled to zero instances, say), but requests wait.
    publish(aws, clock, "ApproximateBacklogSize", 4, {"EndpointName": "fraud-batch"}, hours_ago=100)

    _, result = across_the_grace_period(sweep, clock, policy(**IDLE_DELETE))

    assert endpoint_names(sagemaker) == ["fraud-batch"]
    assert result.status.compliance.violations == 0  # type: ignore[union-attr]


def test_idle_async_endpoint_is_judged_by_what_it_processed(
    sweep: Sweeper, sagemaker: Any, aws: EmbeddedAws, clock: Clock
) -> None:
    async_endpoint(sagemaker, "fraud-batch")
    clock.advance(timedelta(days=8))
    # Processed long ago, outside the 7d window: idle now.
    variant = {"EndpointName": "fraud-batch", "VariantName": "AllTraffic"}
    publish(aws, clock, "InvocationsProcessed", 500, variant, hours_ago=24 * 7.5)

    marked, deleted = across_the_grace_period(sweep, clock, policy(**IDLE_DELETE))

    item = marked.status.compliance.items[0]  # type: ignore[union-attr]
    assert (item.name, item.rule) == ("fraud-batch", "IdleEndpoint")
    assert "InvocationsProcessed" in item.detail and "ApproximateBacklogSize" in item.detail
    assert [e.reason for e in deleted.outcome.events] == ["EndpointDeleted"]
    assert endpoint_names(sagemaker) == []


def test_serverless_endpoint_is_judged_by_its_invocations(
    sweep: Sweeper, sagemaker: Any, aws: EmbeddedAws, clock: Clock
) -> None:
    for name in ("fraud-busy", "fraud-idle"):
        endpoint(sagemaker, name, {"ServerlessConfig": {"MemorySizeInMB": 2048, "MaxConcurrency": 5}})
    clock.advance(timedelta(days=8))
    publish(aws, clock, "Invocations", 80, {"EndpointName": "fraud-busy", "VariantName": "AllTraffic"})

    _, result = across_the_grace_period(sweep, clock, policy(**IDLE_DELETE))

    assert [e.reason for e in result.outcome.events] == ["EndpointDeleted"]
    assert endpoint_names(sagemaker) == ["fraud-busy"]


def test_inference_component_endpoint_is_not_judged_and_says_so(
    sweep: Sweeper, sagemaker: Any, aws: EmbeddedAws, clock: Clock
) -> None:
    # Models run as inference components: the variant names no model.
    sagemaker.create_endpoint_config(
        EndpointConfigName="fraud-llm-c",
        ExecutionRoleArn=ROLE,
        ProductionVariants=[
            {"VariantName": "AllTraffic", "InstanceType": "ml.g5.xlarge", "InitialInstanceCount": 1}
        ],
    )
    tags = [{"Key": k, "Value": v} for k, v in TEAM.items()]
    sagemaker.create_endpoint(EndpointName="fraud-llm", EndpointConfigName="fraud-llm-c", Tags=tags)
    clock.advance(timedelta(days=8))
    aws.reset_calls()

    first, second = across_the_grace_period(sweep, clock, policy(**IDLE_DELETE))

    assert endpoint_names(sagemaker) == ["fraud-llm"]
    assert sagemaker_writes(aws) == {}
    compliance = second.status.compliance
    assert compliance is not None and compliance.violations == 0 and compliance.by_rule == {}
    (item,) = compliance.items
    assert (item.name, item.rule, item.action) == ("fraud-llm", "IdleNotJudged", None)
    assert "inference components" in item.detail and "not acted on" in item.detail
    # Said once, when first seen, not at every sweep.
    assert [e.reason for e in first.outcome.events] == ["IdleNotJudged"]
    assert second.outcome.events == []
    # Nothing to read for it: no CloudWatch request at all.
    assert ("cloudwatch", "GetMetricData") not in aws.calls()


def test_at_most_max_actions_per_sweep(sweep: Sweeper, sagemaker: Any, aws: EmbeddedAws) -> None:
    for i in range(3):
        notebook(sagemaker, f"fraud-gpu-{i}", "ml.m5.xlarge")
    capped = policy(**NOTEBOOK_TYPES, enforcement={"gracePeriod": "1h", "maxActionsPerSweep": 2})
    aws.reset_calls()

    first = sweep(capped)
    second = sweep(capped)

    assert [len(first.outcome.events), len(second.outcome.events)] == [2, 1]
    assert sagemaker_writes(aws) == {"AddTags": 3}
    assert any(
        "maxActionsPerSweep 2 reached" in (i.pending_action or "") for i in first.status.compliance.items
    )  # type: ignore[union-attr]


def test_resource_deleted_between_listing_and_acting(
    make_reconciler: ReconcilerFactory, sagemaker: Any, clock: Clock
) -> None:
    notebook(sagemaker, "fraud-gpu", "ml.m5.xlarge")
    reconciler = make_reconciler(inventory_max_age=timedelta(hours=1))
    listed = reconciler.reconcile(REF, policy("Audit", **NOTEBOOK_TYPES), None)  # lists it
    sagemaker.stop_notebook_instance(NotebookInstanceName="fraud-gpu")
    sagemaker.delete_notebook_instance(NotebookInstanceName="fraud-gpu")

    result = reconciler.reconcile(REF, policy(**NOTEBOOK_TYPES), listed.status)

    assert [e.reason for e in result.outcome.events] == ["ResourceGone"]
    assert condition(result, "Ready")[0] == "True"


def test_notebook_that_cannot_be_stopped_is_reported_and_retried(
    sweep: Sweeper, sagemaker: Any, aws: EmbeddedAws, clock: Clock
) -> None:
    notebook(sagemaker, "fraud-gpu", "ml.m5.xlarge")
    sweep(policy(**NOTEBOOK_TYPES))
    clock.advance(timedelta(hours=2))
    aws.inject_error(
        "sagemaker", "StopNotebookInstance", "ValidationException", "Status (Updating) not in ([InService])"
    )

    refused = sweep(policy(**NOTEBOOK_TYPES))
    retried = sweep(policy(**NOTEBOOK_TYPES))

    assert [e.reason for e in refused.outcome.events] == ["ActionFailed"]
    assert "Updating" in refused.outcome.events[0].message
    assert [e.reason for e in retried.outcome.events] == ["NotebookStopped"]


def test_throttling_mid_sweep_leaves_the_rest_for_next_sweep(
    make_reconciler: ReconcilerFactory, sagemaker: Any, aws: EmbeddedAws
) -> None:
    for i in range(3):
        notebook(sagemaker, f"fraud-gpu-{i}", "ml.m5.xlarge")
    reconciler = make_reconciler(max_attempts=1, inventory_max_age=timedelta(0))
    aws.inject_error("sagemaker", "AddTags", "ThrottlingException", "Rate exceeded", count=None)

    throttled = reconciler.reconcile(REF, policy(**NOTEBOOK_TYPES), None)

    assert condition(throttled, "Ready")[1] == "Throttled"
    aws.clear_errors()
    aws.reset_calls()
    healed = reconciler.reconcile(REF, policy(**NOTEBOOK_TYPES), throttled.status)
    assert condition(healed, "Ready")[0] == "True"
    assert sagemaker_writes(aws) == {"AddTags": 3}
    assert all(VIOLATION_TAG in tags_of(sagemaker, f"fraud-gpu-{i}") for i in range(3))


def test_breach_stops_notebooks(sweep: Sweeper, sagemaker: Any, aws: EmbeddedAws, clock: Clock) -> None:
    from tests.reconcile.test_spend import queue_month

    notebook(sagemaker, "fraud-eda")
    queue_month(aws, clock, "500.00", "0.00")  # far beyond a 100 USD limit
    rules = {
        "budget": {"limit": "100"},
        "breachActions": [{"atPercent": "100", "stopNotebooks": True}],
    }
    first = sweep(policy(**rules))
    assert first.status.compliance.by_rule == {"BudgetBreached": 1}  # type: ignore[union-attr]
    clock.advance(timedelta(hours=2))
    # Past the Cost Explorer interval (and maybe into the next day), spend is asked for again.
    queue_month(aws, clock, "500.00", "0.00")

    result = sweep(policy(**rules))

    assert "NotebookStopped" in [e.reason for e in result.outcome.events]
    assert notebook_status(sagemaker, "fraud-eda") == "Stopped"


def test_inactive_cost_allocation_tags_are_a_condition(
    sweep: Sweeper, sagemaker: Any, aws: EmbeddedAws
) -> None:
    aws.set_cost_allocation_tags(
        [{"TagKey": "team", "Status": "Active"}, {"TagKey": "project", "Status": "Inactive"}]
    )
    rules = {"tagging": {"required": [{"key": "team"}, {"key": "project"}]}}

    result = sweep(policy("Audit", **rules))

    status, reason, message = condition(result, "CostAllocationTagsActive")
    assert (status, reason) == ("False", "TagsInactive")
    assert "project" in message and "team" not in message.split("are not")[0]
    assert "CostAllocationTagsInactive" in [e.reason for e in result.outcome.events]


def _saturday_noon_utc(clock: Clock) -> None:
    days_ahead = (5 - clock.now.weekday()) % 7 or 7
    clock.now = (clock.now + timedelta(days=days_ahead)).replace(hour=12, minute=0, second=0)


# (rule, rules of the policy, set-up, what Enforce does once the grace period is over)
RULE_CASES = [
    ("MaxUptimeExceeded", {"notebooks": {"maxUptime": "12h"}},
     lambda sm, a, c: (notebook(sm, "fraud-nb"), c.advance(timedelta(hours=13))), "NotebookStopped"),
    ("OutsideActiveHours",
     {"notebooks": {"schedule": {"timezone": "Europe/Berlin", "activeHours": "Mon-Fri 07:00-20:00"}}},
     lambda sm, a, c: (notebook(sm, "fraud-nb"), _saturday_noon_utc(c)), "NotebookStopped"),
    ("InstanceTypeNotAllowed", {"notebooks": {"allowedInstanceTypes": ["ml.t3.medium"]}},
     lambda sm, a, c: notebook(sm, "fraud-nb", "ml.m5.xlarge"), "NotebookStopped"),
    ("SpotNotUsed", {"training": {"requireManagedSpot": True}},
     lambda sm, a, c: (training_job(sm, "fraud-job", spot=False), a.hold_training_jobs(["fraud-job"])),
     "TrainingJobStopped"),
    ("MaxRuntimeExceeded", {"training": {"maxRuntime": "30m"}},
     lambda sm, a, c: (training_job(sm, "fraud-job", spot=True), a.hold_training_jobs(["fraud-job"])),
     "TrainingJobStopped"),
    ("IdleEndpoint", {"endpoints": {"idle": {"window": "7d", "action": "Delete"}}},
     lambda sm, a, c: (endpoint(sm, "fraud-ep"), c.advance(timedelta(days=8))), "EndpointDeleted"),
    ("TagValueNotAllowed", {"tagging": {"required": [{"key": "project", "allowedValues": ["fraud"]}]}},
     lambda sm, a, c: notebook(sm, "fraud-nb"), None),
    ("InstanceTypeNotAllowed", {"endpoints": {"allowedInstanceTypes": ["ml.m5.xlarge"]}},
     lambda sm, a, c: endpoint(sm, "fraud-ep"), None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("rule", "rules", "setup", "enforced"), RULE_CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(RULE_CASES)]
)
@pytest.mark.parametrize("mode", ["Audit", "Enforce"])
def test_each_rule_in_both_modes(
    mode: str,
    rule: str,
    rules: dict[str, Any],
    setup: Callable[[Any, EmbeddedAws, Clock], object],
    enforced: str | None,
    sweep: Sweeper,
    sagemaker: Any,
    aws: EmbeddedAws,
    clock: Clock,
) -> None:
    setup(sagemaker, aws, clock)
    aws.reset_calls()

    first, second = across_the_grace_period(sweep, clock, policy(mode, **rules))

    assert rule in first.status.compliance.by_rule  # type: ignore[union-attr]
    reasons = [e.reason for e in first.outcome.events + second.outcome.events if e.type.value == "Normal"]
    if mode == "Audit" or enforced is None:
        assert sagemaker_writes(aws) == {}
        assert reasons == []
    else:
        assert reasons == ["ViolationMarked", enforced]


def billed(name: str, *, training: int, billable: int) -> None:
    """What SageMaker reports for a finished job; moto never sets these times, so set them on its job."""
    job = sagemaker_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].training_jobs[name]
    setattr(job, "training_time_in_seconds", training)  # noqa: B010 (moto declares no such field)
    setattr(job, "billable_time_in_seconds", billable)  # noqa: B010


def test_finished_jobs_show_what_they_cost_once_and_unpriced_ones_say_why(
    sweep: Sweeper, sagemaker: Any
) -> None:
    notebook(sagemaker, "fraud-nb", "ml.m5.xlarge")  # running: $0.23/h x 730 h a month
    training_job(sagemaker, "fraud-spot", spot=True)
    billed("fraud-spot", training=36000, billable=14400)  # Managed Spot: billed 4 h of 10 h
    training_job(sagemaker, "fraud-plain", spot=False)
    billed("fraud-plain", training=3600, billable=3600)
    # The shipped catalogue knows ml.p3.2xlarge only "for notebook or training", not for training.
    training_job(sagemaker, "fraud-p3", spot=False, instance_type="ml.p3.2xlarge")
    billed("fraud-p3", training=600, billable=600)

    result = sweep(policy("Audit", tagging={"required": [{"key": "owner"}]}))

    compliance = result.status.compliance
    assert compliance is not None
    shown = [(i.name, i.cost, i.cost_kind, i.monthly_cost) for i in compliance.items]
    assert shown == [
        ("fraud-nb", Decimal("167.90"), CostKind.MONTHLY, Decimal("167.90")),
        # 4 billable hours x $0.23/h, once; it costs nothing more per month.
        ("fraud-spot", Decimal("0.92"), CostKind.ONE_OFF, Decimal(0)),
        ("fraud-plain", Decimal("0.23"), CostKind.ONE_OFF, Decimal(0)),
        ("fraud-p3", None, CostKind.ONE_OFF, Decimal(0)),
    ]
    spot = compliance.items[1].cost_basis or ""
    assert spot.startswith("14400 billable s, Managed Spot x 1 x $0.23/h ml.m5.xlarge training us-east-1")
    unpriced = compliance.items[3].cost_basis or ""
    assert unpriced.startswith(
        "unknown: the price catalogue has no price for training ml.p3.2xlarge in us-east-1"
    )
    assert "MLCOST_PRICE_CATALOGUE" in unpriced
    # The status as written to Kubernetes: an unknown cost is absent, never 0; its kind says once.
    written = result.status.compliance.model_dump(mode="json", by_alias=True, exclude_none=True)  # type: ignore[union-attr]
    assert written["items"][3]["costKind"] == "OneOff" and "cost" not in written["items"][3]
    assert written["items"][1]["cost"] == "0.92"


# ---------------------------------------------------------------------------- endpoint configs, when needed

TEAM_TAG_ONLY = {"tagging": {"required": [{"key": "cost-center"}]}}
ENDPOINT_TYPES = {"endpoints": {"allowedInstanceTypes": ["ml.c5.large"]}}


def describes(aws: EmbeddedAws) -> int:
    return aws.calls()[("sagemaker", "DescribeEndpointConfig")]


def test_a_tag_only_policy_describes_no_endpoint_config(
    make_reconciler: ReconcilerFactory, sagemaker: Any, aws: EmbeddedAws
) -> None:
    for i in range(3):
        endpoint(sagemaker, f"fraud-ep-{i}")
    reconciler = make_reconciler(inventory_max_age=timedelta(minutes=2))
    aws.reset_calls()

    tagged = reconciler.reconcile(REF, policy("Audit", **TEAM_TAG_ONLY), None)
    after_tags = describes(aws)
    typed = reconciler.reconcile(REF, policy("Audit", **ENDPOINT_TYPES), None)
    after_types = describes(aws)
    tagged_again = reconciler.reconcile(REF, policy("Audit", **TEAM_TAG_ONLY), None)

    assert after_tags == 0
    compliance = tagged.status.compliance
    assert compliance is not None and compliance.violations == 3  # no cost-center tag
    item = compliance.items[0]
    assert item.cost is None and item.cost_basis.startswith("unknown:")
    assert "no rule of a policy in this account needs it" in item.cost_basis
    # A policy with endpoint rules in the same account: its configs are described, once each,
    # and the inventory it read serves the tag-only policy too, now with costs.
    assert after_types == 3
    assert typed.status.compliance is not None and typed.status.compliance.violations == 3
    assert describes(aws) == 3
    again = tagged_again.status.compliance
    assert again is not None and all(i.cost is not None for i in again.items)


def test_configs_throttled_after_retries_are_a_warning_and_healed_next_sweep(
    make_reconciler: ReconcilerFactory, sagemaker: Any, aws: EmbeddedAws
) -> None:
    for i in range(2):
        endpoint(sagemaker, f"fraud-ep-{i}")
    reconciler = make_reconciler(max_attempts=2, inventory_max_age=timedelta(0))
    aws.inject_error(
        "sagemaker", "DescribeEndpointConfig", "ThrottlingException", "Rate exceeded", count=None
    )

    throttled = reconciler.reconcile(REF, policy("Audit", **ENDPOINT_TYPES), None)
    aws.clear_errors()
    healed = reconciler.reconcile(REF, policy("Audit", **ENDPOINT_TYPES), throttled.status)

    ready = condition(throttled, "Ready")
    assert ready[:2] == ("False", "Throttled") and "endpoint config(s) could not be read" in ready[2]
    warnings = [e for e in throttled.outcome.events if e.reason == "InventoryIncomplete"]
    assert len(warnings) == 1 and "fraud-ep-0-c" in warnings[0].message
    assert condition(healed, "Ready")[0] == "True"
    assert healed.status.compliance is not None and healed.status.compliance.violations == 2
