"""Every operation our moto extensions answer matches botocore's shapes, as AWS's answers do.

The suite runs the embedded AWS in strict mode (tests/conftest.py): an extension answer that
differs from botocore's output shape (member names, types, required members, enums, lengths,
list and map elements, timestamps) is a 501 naming each difference. Here every extension
operation is called at least once, the list derived from the extension registry: a new
extension operation that no scenario calls fails test_every_extension_operation_is_called.
"""

from __future__ import annotations

import ast
import json
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from mlcost.aws.session import AwsSessions
from mlcost.embedded.server import DEFAULT_ACCOUNT_ID, EmbeddedAws
from mlcost.embedded.shapes import validate_input, validate_output

from .conftest import ClientFactory
from .test_embedded_aws import endpoint_config
from .test_showback_aws import plan

ACCOUNT = DEFAULT_ACCOUNT_ID
ROLE = f"arn:aws:iam::{ACCOUNT}:role/sagemaker"
TOPIC = f"arn:aws:sns:us-east-1:{ACCOUNT}:ml-cost"
ROOT = Path(__file__).resolve().parents[2]


def _budgets(make: ClientFactory, aws: EmbeddedAws) -> None:
    budgets = make("budgets")
    name = "team-fraud-ml"
    arn = f"arn:aws:budgets::{ACCOUNT}:budget/{name}"
    budget = {
        "BudgetName": name,
        "BudgetLimit": {"Amount": "5000", "Unit": "USD"},
        "TimeUnit": "MONTHLY",
        "BudgetType": "COST",
    }
    notification = {"NotificationType": "ACTUAL", "ComparisonOperator": "GREATER_THAN", "Threshold": 80.0}
    email = {"SubscriptionType": "EMAIL", "Address": "ml-leads@example.com"}
    budgets.create_budget(
        AccountId=ACCOUNT,
        Budget=budget,
        NotificationsWithSubscribers=[{"Notification": notification, "Subscribers": [email]}],
        ResourceTags=[{"Key": "mlcost.io/managed-by", "Value": "team-fraud/fraud-detection"}],
    )
    aws.set_budget_spend(name, "120.5", "300")
    budgets.update_budget(
        AccountId=ACCOUNT, NewBudget={**budget, "BudgetLimit": {"Amount": "6000", "Unit": "USD"}}
    )
    forecast = {**notification, "NotificationType": "FORECASTED", "Threshold": 100.0}
    budgets.create_notification(
        AccountId=ACCOUNT, BudgetName=name, Notification=forecast, Subscribers=[email]
    )
    sns = {"SubscriptionType": "SNS", "Address": TOPIC}
    budgets.create_subscriber(AccountId=ACCOUNT, BudgetName=name, Notification=forecast, Subscriber=sns)
    budgets.update_subscriber(
        AccountId=ACCOUNT,
        BudgetName=name,
        Notification=forecast,
        OldSubscriber=sns,
        NewSubscriber={"SubscriptionType": "EMAIL", "Address": "finops@example.com"},
    )
    budgets.describe_subscribers_for_notification(AccountId=ACCOUNT, BudgetName=name, Notification=forecast)
    budgets.delete_subscriber(
        AccountId=ACCOUNT,
        BudgetName=name,
        Notification=forecast,
        Subscriber={"SubscriptionType": "EMAIL", "Address": "finops@example.com"},
    )
    moved = {**forecast, "Threshold": 90.0}
    budgets.update_notification(
        AccountId=ACCOUNT, BudgetName=name, OldNotification=forecast, NewNotification=moved
    )
    budgets.describe_notifications_for_budget(AccountId=ACCOUNT, BudgetName=name)
    budgets.delete_notification(AccountId=ACCOUNT, BudgetName=name, Notification=moved)
    budgets.tag_resource(ResourceARN=arn, ResourceTags=[{"Key": "team", "Value": "fraud"}])
    budgets.list_tags_for_resource(ResourceARN=arn)
    budgets.untag_resource(ResourceARN=arn, ResourceTagKeys=["team"])
    budgets.describe_budget(AccountId=ACCOUNT, BudgetName=name)


def _ce(make: ClientFactory, aws: EmbeddedAws) -> None:
    ce = make("ce")
    aws.set_cost_allocation_tags(
        [{"TagKey": "team", "Status": "Active"}, {"TagKey": "cost-center", "Status": "Inactive"}]
    )
    ce.list_cost_allocation_tags(TagKeys=["team", "cost-center"])
    today = datetime.now(UTC).date()
    ce.get_cost_forecast(
        TimePeriod={"Start": today.isoformat(), "End": (today + timedelta(days=3)).isoformat()},
        Metric="UNBLENDED_COST",
        Granularity="MONTHLY",
    )
    month = {
        "Start": (today - timedelta(days=40)).isoformat(),
        "End": (today + timedelta(days=1)).isoformat(),
    }
    sagemaker = {"Dimensions": {"Key": "SERVICE", "Values": ["Amazon SageMaker"]}}
    ce.get_cost_and_usage(TimePeriod=month, Granularity="MONTHLY", Metrics=["UnblendedCost"])  # moto's queue
    aws.add_cost_line_items(
        [
            {
                "date": today.isoformat(),
                "usageType": "USE1-Host:ml.m5.xlarge",
                "amount": "12.5",
                "tags": {"team": "fraud"},
            },
            {"date": today.isoformat(), "usageType": "USE1-Train:ml.g5.xlarge", "amount": "4"},
        ]
    )
    ce.get_cost_and_usage(
        TimePeriod=month,
        Granularity="DAILY",
        Metrics=["UnblendedCost", "AmortizedCost"],
        Filter=sagemaker,
        GroupBy=[{"Type": "TAG", "Key": "team"}, {"Type": "DIMENSION", "Key": "USAGE_TYPE"}],
    )
    ce.get_cost_and_usage(
        TimePeriod=month, Granularity="MONTHLY", Metrics=["UnblendedCost"], Filter=sagemaker
    )
    past = {"Start": (today - timedelta(days=40)).isoformat(), "End": today.isoformat()}
    ce.get_savings_plans_coverage(TimePeriod=past, Granularity="MONTHLY", Filter=sagemaker)  # 0%: no plan
    aws.set_savings_plans_usage(
        total_commitment="1080", used_commitment="918", covered_spend="918", on_demand_cost="1377"
    )
    ce.get_savings_plans_utilization(TimePeriod=past, Granularity="MONTHLY")
    ce.get_savings_plans_coverage(TimePeriod=past, Granularity="DAILY", Filter=sagemaker, MaxResults=5)
    recommendation = {
        "SavingsPlansType": "SAGEMAKER_SP",
        "TermInYears": "ONE_YEAR",
        "PaymentOption": "PARTIAL_UPFRONT",
        "LookbackPeriodInDays": "THIRTY_DAYS",
    }
    ce.get_savings_plans_purchase_recommendation(**recommendation)  # none seeded
    aws.set_savings_plans_recommendation(SAGEMAKER_RECOMMENDATION)
    ce.get_savings_plans_purchase_recommendation(**recommendation, PageSize=1)


SAGEMAKER_RECOMMENDATION: dict[str, Any] = {
    "SavingsPlansPurchaseRecommendationDetails": [
        {
            "SavingsPlansDetails": {"Region": "us-east-1", "OfferingId": "6a6f8b54-0001"},
            "AccountId": ACCOUNT,
            "UpfrontCost": "9198.00",
            "EstimatedROI": "27.5",
            "CurrencyCode": "USD",
            "EstimatedSPCost": "1533.00",
            "EstimatedOnDemandCost": "1958.00",
            "EstimatedSavingsAmount": "425.00",
            "EstimatedSavingsPercentage": "21.7",
            "HourlyCommitmentToPurchase": "2.10",
            "EstimatedAverageUtilization": "99.1",
            "EstimatedMonthlySavingsAmount": "425.00",
            "CurrentMinimumHourlyOnDemandSpend": "1.90",
            "CurrentMaximumHourlyOnDemandSpend": "3.40",
            "CurrentAverageHourlyOnDemandSpend": "2.68",
        }
    ],
    "SavingsPlansPurchaseRecommendationSummary": {
        "EstimatedROI": "27.5",
        "CurrencyCode": "USD",
        "EstimatedTotalCost": "1533.00",
        "CurrentOnDemandSpend": "1958.00",
        "EstimatedSavingsAmount": "425.00",
        "TotalRecommendationCount": "1",
        "DailyCommitmentToPurchase": "50.40",
        "HourlyCommitmentToPurchase": "2.10",
        "EstimatedSavingsPercentage": "21.7",
        "EstimatedMonthlySavingsAmount": "425.00",
        "EstimatedOnDemandCostWithCurrentCommitment": "1958.00",
    },
}


def _savingsplans(make: ClientFactory, aws: EmbeddedAws) -> None:
    sp = make("savingsplans")
    sp.describe_savings_plans()  # an account without plans
    aws.set_savings_plans([SAGEMAKER_PLAN, {**SAGEMAKER_PLAN, "savingsPlanId": "sp-2", "state": "retired"}])
    page = sp.describe_savings_plans(
        states=["active", "retired"],
        filters=[{"name": "savings-plan-type", "values": ["SageMaker"]}],
        maxResults=1,
    )
    sp.describe_savings_plans(states=["active", "retired"], nextToken=page["nextToken"], maxResults=1)


SAGEMAKER_PLAN = plan(
    "sp-1", description="1 year No Upfront SageMaker Savings Plan", tags={"team": "platform"}
)


def _pricing(make: ClientFactory, aws: EmbeddedAws) -> None:
    pricing = make("pricing")
    pricing.describe_services(ServiceCode="AmazonSageMaker")
    page = pricing.get_products(
        ServiceCode="AmazonSageMaker",
        Filters=[{"Type": "TERM_MATCH", "Field": "regionCode", "Value": "us-east-1"}],
        MaxResults=2,
    )
    pricing.get_products(
        ServiceCode="AmazonSageMaker",
        NextToken=page["NextToken"],
        MaxResults=2,
        Filters=[{"Type": "TERM_MATCH", "Field": "regionCode", "Value": "us-east-1"}],
    )


def _sagemaker(make: ClientFactory, aws: EmbeddedAws) -> None:
    sm = make("sagemaker")
    sm.create_model(
        ModelName="fraud-model",
        ExecutionRoleArn=ROLE,
        PrimaryContainer={"Image": "123.dkr.ecr.us-east-1.amazonaws.com/fraud:1"},
    )
    endpoint_config(sm, "fraud-v1", "ml.m5.xlarge")
    endpoint_config(sm, "fraud-v2", "ml.c5.xlarge")
    sm.create_endpoint(EndpointName="fraud-scorer", EndpointConfigName="fraud-v1")
    sm.update_endpoint(EndpointName="fraud-scorer", EndpointConfigName="fraud-v2")
    sm.describe_endpoint(EndpointName="fraud-scorer")  # Updating
    sm.describe_endpoint(EndpointName="fraud-scorer")  # InService on fraud-v2
    aws.hold_training_jobs(["fraud-train"], started_at=datetime.now(UTC) - timedelta(hours=2))
    sm.create_training_job(
        TrainingJobName="fraud-train",
        AlgorithmSpecification={"TrainingImage": "xgboost:1", "TrainingInputMode": "File"},
        RoleArn=ROLE,
        OutputDataConfig={"S3OutputPath": "s3://models/fraud"},
        ResourceConfig={"InstanceType": "ml.g5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 30},
        StoppingCondition={"MaxRuntimeInSeconds": 86400},
    )
    sm.describe_training_job(TrainingJobName="fraud-train")
    sm.stop_training_job(TrainingJobName="fraud-train")
    sm.describe_training_job(TrainingJobName="fraud-train")
    for resource in ("Endpoint", "TrainingJob"):
        sm.search(
            Resource=resource, SearchExpression={"Filters": [{"Name": "Tags.team", "Operator": "Exists"}]}
        )
        sm.search(Resource=resource, MaxResults=1)
    sm.create_inference_recommendations_job(
        JobName="fraud-ir", JobType="Default", RoleArn=ROLE, InputConfig={"ModelName": "fraud-model"}
    )
    sm.describe_inference_recommendations_job(JobName="fraud-ir")
    aws.set_inference_recommendations(
        "fraud-ir",
        "COMPLETED",
        [{"InstanceType": "ml.c5.xlarge", "CostPerHour": 0.204, "ModelLatency": 40, "MaxInvocations": 900}],
    )
    sm.describe_inference_recommendations_job(JobName="fraud-ir")


def _autoscaling(make: ClientFactory, aws: EmbeddedAws) -> None:
    sm, aas = make("sagemaker"), make("application-autoscaling")
    sm.create_model(
        ModelName="fraud-model",
        ExecutionRoleArn=ROLE,
        PrimaryContainer={"Image": "123.dkr.ecr.us-east-1.amazonaws.com/fraud:1"},
    )
    endpoint_config(sm, "fraud-v1", "ml.m5.xlarge")
    sm.create_endpoint(EndpointName="fraud-scorer", EndpointConfigName="fraud-v1")
    target = {
        "ServiceNamespace": "sagemaker",
        "ResourceId": "endpoint/fraud-scorer/variant/AllTraffic",
        "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
    }
    arn = aas.register_scalable_target(**target, MinCapacity=1, MaxCapacity=3, Tags={"team": "fraud"})[
        "ScalableTargetARN"
    ]
    aas.register_scalable_target(**target, MinCapacity=1, MaxCapacity=4)  # an update
    aas.tag_resource(ResourceARN=arn, Tags={"cost-center": "42"})
    aas.list_tags_for_resource(ResourceARN=arn)
    aas.untag_resource(ResourceARN=arn, TagKeys=["cost-center"])
    aas.deregister_scalable_target(**target)


Scenario = Callable[[ClientFactory, EmbeddedAws], None]
SCENARIOS: dict[str, Scenario] = {
    "budgets": _budgets,
    "ce": _ce,
    "pricing": _pricing,
    "sagemaker": _sagemaker,
    "application-autoscaling": _autoscaling,
    "savingsplans": _savingsplans,
}


def test_the_suite_runs_the_embedded_aws_strict(embedded_aws: EmbeddedAws) -> None:
    assert embedded_aws.strict


def test_every_service_with_extensions_has_a_scenario(embedded_aws: EmbeddedAws) -> None:
    assert {service for service, _ in embedded_aws.extension_operations()} == set(SCENARIOS)


@pytest.mark.parametrize("service", sorted(SCENARIOS))
def test_every_extension_operation_is_called_and_answers_in_shape(
    service: str, aws_client: ClientFactory, embedded_aws: EmbeddedAws
) -> None:
    SCENARIOS[service](aws_client, embedded_aws)  # a malformed answer raises a 501 ClientError

    called = {
        operation
        for (called_service, operation), count in embedded_aws.calls().items()
        if called_service == service and count
    }
    expected = {
        operation for ext_service, operation in embedded_aws.extension_operations() if ext_service == service
    }
    assert expected - called == set(), f"extension operations no scenario calls: {sorted(expected - called)}"
    assert embedded_aws.shape_errors() == []


# ---------------------------------------------------------------------------- the check catches


def test_strict_mode_refuses_an_answer_with_a_wrong_enum(
    aws_client: ClientFactory, embedded_aws: EmbeddedAws
) -> None:
    # The hook takes any Type; AWS's CostAllocationTagType is AWSGenerated | UserDefined.
    embedded_aws.set_cost_allocation_tags([{"TagKey": "team", "Status": "Active", "Type": "Custom"}])

    with pytest.raises(ClientError) as caught:
        aws_client("ce").list_cost_allocation_tags()

    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501
    assert "'Custom' is not one of CostAllocationTagType's values" in str(caught.value)
    (error,) = embedded_aws.shape_errors()
    assert (error.service, error.operation) == ("ce", "ListCostAllocationTags")
    embedded_aws.clear_shape_errors()  # expected here: keep the suite's check quiet


def test_strict_mode_refuses_a_queued_answer_of_the_wrong_shape(
    aws_client: ClientFactory, embedded_aws: EmbeddedAws
) -> None:
    # A careless test queues a forecast whose Amount is a number.
    today = datetime.now(UTC).date()
    period = {"Start": today.isoformat(), "End": (today + timedelta(days=3)).isoformat()}
    embedded_aws.queue_cost_forecast([{"Total": {"Amount": 12.5}, "ForecastResultsByTime": []}])

    with pytest.raises(ClientError) as caught:
        aws_client("ce").get_cost_forecast(TimePeriod=period, Metric="UNBLENDED_COST", Granularity="MONTHLY")

    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501
    assert "$.Total.Amount: expected string" in str(caught.value)
    assert [(e.service, e.operation) for e in embedded_aws.shape_errors()] == [("ce", "GetCostForecast")]
    embedded_aws.clear_shape_errors()


def test_strict_mode_refuses_a_request_with_a_value_outside_its_enum(embedded_aws: EmbeddedAws) -> None:
    # botocore checks types and required members client-side but not enums: AWS refuses the
    # request, and so does the embedded AWS in strict mode, with the operation's modelled
    # validation error (InvalidParameterException for Budgets).
    request = urllib.request.Request(
        embedded_aws.endpoint_url + "/",
        data=json.dumps(
            {"AccountId": ACCOUNT, "Budget": {"BudgetName": "b", "TimeUnit": "WEEKLY", "BudgetType": "COST"}}
        ).encode(),
        method="POST",
        headers={
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": "AWSBudgetServiceGateway.CreateBudget",
            "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/budgets/aws4_request, "
            "SignedHeaders=host, Signature=0",
        },
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=10)
    body = json.loads(caught.value.read())
    assert caught.value.code == 400
    assert "InvalidParameterException" in json.dumps(body)
    assert "'WEEKLY' is not one of TimeUnit's values" in json.dumps(body)


# ---------------------------------------------------------------------------- the validator


def test_the_validator_finds_each_kind_of_difference() -> None:
    good = {
        "Budget": {
            "BudgetName": "b",
            "TimeUnit": "MONTHLY",
            "BudgetType": "COST",
            "BudgetLimit": {"Amount": "1", "Unit": "USD"},
            "LastUpdatedTime": 1767225600.0,
        }
    }
    assert validate_output("budgets", "DescribeBudget", good) == []

    broken = {
        "Budget": {
            "BudgetName": "b",
            "TimeUnit": "FORTNIGHTLY",
            "BudgetLimit": {"Amount": 1, "Unit": "USD"},
            "LastUpdatedTime": "2026-01-01T00:00:00Z",
            "Colour": "red",
            "CostFilters": {"Service": "Amazon SageMaker"},
        }
    }
    problems = validate_output("budgets", "DescribeBudget", broken)

    assert "$.Budget: required member 'BudgetType' of Budget is missing" in problems
    assert any("'FORTNIGHTLY' is not one of TimeUnit's values" in p for p in problems)
    assert any(p.startswith("$.Budget.BudgetLimit.Amount: expected string") for p in problems)
    assert any(
        p.startswith("$.Budget.LastUpdatedTime: expected a timestamp in epoch seconds") for p in problems
    )
    assert any("has no member 'Colour'" in p for p in problems)
    assert any(p.startswith("$.Budget.CostFilters['Service']: expected list") for p in problems)
    assert len(problems) == 6, problems


def test_the_validator_checks_lengths_and_nulls() -> None:
    tags = {"CostAllocationTags": [{"TagKey": "team", "Type": "UserDefined", "Status": None}]}
    assert validate_output("ce", "ListCostAllocationTags", tags) == [
        "$.CostAllocationTags[0].Status: null (AWS omits members without a value)",
        "$.CostAllocationTags[0]: required member 'Status' of CostAllocationTag is missing",
    ]
    unnamed = {"Budget": {"BudgetName": "", "TimeUnit": "MONTHLY", "BudgetType": "COST"}}
    assert validate_output("budgets", "DescribeBudget", unnamed) == [
        "$.Budget.BudgetName: length 0 is below BudgetName's min 1"
    ]
    assert validate_input("budgets", "DescribeBudget", {"AccountId": "1", "BudgetName": "b"}) == [
        "$.AccountId: length 1 is below AccountId's min 12"
    ]


# ---------------------------------------------------------------------------- client-side checks


def test_nothing_of_ours_switches_off_botocores_parameter_validation() -> None:
    offenders = []
    for path in (ROOT / "operator").rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.keyword) and node.arg == "parameter_validation":
                offenders.append(f"{path.relative_to(ROOT)}:{node.value.lineno}")
    assert offenders == []


def test_the_operators_clients_validate_parameters(embedded_aws: EmbeddedAws) -> None:
    import boto3

    sessions = AwsSessions(
        default_region="us-east-1",
        endpoint_url=embedded_aws.endpoint_url,
        base_session=boto3.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
        ),
    )
    budgets: Any = sessions.client("budgets", sessions.target(None, None))
    assert budgets.meta.config.parameter_validation is True
    with pytest.raises(Exception, match="Missing required parameter"):
        budgets.describe_budget(AccountId=ACCOUNT)


def test_strict_mode_checks_the_rest_json_savingsplans_answers(
    aws_client: ClientFactory, embedded_aws: EmbeddedAws
) -> None:
    # savingsplans speaks rest-json; its states are lower-case ("active"), not "Active".
    embedded_aws.set_savings_plans([{**SAGEMAKER_PLAN, "state": "Active"}])

    with pytest.raises(ClientError) as caught:
        aws_client("savingsplans").describe_savings_plans()

    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501
    assert "'Active' is not one of SavingsPlanState's values" in str(caught.value)
    assert [(e.service, e.operation) for e in embedded_aws.shape_errors()] == [
        ("savingsplans", "DescribeSavingsPlans")
    ]
    embedded_aws.clear_shape_errors()
