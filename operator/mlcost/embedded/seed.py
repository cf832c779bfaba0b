"""A realistic ML account for the demo: a fraud-detection team's SageMaker estate and spend."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import boto3

from mlcost.embedded.server import EmbeddedAws

ROLE_ARN = "arn:aws:iam::123456789012:role/sagemaker-execution"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
FRAUD_TAGS = {"team": "fraud", "cost-center": "cc-0042", "project": "scoring"}

# (endpoint, instance type, count, tags): one well tagged, one missing a tag, one idle.
ENDPOINTS = [
    ("fraud-scorer", "ml.c5.2xlarge", 2, FRAUD_TAGS),
    ("fraud-shadow", "ml.g4dn.xlarge", 1, {"team": "fraud", "project": "shadow"}),
    ("fraud-legacy", "ml.c5.xlarge", 1, {"team": "fraud", "cost-center": "cc-0042"}),
]
NOTEBOOKS = [
    ("fraud-eda", "ml.t3.medium", FRAUD_TAGS),
    ("fraud-gpu-experiments", "ml.p3.2xlarge", {"team": "fraud"}),
    ("fraud-feature-eng", "ml.m5.xlarge", FRAUD_TAGS),
]
# (job, instance type, managed spot, max runtime hours)
TRAINING_JOBS = [
    ("fraud-xgb-2026-11-20", "ml.m5.xlarge", True, 4),
    ("fraud-xgb-2026-11-24", "ml.m5.xlarge", False, 4),
    ("fraud-dl-2026-11-25", "ml.g5.2xlarge", True, 48),
]
# What the team's SageMaker estate costs a day, before the month's GPU experiments began.
DAILY_SPEND = Decimal("52.40")


@dataclass(frozen=True)
class Seeded:
    endpoints: int
    notebooks: int
    training_jobs: int
    spend_days: int


def demo_session(aws: EmbeddedAws) -> boto3.Session:
    """A boto3 session with the dummy credentials moto accepts (never the user's real ones)."""
    return boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=aws.region)


def seed_account(aws: EmbeddedAws, today: date, sagemaker: Any, cloudwatch: Any, account_id: str) -> Seeded:
    """Create the team's SageMaker resources, their CloudWatch load, and Cost Explorer history.

    `sagemaker` and `cloudwatch` are clients acting in `account_id`, the account the demo
    policies govern.
    """
    for name, instance_type, count, tags in ENDPOINTS:
        _endpoint(sagemaker, name, instance_type, count, tags)
    for name, instance_type, tags in NOTEBOOKS:
        sagemaker.create_notebook_instance(
            NotebookInstanceName=name,
            InstanceType=instance_type,
            RoleArn=ROLE_ARN,
            Tags=_tags(tags),
        )
    sagemaker.stop_notebook_instance(NotebookInstanceName="fraud-feature-eng")
    for name, instance_type, spot, hours in TRAINING_JOBS:
        _training_job(sagemaker, name, instance_type, spot, hours)
    _report_billed_time(account_id, aws.region)
    _endpoint_load(cloudwatch, "fraud-scorer", today_hour=_hour_now())
    _inference_recommender_job(aws, sagemaker, account_id)
    days = _queue_spend(aws, today, account_id)
    # "project" was never activated in Billing: the policy's condition points that out.
    aws.set_cost_allocation_tags(
        [{"TagKey": "team", "Status": "Active"}, {"TagKey": "cost-center", "Status": "Active"}],
        account_id=account_id,
    )
    return Seeded(len(ENDPOINTS), len(NOTEBOOKS), len(TRAINING_JOBS), days)


def _tags(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def _endpoint(sagemaker: Any, name: str, instance_type: str, count: int, tags: dict[str, str]) -> None:
    sagemaker.create_model(
        ModelName=f"{name}-model",
        PrimaryContainer={"Image": IMAGE, "ModelDataUrl": f"s3://fraud-models/{name}/model.tar.gz"},
        ExecutionRoleArn=ROLE_ARN,
        Tags=_tags(tags),
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName=f"{name}-config",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": f"{name}-model",
                "InstanceType": instance_type,
                "InitialInstanceCount": count,
            }
        ],
        Tags=_tags(tags),
    )
    sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=f"{name}-config", Tags=_tags(tags))


def _training_job(sagemaker: Any, name: str, instance_type: str, spot: bool, hours: int) -> None:
    stopping: dict[str, int] = {"MaxRuntimeInSeconds": hours * 3600}
    if spot:
        stopping["MaxWaitTimeInSeconds"] = hours * 3600 * 2
    sagemaker.create_training_job(
        TrainingJobName=name,
        AlgorithmSpecification={"TrainingImage": IMAGE, "TrainingInputMode": "File"},
        RoleArn=ROLE_ARN,
        OutputDataConfig={"S3OutputPath": "s3://fraud-models/output"},
        ResourceConfig={"InstanceType": instance_type, "InstanceCount": 1, "VolumeSizeInGB": 50},
        StoppingCondition=stopping,
        EnableManagedSpotTraining=spot,
        Tags=_tags(FRAUD_TAGS),
    )


def _hour_now() -> datetime:
    return datetime.now(UTC).replace(minute=0, second=0, microsecond=0)


def _endpoint_load(cloudwatch: Any, endpoint: str, today_hour: datetime, hours: int = 72) -> None:
    """Three days of a quiet endpoint: 11% of its vCPUs at peak, little memory, steady traffic."""
    dims = [{"Name": "EndpointName", "Value": endpoint}, {"Name": "VariantName", "Value": "AllTraffic"}]
    for hour in range(1, hours + 1):
        at = today_hour - timedelta(hours=hour)
        busy = 88 if hour % 24 in (14, 15, 16) else 40  # afternoon peaks, CPUUtilization of 800
        cloudwatch.put_metric_data(
            Namespace="/aws/sagemaker/Endpoints",
            MetricData=[
                {"MetricName": "CPUUtilization", "Dimensions": dims, "Timestamp": at, "Value": busy},
                {"MetricName": "MemoryUtilization", "Dimensions": dims, "Timestamp": at, "Value": 9.5},
            ],
        )
        cloudwatch.put_metric_data(
            Namespace="AWS/SageMaker",
            MetricData=[
                {"MetricName": "Invocations", "Dimensions": dims, "Timestamp": at, "Value": 24600},
                {"MetricName": "InvocationsPerInstance", "Dimensions": dims, "Timestamp": at, "Value": 205},
                {"MetricName": "ModelLatency", "Dimensions": dims, "Timestamp": at, "Value": 41000},
            ],
        )


def _inference_recommender_job(aws: EmbeddedAws, sagemaker: Any, account_id: str) -> None:
    """A finished Inference Recommender job for the scorer's model, as the example names it."""
    sagemaker.create_inference_recommendations_job(
        JobName="fraud-scorer-ir",
        JobType="Default",
        RoleArn=ROLE_ARN,
        InputConfig={"ModelName": "fraud-scorer-model"},
    )
    aws.set_inference_recommendations(
        "fraud-scorer-ir",
        "COMPLETED",
        [
            {
                "InstanceType": "ml.c5.xlarge",
                "InitialInstanceCount": 1,
                "CostPerHour": 0.204,
                "ModelLatency": 38,
                "MaxInvocations": 1450,
            },
            {
                "InstanceType": "ml.m5.xlarge",
                "InitialInstanceCount": 1,
                "CostPerHour": 0.23,
                "ModelLatency": 35,
                "MaxInvocations": 1500,
            },
        ],
        account_id=account_id,
    )


def _report_billed_time(account_id: str, region: str) -> None:
    """What SageMaker reports for finished spot jobs; moto never sets these times itself."""
    from moto.sagemaker.models import sagemaker_backends

    jobs = sagemaker_backends[account_id][region].training_jobs
    for name, training, billable in (
        ("fraud-xgb-2026-11-20", 3600, 1290),
        ("fraud-dl-2026-11-25", 14400, 4750),
    ):
        setattr(jobs[name], "training_time_in_seconds", training)  # noqa: B010 (moto has no such field)
        setattr(jobs[name], "billable_time_in_seconds", billable)  # noqa: B010


def _queue_spend(aws: EmbeddedAws, today: date, account_id: str) -> int:
    """Month-to-date daily costs, rising as GPU experiments start, and a forecast to match."""
    start = today.replace(day=1)
    results = []
    day = start
    while day <= today:
        # Costs grow mid-month when the team starts its GPU notebook experiments.
        extra = Decimal("38.10") if day.day >= 15 else Decimal(0)
        amount = DAILY_SPEND + extra + Decimal(day.day % 5) * Decimal("1.75")
        results.append(
            {
                "TimePeriod": {"Start": day.isoformat(), "End": (day + timedelta(days=1)).isoformat()},
                "Total": {"UnblendedCost": {"Amount": str(amount), "Unit": "USD"}},
                "Groups": [],
                "Estimated": day == today,
            }
        )
        day += timedelta(days=1)
    aws.queue_cost_and_usage([{"ResultsByTime": results}], account_id=account_id)
    next_month = (start + timedelta(days=32)).replace(day=1)
    remaining_days = (next_month - today).days
    forecast = (DAILY_SPEND + Decimal("38.10") + Decimal("3.50")) * remaining_days
    aws.queue_cost_forecast(
        [
            {
                "Total": {"Amount": str(forecast), "Unit": "USD"},
                "ForecastResultsByTime": [
                    {
                        "TimePeriod": {"Start": today.isoformat(), "End": next_month.isoformat()},
                        "MeanValue": str(forecast),
                    }
                ],
            }
        ],
        account_id=account_id,
    )
    return len(results)
