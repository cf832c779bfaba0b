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


# Showback: what each team's SageMaker usage costs a day across the account (USD), by Cost
# Explorer USAGE_TYPE. The fraud team's share is split from its daily spend above (hosting for its
# endpoints, notebook instances, training jobs); other teams and untagged resources add the usage
# kinds the fraud team has none of. None = the resources carry no team tag.
OTHER_TEAMS_DAILY: tuple[tuple[str | None, str, Decimal], ...] = (
    ("risk", "USE1-Host:ml.c5.2xlarge", Decimal("30.00")),
    ("risk", "USE1-Processing:ml.m5.xlarge", Decimal("6.50")),
    ("search", "USE1-Train:ml.g5.2xlarge", Decimal("18.00")),
    ("search", "USE1-Studio:ml.t3.medium", Decimal("4.20")),
    (None, "USE1-Notebk:ml.m5.xlarge", Decimal("9.80")),
    (None, "USE1-Tsform:ml.c5.xlarge", Decimal("2.10")),
)
# The account's one SageMaker Savings Plan: 1.50 USD/h for a year, ending three weeks from today
# (so the report warns PlanExpiring), used at 92%.
PLAN_COMMITMENT = Decimal("1.50")
PLAN_UTILIZATION = Decimal("0.92")


@dataclass(frozen=True)
class Seeded:
    endpoints: int
    notebooks: int
    training_jobs: int
    spend_days: int
    line_items: int = 0
    teams: tuple[str, ...] = ()
    savings_plans: int = 0


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
    _endpoint_load(cloudwatch, "fraud-scorer", instances=2, today_hour=_hour_now())
    _inference_recommender_job(aws, sagemaker, account_id)
    days = _queue_spend(aws, today, account_id)
    items = _showback_line_items(aws, today, account_id)
    _savings_plans(aws, today, account_id)
    # "project" was never activated in Billing: the policy's condition points that out.
    aws.set_cost_allocation_tags(
        [{"TagKey": "team", "Status": "Active"}, {"TagKey": "cost-center", "Status": "Active"}],
        account_id=account_id,
    )
    teams = ("fraud", *sorted({team for team, _, _ in OTHER_TEAMS_DAILY if team}))
    return Seeded(len(ENDPOINTS), len(NOTEBOOKS), len(TRAINING_JOBS), days, items, teams, 1)


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


def _instance_aggregate(value: float, instances: int) -> dict[str, float]:
    """One 5-minute aggregate of a per-instance metric: every instance reports once a minute, so
    the sample count says how many instances served the period (what rightsizing reads)."""
    samples = 5.0 * instances
    return {"SampleCount": samples, "Sum": value * samples, "Minimum": value, "Maximum": value}


def _endpoint_load(
    cloudwatch: Any, endpoint: str, instances: int, today_hour: datetime, hours: int = 72
) -> None:
    """Three days of a quiet endpoint: 11% of its vCPUs at peak, little memory, steady traffic."""
    dims = [{"Name": "EndpointName", "Value": endpoint}, {"Name": "VariantName", "Value": "AllTraffic"}]
    for hour in range(1, hours + 1):
        at = today_hour - timedelta(hours=hour)
        busy = 88 if hour % 24 in (14, 15, 16) else 40  # afternoon peaks, CPUUtilization of 800
        cloudwatch.put_metric_data(
            Namespace="/aws/sagemaker/Endpoints",
            MetricData=[
                {
                    "MetricName": "CPUUtilization",
                    "Dimensions": dims,
                    "Timestamp": at,
                    "StatisticValues": _instance_aggregate(busy, instances),
                },
                {
                    "MetricName": "MemoryUtilization",
                    "Dimensions": dims,
                    "Timestamp": at,
                    "StatisticValues": _instance_aggregate(9.5, instances),
                },
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
    """What SageMaker reports for finished jobs (spot: billed less than trained; on-demand: billed
    what it trained); moto never sets these times itself."""
    from moto.sagemaker.models import sagemaker_backends

    jobs = sagemaker_backends[account_id][region].training_jobs
    for name, training, billable in (
        ("fraud-xgb-2026-11-20", 3600, 1290),
        ("fraud-xgb-2026-11-24", 2700, 2700),
        ("fraud-dl-2026-11-25", 14400, 4750),
    ):
        setattr(jobs[name], "training_time_in_seconds", training)  # noqa: B010 (moto has no such field)
        setattr(jobs[name], "billable_time_in_seconds", billable)  # noqa: B010


def _fraud_daily(day: date) -> Decimal:
    # Costs grow mid-month when the team starts its GPU notebook experiments.
    extra = Decimal("38.10") if day.day >= 15 else Decimal(0)
    return DAILY_SPEND + extra + Decimal(day.day % 5) * Decimal("1.75")


def _showback_line_items(aws: EmbeddedAws, today: date, account_id: str) -> int:
    """Month-to-date SageMaker line items of every team and of untagged resources.

    Once line items exist, the embedded Cost Explorer answers GetCostAndUsage from them (the
    policy's team=fraud spend included), so the fraud team's items add up to its daily spend.
    """
    items: list[dict[str, Any]] = []
    day = today.replace(day=1)
    while day <= today:
        amount = _fraud_daily(day)
        hosting = (amount * Decimal("0.60")).quantize(Decimal("0.01"))
        notebooks = (amount * Decimal("0.25")).quantize(Decimal("0.01"))
        fraud = (
            ("USE1-Host:ml.c5.2xlarge", hosting),
            ("USE1-Notebk:ml.p3.2xlarge", notebooks),
            ("USE1-Train:ml.m5.xlarge", amount - hosting - notebooks),
        )
        for usage_type, cost in fraud:
            items.append(_line_item(day, usage_type, cost, {"team": "fraud"}))
        for team, usage_type, cost in OTHER_TEAMS_DAILY:
            items.append(_line_item(day, usage_type, cost, {"team": team} if team else {}))
        day += timedelta(days=1)
    aws.add_cost_line_items(items, account_id=account_id)
    return len(items)


def _line_item(day: date, usage_type: str, amount: Decimal, tags: dict[str, str]) -> dict[str, Any]:
    return {
        "date": day.isoformat(),
        "service": "Amazon SageMaker",
        "usageType": usage_type,
        "amount": str(amount),
        "tags": tags,
    }


def _savings_plans(aws: EmbeddedAws, today: date, account_id: str) -> None:
    """One active SageMaker Savings Plan ending in three weeks, its use, and AWS's recommendation."""
    end = datetime.combine(today + timedelta(days=21), datetime.min.time(), UTC)
    start = end - timedelta(days=365)
    aws.set_savings_plans(
        [
            {
                "savingsPlanId": "sp-0a1b2c3d4e5f60001",
                "savingsPlanArn": f"arn:aws:savingsplans::{account_id}:savingsplan/sp-0a1b2c3d4e5f60001",
                "offeringId": "5a1c3e0b-demo-0000-0000-000000000001",
                "start": start.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                "end": end.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                "state": "active",
                "region": "us-east-1",
                "ec2InstanceFamily": "",
                "savingsPlanType": "SageMaker",
                "paymentOption": "No Upfront",
                "productTypes": ["SageMaker"],
                "currency": "USD",
                "commitment": str(PLAN_COMMITMENT),
                "upfrontPaymentAmount": "0",
                "recurringPaymentAmount": str(PLAN_COMMITMENT),
                "termDurationInSeconds": 31_536_000,
                "tags": {"team": "platform"},
            }
        ],
        account_id=account_id,
    )
    hours = Decimal(24 * max((today - today.replace(day=1)).days, 1))
    committed = PLAN_COMMITMENT * hours
    used = (committed * PLAN_UTILIZATION).quantize(Decimal("0.01"))
    on_demand = (
        sum((cost for _, _, cost in OTHER_TEAMS_DAILY), DAILY_SPEND + Decimal("20")) * hours / 24 - used
    )
    aws.set_savings_plans_usage(
        total_commitment=str(committed.quantize(Decimal("0.01"))),
        used_commitment=str(used),
        covered_spend=str(used),
        on_demand_cost=str(on_demand.quantize(Decimal("0.01"))),
        account_id=account_id,
    )
    aws.set_savings_plans_recommendation(
        {
            "AccountScope": "PAYER",
            "SavingsPlansType": "SAGEMAKER_SP",
            "TermInYears": "ONE_YEAR",
            "PaymentOption": "NO_UPFRONT",
            "LookbackPeriodInDays": "THIRTY_DAYS",
            "SavingsPlansPurchaseRecommendationDetails": [
                {
                    "SavingsPlansDetails": {"Region": "US East (N. Virginia)", "OfferingId": "demo"},
                    "AccountId": account_id,
                    "UpfrontCost": "0",
                    "EstimatedROI": "28.4",
                    "CurrencyCode": "USD",
                    "EstimatedSPCost": "1533.00",
                    "EstimatedOnDemandCost": "1970.40",
                    "EstimatedSavingsAmount": "437.40",
                    "EstimatedSavingsPercentage": "22.2",
                    "HourlyCommitmentToPurchase": "2.10",
                    "EstimatedAverageUtilization": "97.5",
                    "EstimatedMonthlySavingsAmount": "437.40",
                    "CurrentMinimumHourlyOnDemandSpend": "2.05",
                    "CurrentMaximumHourlyOnDemandSpend": "3.40",
                    "CurrentAverageHourlyOnDemandSpend": "2.70",
                }
            ],
            "SavingsPlansPurchaseRecommendationSummary": {
                "EstimatedROI": "28.4",
                "CurrencyCode": "USD",
                "EstimatedTotalCost": "1533.00",
                "CurrentOnDemandSpend": "1970.40",
                "EstimatedSavingsAmount": "437.40",
                "TotalRecommendationCount": "1",
                "DailyCommitmentToPurchase": "50.40",
                "HourlyCommitmentToPurchase": "2.10",
                "EstimatedSavingsPercentage": "22.2",
                "EstimatedMonthlySavingsAmount": "437.40",
                "EstimatedOnDemandCostWithCurrentCommitment": "1970.40",
            },
        },
        account_id=account_id,
    )


def _queue_spend(aws: EmbeddedAws, today: date, account_id: str) -> int:
    """Month-to-date daily costs, rising as GPU experiments start, and a forecast to match."""
    start = today.replace(day=1)
    results = []
    day = start
    while day <= today:
        amount = _fraud_daily(day)
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
    # The whole account's SageMaker forecast, for the MLCostReport: the fraud team's and the rest.
    account_forecast = forecast + sum((cost for _, _, cost in OTHER_TEAMS_DAILY), Decimal(0)) * remaining_days
    # A queued forecast is bound to the parameters of the first request that takes it: the demo
    # reconciles the policy (team=fraud) before the report (all of SageMaker), in file order.
    aws.queue_cost_forecast(
        [
            {
                "Total": {"Amount": str(amount), "Unit": "USD"},
                "ForecastResultsByTime": [
                    {
                        "TimePeriod": {"Start": today.isoformat(), "End": next_month.isoformat()},
                        "MeanValue": str(amount),
                    }
                ],
            }
            for amount in (forecast, account_forecast)
        ],
        account_id=account_id,
    )
    return len(results)
