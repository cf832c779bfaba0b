"""The embedded AWS behaves like AWS for the operations our extensions add to moto.

Every test talks to the server over HTTP with boto3, as the operator does.
"""

from __future__ import annotations

import json
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from mlcost.embedded.server import DEFAULT_ACCOUNT_ID, EmbeddedAws

from .conftest import ClientFactory

ACCOUNT = DEFAULT_ACCOUNT_ID
ROLE = f"arn:aws:iam::{ACCOUNT}:role/sagemaker"
TOPIC = f"arn:aws:sns:us-east-1:{ACCOUNT}:ml-cost"


def error_of(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, int, str]:
    response: dict[str, Any] = excinfo.value.response  # type: ignore[assignment]
    return (
        response["Error"]["Code"],
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"].get("Message", ""),
    )


# ---------------------------------------------------------------------------- budgets


def cost_budget(name: str = "team-fraud-ml", amount: str = "5000") -> dict[str, Any]:
    return {
        "BudgetName": name,
        "BudgetLimit": {"Amount": amount, "Unit": "USD"},
        "TimeUnit": "MONTHLY",
        "BudgetType": "COST",
    }


def notification(threshold: float = 80, kind: str = "ACTUAL") -> dict[str, Any]:
    return {"NotificationType": kind, "ComparisonOperator": "GREATER_THAN", "Threshold": threshold}


def email(address: str = "ml-leads@example.com") -> dict[str, str]:
    return {"SubscriptionType": "EMAIL", "Address": address}


def budget_arn(name: str = "team-fraud-ml") -> str:
    return f"arn:aws:budgets::{ACCOUNT}:budget/{name}"


@pytest.fixture
def budgets(aws_client: ClientFactory) -> Any:
    return aws_client("budgets")


def test_create_budget_with_resource_tags_then_list_tag_untag(budgets: Any) -> None:
    budgets.create_budget(
        AccountId=ACCOUNT,
        Budget=cost_budget(),
        ResourceTags=[{"Key": "mlcost.io/managed-by", "Value": "team-fraud/fraud-detection"}],
    )
    listed = budgets.list_tags_for_resource(ResourceARN=budget_arn())["ResourceTags"]
    assert listed == [{"Key": "mlcost.io/managed-by", "Value": "team-fraud/fraud-detection"}]

    budgets.tag_resource(
        ResourceARN=budget_arn(),
        ResourceTags=[{"Key": "team", "Value": "fraud"}, {"Key": "mlcost.io/managed-by", "Value": "x"}],
    )
    budgets.untag_resource(ResourceARN=budget_arn(), ResourceTagKeys=["team", "absent"])
    listed = budgets.list_tags_for_resource(ResourceARN=budget_arn())["ResourceTags"]
    assert listed == [{"Key": "mlcost.io/managed-by", "Value": "x"}]


def test_tags_of_missing_or_malformed_budget_arn(budgets: Any) -> None:
    with pytest.raises(ClientError) as missing:
        budgets.list_tags_for_resource(ResourceARN=budget_arn("nope"))
    assert error_of(missing)[:2] == ("NotFoundException", 400)
    with pytest.raises(ClientError) as malformed:
        budgets.list_tags_for_resource(ResourceARN="arn:aws:budgets::not-a-budget")
    assert error_of(malformed)[0] == "InvalidParameterException"


def test_deleted_budget_takes_its_tags(budgets: Any) -> None:
    budgets.create_budget(AccountId=ACCOUNT, Budget=cost_budget(), ResourceTags=[{"Key": "a", "Value": "1"}])
    budgets.delete_budget(AccountId=ACCOUNT, BudgetName="team-fraud-ml")
    budgets.create_budget(AccountId=ACCOUNT, Budget=cost_budget())
    assert budgets.list_tags_for_resource(ResourceARN=budget_arn())["ResourceTags"] == []


def test_update_budget_replaces_the_definition_and_keeps_spend(
    budgets: Any, embedded_aws: EmbeddedAws
) -> None:
    created = cost_budget()
    created["CostFilters"] = {"Service": ["Amazon SageMaker"]}
    budgets.create_budget(AccountId=ACCOUNT, Budget=created)
    embedded_aws.set_budget_spend("team-fraud-ml", "1234.56", "4800")

    budgets.update_budget(AccountId=ACCOUNT, NewBudget=cost_budget(amount="7000"))

    described = budgets.describe_budget(AccountId=ACCOUNT, BudgetName="team-fraud-ml")["Budget"]
    assert described["BudgetLimit"] == {"Amount": "7000", "Unit": "USD"}
    assert "CostFilters" not in described or described["CostFilters"] == {}
    assert described["CalculatedSpend"]["ActualSpend"] == {"Amount": "1234.56", "Unit": "USD"}
    assert described["CalculatedSpend"]["ForecastedSpend"] == {"Amount": "4800", "Unit": "USD"}


def test_update_missing_budget_is_not_found(budgets: Any) -> None:
    with pytest.raises(ClientError) as excinfo:
        budgets.update_budget(AccountId=ACCOUNT, NewBudget=cost_budget("nope"))
    code, status, message = error_of(excinfo)
    assert (code, status) == ("NotFoundException", 400)
    assert "nope" in message


@pytest.mark.parametrize(
    ("budget", "subscriber"),
    [
        (cost_budget(amount="0"), email()),
        (cost_budget(amount="-5"), email()),
        (cost_budget(name="team:fraud"), email()),
        (cost_budget(name="team\\fraud"), email()),
        (cost_budget(), {"SubscriptionType": "SNS", "Address": "ml-leads@example.com"}),
        (cost_budget(), {"SubscriptionType": "EMAIL", "Address": "not-an-email"}),
    ],
    ids=["zero-limit", "negative-limit", "colon", "backslash", "sns-not-arn", "bad-email"],
)
def test_create_budget_rejects_what_aws_rejects(
    budgets: Any, budget: dict[str, Any], subscriber: dict[str, str]
) -> None:
    with pytest.raises(ClientError) as excinfo:
        budgets.create_budget(
            AccountId=ACCOUNT,
            Budget=budget,
            NotificationsWithSubscribers=[{"Notification": notification(), "Subscribers": [subscriber]}],
        )
    assert error_of(excinfo)[:2] == ("InvalidParameterException", 400)
    assert budgets.describe_budgets(AccountId=ACCOUNT).get("Budgets", []) == []


def test_describe_budget_reports_spend_and_notification_state(
    budgets: Any, embedded_aws: EmbeddedAws
) -> None:
    budgets.create_budget(
        AccountId=ACCOUNT,
        Budget=cost_budget(amount="100"),
        NotificationsWithSubscribers=[
            {"Notification": notification(80), "Subscribers": [email()]},
            {"Notification": notification(150, "FORECASTED"), "Subscribers": [email()]},
        ],
    )
    embedded_aws.set_budget_spend("team-fraud-ml", "90", "120")

    spend = budgets.describe_budget(AccountId=ACCOUNT, BudgetName="team-fraud-ml")["Budget"][
        "CalculatedSpend"
    ]
    assert spend["ActualSpend"]["Amount"] == "90"
    listed = budgets.describe_notifications_for_budget(AccountId=ACCOUNT, BudgetName="team-fraud-ml")[
        "Notifications"
    ]
    states = {(n["NotificationType"], n["NotificationState"]) for n in listed}
    assert states == {("ACTUAL", "ALARM"), ("FORECASTED", "OK")}
    assert {n["ThresholdType"] for n in listed} == {"PERCENTAGE"}


def test_notification_round_trip(budgets: Any) -> None:
    budgets.create_budget(AccountId=ACCOUNT, Budget=cost_budget())
    budgets.create_notification(
        AccountId=ACCOUNT,
        BudgetName="team-fraud-ml",
        Notification=notification(80),
        Subscribers=[email(), {"SubscriptionType": "SNS", "Address": TOPIC}],
    )
    with pytest.raises(ClientError) as duplicate:
        budgets.create_notification(
            AccountId=ACCOUNT,
            BudgetName="team-fraud-ml",
            Notification={**notification(80), "ThresholdType": "PERCENTAGE"},
            Subscribers=[email()],
        )
    assert error_of(duplicate)[0] == "DuplicateRecordException"

    budgets.update_notification(
        AccountId=ACCOUNT,
        BudgetName="team-fraud-ml",
        OldNotification=notification(80),
        NewNotification=notification(90),
    )
    listed = budgets.describe_notifications_for_budget(AccountId=ACCOUNT, BudgetName="team-fraud-ml")[
        "Notifications"
    ]
    assert [n["Threshold"] for n in listed] == [90.0]
    subscribers = budgets.describe_subscribers_for_notification(
        AccountId=ACCOUNT, BudgetName="team-fraud-ml", Notification=notification(90)
    )["Subscribers"]
    assert len(subscribers) == 2  # the update kept them

    budgets.delete_notification(AccountId=ACCOUNT, BudgetName="team-fraud-ml", Notification=notification(90))
    assert (
        budgets.describe_notifications_for_budget(AccountId=ACCOUNT, BudgetName="team-fraud-ml")[
            "Notifications"
        ]
        == []
    )
    with pytest.raises(ClientError) as gone:
        budgets.delete_notification(
            AccountId=ACCOUNT, BudgetName="team-fraud-ml", Notification=notification(90)
        )
    assert error_of(gone)[0] == "NotFoundException"


def test_subscriber_round_trip(budgets: Any) -> None:
    budgets.create_budget(
        AccountId=ACCOUNT,
        Budget=cost_budget(),
        NotificationsWithSubscribers=[{"Notification": notification(), "Subscribers": [email()]}],
    )
    where = {"AccountId": ACCOUNT, "BudgetName": "team-fraud-ml", "Notification": notification()}

    budgets.create_subscriber(**where, Subscriber={"SubscriptionType": "SNS", "Address": TOPIC})
    with pytest.raises(ClientError) as duplicate:
        budgets.create_subscriber(**where, Subscriber=email())
    assert error_of(duplicate)[0] == "DuplicateRecordException"

    budgets.update_subscriber(**where, OldSubscriber=email(), NewSubscriber=email("finops@example.com"))
    budgets.delete_subscriber(**where, Subscriber={"SubscriptionType": "SNS", "Address": TOPIC})
    subscribers = budgets.describe_subscribers_for_notification(**where)["Subscribers"]
    assert subscribers == [email("finops@example.com")]

    with pytest.raises(ClientError) as missing:
        budgets.delete_subscriber(**where, Subscriber=email("nobody@example.com"))
    assert error_of(missing)[0] == "NotFoundException"
    with pytest.raises(ClientError) as no_notification:
        budgets.describe_subscribers_for_notification(
            AccountId=ACCOUNT, BudgetName="team-fraud-ml", Notification=notification(55)
        )
    assert error_of(no_notification)[0] == "NotFoundException"


def test_subscribers_are_paged(budgets: Any) -> None:
    emails = [email(f"u{i}@example.com") for i in range(10)]
    budgets.create_budget(
        AccountId=ACCOUNT,
        Budget=cost_budget(),
        NotificationsWithSubscribers=[{"Notification": notification(), "Subscribers": emails}],
    )
    paginator = budgets.get_paginator("describe_subscribers_for_notification")
    pages = list(
        paginator.paginate(
            AccountId=ACCOUNT,
            BudgetName="team-fraud-ml",
            Notification=notification(),
            PaginationConfig={"PageSize": 4},
        )
    )
    assert [len(p["Subscribers"]) for p in pages] == [4, 4, 2]


def test_notification_and_subscriber_limits(budgets: Any) -> None:
    budgets.create_budget(
        AccountId=ACCOUNT,
        Budget=cost_budget(),
        NotificationsWithSubscribers=[
            {"Notification": notification(t), "Subscribers": [email()]} for t in (10, 20, 30, 40, 50)
        ],
    )
    with pytest.raises(ClientError) as sixth:
        budgets.create_notification(
            AccountId=ACCOUNT,
            BudgetName="team-fraud-ml",
            Notification=notification(60),
            Subscribers=[email()],
        )
    assert error_of(sixth)[0] == "CreationLimitExceededException"

    where = {"AccountId": ACCOUNT, "BudgetName": "team-fraud-ml", "Notification": notification(10)}
    for i in range(9):
        budgets.create_subscriber(**where, Subscriber=email(f"u{i}@example.com"))
    with pytest.raises(ClientError) as eleventh:
        budgets.create_subscriber(**where, Subscriber=email("u9@example.com"))
    assert error_of(eleventh)[0] == "CreationLimitExceededException"


def test_notifications_of_missing_budget_is_not_found(budgets: Any) -> None:
    # moto 5.2.5 answers HTTP 500 here.
    with pytest.raises(ClientError) as excinfo:
        budgets.describe_notifications_for_budget(AccountId=ACCOUNT, BudgetName="nope")
    assert error_of(excinfo)[:2] == ("NotFoundException", 400)


# ---------------------------------------------------------------------------- cost explorer


@pytest.fixture
def ce(aws_client: ClientFactory) -> Any:
    return aws_client("ce")


def today() -> datetime:
    return datetime.now(UTC)


def day(offset: int) -> str:
    return (today() + timedelta(days=offset)).date().isoformat()


def test_forecast_defaults_to_zero_per_period(ce: Any) -> None:
    result = ce.get_cost_forecast(
        TimePeriod={"Start": day(0), "End": day(3)}, Metric="UNBLENDED_COST", Granularity="DAILY"
    )
    assert result["Total"] == {"Amount": "0", "Unit": "USD"}
    assert [r["TimePeriod"]["Start"] for r in result["ForecastResultsByTime"]] == [
        day(0),
        day(1),
        day(2),
    ]


def test_forecast_returns_queued_results_bound_to_parameters(ce: Any, embedded_aws: EmbeddedAws) -> None:
    first = {
        "Total": {"Amount": "4800.00", "Unit": "USD"},
        "ForecastResultsByTime": [{"TimePeriod": {"Start": day(0), "End": day(30)}, "MeanValue": "4800.00"}],
    }
    second = {"Total": {"Amount": "12.5", "Unit": "USD"}, "ForecastResultsByTime": []}
    embedded_aws.queue_cost_forecast([first, second])
    monthly = {"TimePeriod": {"Start": day(0), "End": day(30)}, "Metric": "UNBLENDED_COST"}

    got = ce.get_cost_forecast(**monthly, Granularity="MONTHLY")
    again = ce.get_cost_forecast(**monthly, Granularity="MONTHLY")
    other = ce.get_cost_forecast(**monthly, Granularity="DAILY")
    drained = ce.get_cost_forecast(
        TimePeriod={"Start": day(1), "End": day(2)}, Metric="UNBLENDED_COST", Granularity="DAILY"
    )

    assert got["Total"]["Amount"] == again["Total"]["Amount"] == "4800.00"
    assert other["Total"]["Amount"] == "12.5"
    assert drained["Total"]["Amount"] == "0"


@pytest.mark.parametrize(
    ("start", "end", "granularity", "fragment"),
    [
        (-1, 5, "DAILY", "current date"),
        (3, 3, "DAILY", "must be before"),
        (0, 5, "HOURLY", "DAILY and MONTHLY"),
        (0, 200, "DAILY", "too far"),
    ],
    ids=["start-in-past", "empty-period", "hourly", "beyond-horizon"],
)
def test_forecast_rejects_invalid_periods(
    ce: Any, start: int, end: int, granularity: str, fragment: str
) -> None:
    with pytest.raises(ClientError) as excinfo:
        ce.get_cost_forecast(
            TimePeriod={"Start": day(start), "End": day(end)},
            Metric="UNBLENDED_COST",
            Granularity=granularity,
        )
    code, status, message = error_of(excinfo)
    assert (code, status) == ("ValidationException", 400)
    assert fragment in message


def test_cost_and_usage_comes_from_moto_queue(ce: Any, embedded_aws: EmbeddedAws) -> None:
    embedded_aws.queue_cost_and_usage(
        [
            {
                "ResultsByTime": [
                    {
                        "TimePeriod": {"Start": "2026-10-01", "End": "2026-11-01"},
                        "Total": {"UnblendedCost": {"Amount": "1234.56", "Unit": "USD"}},
                        "Groups": [],
                        "Estimated": False,
                    }
                ],
                "DimensionValueAttributes": [],
            }
        ]
    )
    result = ce.get_cost_and_usage(
        TimePeriod={"Start": "2026-10-01", "End": "2026-11-01"},
        Granularity="MONTHLY",
        Metrics=["UnblendedCost"],
    )
    assert result["ResultsByTime"][0]["Total"]["UnblendedCost"]["Amount"] == "1234.56"


def test_list_cost_allocation_tags_filters(ce: Any, embedded_aws: EmbeddedAws) -> None:
    embedded_aws.set_cost_allocation_tags(
        [
            {"TagKey": "team", "Status": "Active"},
            {"TagKey": "cost-center", "Status": "Inactive"},
            {"TagKey": "aws:createdBy", "Status": "Active", "Type": "AWSGenerated"},
        ]
    )
    everything = ce.list_cost_allocation_tags()["CostAllocationTags"]
    active_user = ce.list_cost_allocation_tags(Status="Active", Type="UserDefined")
    by_key = ce.list_cost_allocation_tags(TagKeys=["cost-center"])["CostAllocationTags"]

    assert len(everything) == 3
    assert [t["TagKey"] for t in active_user["CostAllocationTags"]] == ["team"]
    assert by_key == [{"TagKey": "cost-center", "Status": "Inactive", "Type": "UserDefined"}]


# ---------------------------------------------------------------------------- sagemaker


@pytest.fixture
def sagemaker(aws_client: ClientFactory) -> Any:
    return aws_client("sagemaker")


def endpoint_config(sm: Any, name: str, instance_type: str, count: int = 1) -> None:
    sm.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": "fraud-model",
                "InstanceType": instance_type,
                "InitialInstanceCount": count,
                "InitialVariantWeight": 1.0,
            }
        ],
    )


@pytest.fixture
def endpoint(sagemaker: Any) -> str:
    sagemaker.create_model(
        ModelName="fraud-model",
        ExecutionRoleArn=ROLE,
        PrimaryContainer={"Image": "123.dkr.ecr.us-east-1.amazonaws.com/fraud:1"},
    )
    endpoint_config(sagemaker, "fraud-v1", "ml.m5.2xlarge", 2)
    endpoint_config(sagemaker, "fraud-v2", "ml.c5.xlarge", 1)
    sagemaker.create_endpoint(EndpointName="fraud-scorer", EndpointConfigName="fraud-v1")
    return "fraud-scorer"


def test_update_endpoint_goes_through_updating(sagemaker: Any, endpoint: str) -> None:
    arn = sagemaker.update_endpoint(EndpointName=endpoint, EndpointConfigName="fraud-v2")["EndpointArn"]
    assert arn.endswith(":endpoint/fraud-scorer")

    first = sagemaker.describe_endpoint(EndpointName=endpoint)
    assert first["EndpointStatus"] == "Updating"
    assert first["EndpointConfigName"] == "fraud-v1"
    pending = first["PendingDeploymentSummary"]
    assert pending["EndpointConfigName"] == "fraud-v2"
    assert pending["ProductionVariants"][0]["InstanceType"] == "ml.c5.xlarge"
    listed = sagemaker.list_endpoints()["Endpoints"]
    assert [e["EndpointStatus"] for e in listed] == ["Updating"]

    second = sagemaker.describe_endpoint(EndpointName=endpoint)
    assert second["EndpointStatus"] == "InService"
    assert second["EndpointConfigName"] == "fraud-v2"
    assert second["ProductionVariants"][0]["CurrentInstanceCount"] == 1
    assert "PendingDeploymentSummary" not in second
    assert "FailureReason" not in second


def test_update_endpoint_can_retain_variant_properties(sagemaker: Any, endpoint: str) -> None:
    sagemaker.update_endpoint(
        EndpointName=endpoint, EndpointConfigName="fraud-v2", RetainAllVariantProperties=True
    )
    sagemaker.describe_endpoint(EndpointName=endpoint)
    done = sagemaker.describe_endpoint(EndpointName=endpoint)
    assert done["EndpointConfigName"] == "fraud-v2"
    assert done["ProductionVariants"][0]["CurrentInstanceCount"] == 2  # kept from fraud-v1


def test_update_endpoint_records_the_deployment_config(sagemaker: Any, endpoint: str) -> None:
    deployment = {"AutoRollbackConfiguration": {"Alarms": [{"AlarmName": "fraud-scorer-5xx"}]}}
    sagemaker.update_endpoint(
        EndpointName=endpoint, EndpointConfigName="fraud-v2", DeploymentConfig=deployment
    )
    sagemaker.describe_endpoint(EndpointName=endpoint)
    done = sagemaker.describe_endpoint(EndpointName=endpoint)
    assert done["LastDeploymentConfig"] == deployment


def test_failing_update_rolls_back_to_the_old_config(
    sagemaker: Any, endpoint: str, embedded_aws: EmbeddedAws
) -> None:
    embedded_aws.fail_endpoint_config("fraud-v2", "ping health check failed")
    sagemaker.update_endpoint(EndpointName=endpoint, EndpointConfigName="fraud-v2")

    assert sagemaker.describe_endpoint(EndpointName=endpoint)["EndpointStatus"] == "Updating"
    after = sagemaker.describe_endpoint(EndpointName=endpoint)
    assert after["EndpointStatus"] == "InService"
    assert after["EndpointConfigName"] == "fraud-v1"
    assert after["FailureReason"] == "ping health check failed"


def test_failing_update_without_rollback_fails_the_endpoint(
    sagemaker: Any, endpoint: str, embedded_aws: EmbeddedAws
) -> None:
    embedded_aws.fail_endpoint_config("fraud-v2", rollback=False)
    embedded_aws.set_transition_delay(0)
    sagemaker.update_endpoint(EndpointName=endpoint, EndpointConfigName="fraud-v2")

    after = sagemaker.describe_endpoint(EndpointName=endpoint)
    assert after["EndpointStatus"] == "Failed"
    assert "ping health check" in after["FailureReason"]
    with pytest.raises(ClientError) as excinfo:
        sagemaker.update_endpoint(EndpointName=endpoint, EndpointConfigName="fraud-v1")
    assert error_of(excinfo)[0] == "ValidationException"


def test_transition_delay_is_counted_in_describes(
    sagemaker: Any, endpoint: str, embedded_aws: EmbeddedAws
) -> None:
    embedded_aws.set_transition_delay(3)
    sagemaker.update_endpoint(EndpointName=endpoint, EndpointConfigName="fraud-v2")
    statuses = [sagemaker.describe_endpoint(EndpointName=endpoint)["EndpointStatus"] for _ in range(5)]
    assert statuses == ["Updating", "Updating", "Updating", "InService", "InService"]


def test_update_endpoint_validation(sagemaker: Any, endpoint: str) -> None:
    with pytest.raises(ClientError) as missing_config:
        sagemaker.update_endpoint(EndpointName=endpoint, EndpointConfigName="nope")
    with pytest.raises(ClientError) as missing_endpoint:
        sagemaker.update_endpoint(EndpointName="nope", EndpointConfigName="fraud-v2")
    sagemaker.update_endpoint(EndpointName=endpoint, EndpointConfigName="fraud-v2")
    with pytest.raises(ClientError) as in_progress:
        sagemaker.update_endpoint(EndpointName=endpoint, EndpointConfigName="fraud-v1")

    assert error_of(missing_config)[:2] == ("ValidationException", 400)
    assert "fraud-v2" not in error_of(missing_config)[2]
    assert error_of(missing_endpoint)[0] == "ValidationException"
    code, _, message = error_of(in_progress)
    assert code == "ValidationException"
    assert "in-progress" in message


def create_training_job(sm: Any, name: str) -> None:
    sm.create_training_job(
        TrainingJobName=name,
        AlgorithmSpecification={"TrainingImage": "xgboost:1", "TrainingInputMode": "File"},
        RoleArn=ROLE,
        OutputDataConfig={"S3OutputPath": "s3://models/fraud"},
        ResourceConfig={"InstanceType": "ml.g5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 30},
        StoppingCondition={"MaxRuntimeInSeconds": 86400},
        EnableManagedSpotTraining=False,
    )


def test_stop_training_job_lifecycle(sagemaker: Any, embedded_aws: EmbeddedAws) -> None:
    started = datetime.now(UTC) - timedelta(hours=30)
    embedded_aws.hold_training_jobs(["fraud-train"], started_at=started)
    create_training_job(sagemaker, "fraud-train")

    running = sagemaker.describe_training_job(TrainingJobName="fraud-train")
    assert running["TrainingJobStatus"] == "InProgress"
    assert abs((running["TrainingStartTime"] - started).total_seconds()) < 1
    assert "TrainingEndTime" not in running

    sagemaker.stop_training_job(TrainingJobName="fraud-train")
    stopping = sagemaker.describe_training_job(TrainingJobName="fraud-train")
    stopped = sagemaker.describe_training_job(TrainingJobName="fraud-train")

    assert (stopping["TrainingJobStatus"], stopping["SecondaryStatus"]) == ("Stopping", "Stopping")
    assert (stopped["TrainingJobStatus"], stopped["SecondaryStatus"]) == ("Stopped", "Stopped")
    assert "TrainingEndTime" in stopped
    with pytest.raises(ClientError) as again:
        sagemaker.stop_training_job(TrainingJobName="fraud-train")
    assert error_of(again)[0] == "ValidationException"
    assert "Stopped" in error_of(again)[2]


def test_stop_training_job_errors(sagemaker: Any) -> None:
    create_training_job(sagemaker, "done")  # moto completes it at once
    with pytest.raises(ClientError) as completed:
        sagemaker.stop_training_job(TrainingJobName="done")
    with pytest.raises(ClientError) as missing:
        sagemaker.stop_training_job(TrainingJobName="nope")
    assert error_of(completed)[0] == "ValidationException"
    assert error_of(missing)[0] == "ResourceNotFound"


def test_hold_applies_to_existing_jobs_and_wildcard(sagemaker: Any, embedded_aws: EmbeddedAws) -> None:
    create_training_job(sagemaker, "existing")
    embedded_aws.hold_training_jobs(["*"])
    create_training_job(sagemaker, "later")
    statuses = {
        j["TrainingJobName"]: j["TrainingJobStatus"]
        for j in sagemaker.list_training_jobs()["TrainingJobSummaries"]
    }
    assert statuses == {"existing": "InProgress", "later": "InProgress"}


# ---------------------------------------------------------------------------- faults, calls


def test_injected_throttling_is_an_aws_json_error(
    aws_client: ClientFactory, embedded_aws: EmbeddedAws
) -> None:
    budgets = aws_client("budgets")
    embedded_aws.inject_error("budgets", "DescribeBudgets", "ThrottlingException", "Rate exceeded")

    with pytest.raises(ClientError) as excinfo:
        budgets.describe_budgets(AccountId=ACCOUNT)
    assert error_of(excinfo) == ("ThrottlingException", 400, "Rate exceeded")
    headers = excinfo.value.response["ResponseMetadata"]["HTTPHeaders"]
    assert headers["x-amzn-errortype"].startswith("ThrottlingException")
    budgets.describe_budgets(AccountId=ACCOUNT)  # count=1: used up


def test_botocore_retries_an_injected_throttle(aws_client: ClientFactory, embedded_aws: EmbeddedAws) -> None:
    ce = aws_client("ce", attempts=3)
    embedded_aws.inject_error("ce", "GetCostAndUsage", "ThrottlingException", count=1)
    ce.get_cost_and_usage(
        TimePeriod={"Start": "2026-10-01", "End": "2026-11-01"},
        Granularity="MONTHLY",
        Metrics=["UnblendedCost"],
    )
    assert embedded_aws.calls()[("ce", "GetCostAndUsage")] == 2


def test_access_denied_is_403_in_json_and_query_protocols(
    aws_client: ClientFactory, embedded_aws: EmbeddedAws
) -> None:
    embedded_aws.inject_error("sagemaker", "ListEndpoints", "AccessDeniedException")
    embedded_aws.inject_error("sts", "GetCallerIdentity", "AccessDenied")
    with pytest.raises(ClientError) as json_protocol:
        aws_client("sagemaker").list_endpoints()
    with pytest.raises(ClientError) as query_protocol:
        aws_client("sts").get_caller_identity()
    assert error_of(json_protocol)[:2] == ("AccessDeniedException", 403)
    assert error_of(query_protocol)[:2] == ("AccessDenied", 403)


def test_wildcard_fault_until_cleared_covers_cbor_services(
    aws_client: ClientFactory, embedded_aws: EmbeddedAws
) -> None:
    cloudwatch = aws_client("cloudwatch")  # botocore speaks smithy-rpc-v2-cbor to it
    embedded_aws.inject_error("cloudwatch", "*", "ServiceUnavailable", count=None)
    for _ in range(3):
        with pytest.raises(ClientError) as excinfo:
            cloudwatch.list_metrics()
        assert error_of(excinfo)[:2] == ("ServiceUnavailable", 503)
    embedded_aws.clear_errors()
    cloudwatch.list_metrics()


def test_call_counter_counts_requests_per_operation(
    aws_client: ClientFactory, embedded_aws: EmbeddedAws, endpoint: str
) -> None:
    embedded_aws.reset_calls()
    sagemaker, budgets = aws_client("sagemaker"), aws_client("budgets")
    sagemaker.describe_endpoint(EndpointName=endpoint)
    sagemaker.describe_endpoint(EndpointName=endpoint)
    sagemaker.list_endpoints()
    budgets.describe_budgets(AccountId=ACCOUNT)
    aws_client("cloudwatch").list_metrics()
    aws_client("sts").get_caller_identity()

    assert embedded_aws.calls() == {
        ("sagemaker", "DescribeEndpoint"): 2,
        ("sagemaker", "ListEndpoints"): 1,
        ("budgets", "DescribeBudgets"): 1,
        ("cloudwatch", "ListMetrics"): 1,
        ("sts", "GetCallerIdentity"): 1,
    }
    embedded_aws.reset_calls()
    assert embedded_aws.calls() == {}


def test_unimplemented_calls_fail_fast_with_501(aws_client: ClientFactory, embedded_aws: EmbeddedAws) -> None:
    sagemaker = aws_client("sagemaker", attempts=5)
    optimizer = aws_client("compute-optimizer", attempts=5)
    began = time.monotonic()
    with pytest.raises(ClientError) as operation:
        sagemaker.list_inference_recommendations_jobs()
    with pytest.raises(ClientError) as service:
        optimizer.get_enrollment_status()

    assert error_of(operation)[:2] == ("InternalFailure", 501)
    assert "ListInferenceRecommendationsJobs" in error_of(operation)[2]
    assert error_of(service)[:2] == ("InternalFailure", 501)
    assert time.monotonic() - began < 5  # not retried
    assert embedded_aws.calls()[("sagemaker", "ListInferenceRecommendationsJobs")] == 1
    assert embedded_aws.calls()[("compute-optimizer", "GetEnrollmentStatus")] == 1


def http(aws: EmbeddedAws, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    request = urllib.request.Request(
        aws.endpoint_url + path,
        data=json.dumps(body or {}).encode(),
        method=method,
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, json.loads(response.read())


def test_hooks_over_http(aws_client: ClientFactory, embedded_aws: EmbeddedAws) -> None:
    budgets = aws_client("budgets")
    budgets.create_budget(AccountId=ACCOUNT, Budget=cost_budget())
    fault = {"service": "budgets", "operation": "DescribeBudget", "code": "ThrottlingException"}

    assert http(embedded_aws, "POST", "/moto-api/mlcost/faults", fault)[0] == 201
    with pytest.raises(ClientError):
        budgets.describe_budget(AccountId=ACCOUNT, BudgetName="team-fraud-ml")
    http(
        embedded_aws,
        "POST",
        "/moto-api/mlcost/budgets/calculated-spend",
        {"budget_name": "team-fraud-ml", "actual": "42"},
    )
    described = budgets.describe_budget(AccountId=ACCOUNT, BudgetName="team-fraud-ml")
    status, counted = http(embedded_aws, "GET", "/moto-api/mlcost/calls")

    assert described["Budget"]["CalculatedSpend"]["ActualSpend"]["Amount"] == "42"
    assert status == 200
    assert {"service": "budgets", "operation": "DescribeBudget", "count": 2} in counted["calls"]
    http(embedded_aws, "DELETE", "/moto-api/mlcost/calls")
    assert http(embedded_aws, "GET", "/moto-api/mlcost/calls")[1] == {"calls": []}


def test_reset_forgets_resources_faults_and_counts(
    aws_client: ClientFactory, embedded_aws: EmbeddedAws
) -> None:
    budgets = aws_client("budgets")
    budgets.create_budget(AccountId=ACCOUNT, Budget=cost_budget())
    embedded_aws.inject_error("budgets", "DescribeBudgets", "ThrottlingException", count=None)

    embedded_aws.reset()

    assert embedded_aws.calls() == {}
    assert budgets.describe_budgets(AccountId=ACCOUNT).get("Budgets", []) == []


def test_the_operators_own_requests_are_kept_through_resets(embedded_aws: EmbeddedAws) -> None:
    # What deploy/iam-policy.json is checked against: requests with the operator's user agent
    # (AwsSessions sets it), whatever reset() happens between tests; nobody else's.
    import boto3
    from botocore.config import Config

    def client(agent: str | None) -> Any:
        return boto3.client(  # type: ignore[call-overload]
            "budgets",
            endpoint_url=embedded_aws.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(user_agent_extra=agent) if agent else None,
        )

    # What the operator (and tests through its AwsSessions) sent before this test stays; a
    # request without its user agent adds nothing, whichever test ran first.
    before = embedded_aws.operator_operations()
    client(None).create_budget(AccountId=ACCOUNT, Budget=cost_budget())
    client(None).describe_budgets(AccountId=ACCOUNT)
    assert embedded_aws.operator_operations() == before

    client("mlcost-operator").describe_budget(AccountId=ACCOUNT, BudgetName="team-fraud-ml")
    embedded_aws.reset()

    assert ("budgets", "DescribeBudget") in embedded_aws.operator_operations()
    assert embedded_aws.calls() == {}
