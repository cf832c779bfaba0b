"""Seed the embedded AWS with a large SageMaker estate spread over many teams, for benchmarks.

Resources are created in moto's backend in this process (thousands of HTTP round trips would
take longer than the benchmark itself); everything a benchmark reads goes over HTTP.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from moto.sagemaker.models import sagemaker_backends

from mlcost.embedded.server import EmbeddedAws

ROLE_ARN = "arn:aws:iam::123456789012:role/sagemaker-execution"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
# Instance types moto 5.2.5 accepts (it validates against an old list).
ENDPOINT_TYPES = ("ml.m5.xlarge", "ml.c5.xlarge", "ml.g4dn.xlarge")
NOTEBOOK_TYPES = ("ml.t3.medium", "ml.m5.xlarge", "ml.p3.2xlarge")
TRAINING_TYPES = ("ml.m5.xlarge", "ml.c5.xlarge", "ml.g4dn.xlarge", "ml.p3.2xlarge")
# Every UNTAGGED-th resource carries no tags, every MISSING_TEAM-th lacks the team tag.
UNTAGGED = 13
MISSING_TEAM = 10
# Every STOPPED-th notebook is stopped; every RUNNING-th training job is still running, and
# every OLD-th finished job was created before a 30-day lookback.
STOPPED = 4
RUNNING = 25
OLD = 10


def _tags(index: int, teams: int) -> list[dict[str, str]]:
    if index % UNTAGGED == 0:
        return []
    tags = {"cost-center": f"cc-{index % teams:04d}", "project": f"project-{index % 7}"}
    if index % MISSING_TEAM != 0:
        tags["team"] = f"team-{index % teams}"
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def _seed(
    aws: EmbeddedAws,
    resources: int,
    teams: int,
    tags: Callable[[int, int], list[dict[str, str]]],
    old_every: int | None,
) -> tuple[int, int, int, int]:
    """A third each endpoints, notebooks and training jobs, tagged by `tags(index, teams)`:
    how many of each, and how many jobs finished before a 30-day lookback."""
    backend = sagemaker_backends[aws.account_id][aws.region]
    endpoints = resources // 3
    notebooks = resources // 3
    jobs = resources - endpoints - notebooks
    for i in range(endpoints):
        _endpoint(backend, i, tags(i, teams))
    for i in range(notebooks):
        name = f"notebook-{i:05d}"
        backend.create_notebook_instance(
            notebook_instance_name=name,
            instance_type=NOTEBOOK_TYPES[i % len(NOTEBOOK_TYPES)],
            role_arn=ROLE_ARN,
            tags=tags(i, teams),
        )
        if i % STOPPED == 0:
            backend.stop_notebook_instance(name)
    old = _training_jobs(backend, jobs, teams, tags=tags, old_every=old_every)
    return endpoints, notebooks, jobs, old


def seed_sagemaker(aws: EmbeddedAws, resources: int, teams: int = 20) -> dict[str, Any]:
    """Create `resources` SageMaker resources, a third each endpoints (with their model and
    endpoint config), notebook instances and training jobs, tagged team=team-N for `teams`
    teams (some without tags or without the team tag), half the jobs with Managed Spot.

    Returns what was created, including how many training jobs a 30-day lookback reads.
    """
    endpoints, notebooks, jobs, old = _seed(aws, resources, teams, _tags, OLD)
    untagged = sum(1 for i in range(endpoints) if i % UNTAGGED == 0)
    untagged += sum(1 for i in range(notebooks) if i % UNTAGGED == 0)
    untagged += sum(1 for i in range(jobs) if i % UNTAGGED == 0)
    return {
        "resources": endpoints + notebooks + jobs,
        "endpoints": endpoints,
        "notebook_instances": notebooks,
        "training_jobs": jobs,
        "training_jobs_in_lookback": jobs - old,
        "teams": teams,
        "untagged": untagged,
    }


def _endpoint(backend: Any, index: int, tags: list[dict[str, str]]) -> None:
    name = f"endpoint-{index:05d}"
    backend.create_model(
        model_name=f"{name}-model",
        execution_role_arn=ROLE_ARN,
        primary_container={"Image": IMAGE, "ModelDataUrl": f"s3://models/{name}/model.tar.gz"},
        vpc_config=None,
        containers=None,
        tags=tags,
    )
    backend.create_endpoint_config(
        endpoint_config_name=f"{name}-config",
        production_variants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": f"{name}-model",
                "InstanceType": ENDPOINT_TYPES[index % len(ENDPOINT_TYPES)],
                "InitialInstanceCount": 1 + index % 3,
            }
        ],
        data_capture_config={},
        async_inference_config={},
        tags=tags,
        kms_key_id="",
    )
    backend.create_endpoint(endpoint_name=name, endpoint_config_name=f"{name}-config", tags=tags)


def _training_jobs(
    backend: Any,
    jobs: int,
    teams: int,
    tags: Callable[[int, int], list[dict[str, str]]] = _tags,
    old_every: int | None = OLD,
) -> int:
    """Create the jobs; returns how many finished before a 30-day lookback (every
    old_every-th finished job; None: none)."""
    long_ago = (datetime.now(UTC) - timedelta(days=45)).replace(tzinfo=None)
    old = 0
    for i in range(jobs):
        spot = i % 2 == 0
        stopping = {"MaxRuntimeInSeconds": 3600 * (1 + i % 24)}
        if spot:
            stopping["MaxWaitTimeInSeconds"] = stopping["MaxRuntimeInSeconds"] * 2
        job = backend.create_training_job(
            training_job_name=f"training-{i:05d}",
            hyper_parameters={"max_depth": "6"},
            algorithm_specification={"TrainingImage": IMAGE, "TrainingInputMode": "File"},
            role_arn=ROLE_ARN,
            input_data_config=[],
            output_data_config={"S3OutputPath": "s3://models/output"},
            resource_config={
                "InstanceType": TRAINING_TYPES[i % len(TRAINING_TYPES)],
                "InstanceCount": 1,
                "VolumeSizeInGB": 50,
            },
            vpc_config={},
            stopping_condition=stopping,
            tags=tags(i, teams),
            enable_network_isolation=False,
            enable_inter_container_traffic_encryption=False,
            enable_managed_spot_training=spot,
            checkpoint_config={},
            debug_hook_config={},
            debug_rule_configurations=[],
            tensor_board_output_config={},
            experiment_config={},
        )
        if i % RUNNING == 0:
            job.training_job_status, job.secondary_status = "InProgress", "Training"
            job.training_end_time = None
        elif old_every is not None and i % old_every == 0:
            # moto keeps naive UTC datetimes.
            job.creation_time = job.training_start_time = job.training_end_time = long_ago
            job.last_modified_time = long_ago
            old += 1
    return old


def missing_team(index: int) -> bool:
    """Exactly 3 in every 10 consecutive indices lack the team tag (0, 4 and 7 mod 10)."""
    return (index * 3) % 10 < 3


def _audit_tags(index: int, teams: int) -> list[dict[str, str]]:
    # Of those without a team, every other one has no tags at all, the rest only other tags.
    if missing_team(index):
        return [] if index % 20 < 10 else [{"Key": "cost-center", "Value": f"cc-{index % teams:04d}"}]
    return [
        {"Key": "team", "Value": f"team-{index % teams}"},
        {"Key": "cost-center", "Value": f"cc-{index % teams:04d}"},
    ]


def seed_tag_audit(aws: EmbeddedAws, resources: int, teams: int = 20) -> dict[str, Any]:
    """The account of the tag audit (issue 10): a third each notebooks, endpoints (each with its
    own model and endpoint config) and training jobs, 30% of each without the tag `team`.

    Every training job is recent (inside any lookback) and every RUNNING-th still runs, so an
    audit of "all training jobs" and the operator's inventory see the same jobs; every
    STOPPED-th notebook is stopped. Returns the counts and the exact findings expected per type.
    """
    endpoints, notebooks, jobs, _ = _seed(aws, resources, teams, _audit_tags, None)
    missing = {
        "NotebookInstance": sum(map(missing_team, range(notebooks))),
        "Endpoint": sum(map(missing_team, range(endpoints))),
        "TrainingJob": sum(map(missing_team, range(jobs))),
    }
    return {
        "resources": notebooks + endpoints + jobs,
        "notebook_instances": notebooks,
        "endpoints": endpoints,
        "training_jobs": jobs,
        "endpoint_configs": endpoints,
        "teams": teams,
        "missing_team": missing,
    }
