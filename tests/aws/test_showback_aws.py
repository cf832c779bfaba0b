"""Showback and Savings Plans reads against the embedded AWS: what the operator's clients make of
Cost Explorer's grouped spend and Savings Plans answers, and of each fault AWS can answer."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from botocore.exceptions import ClientError

from mlcost.api.v1alpha1.mlcostreport import SageMakerUsage
from mlcost.aws.costexplorer import CostExplorerClient
from mlcost.aws.savingsplans import SavingsPlansClient
from mlcost.domain.errors import AccessDenied, BillExpired, CostDataUnavailable, MlcostError, Throttled
from mlcost.domain.showback import SpendGroup
from mlcost.embedded.moto_ext.ce import GROUPS_PER_PAGE
from mlcost.embedded.server import DEFAULT_ACCOUNT_ID, EmbeddedAws
from mlcost.embedded.shapes import operation_model

from .conftest import ClientFactory

TODAY = datetime.now(UTC).date()
START = TODAY.replace(day=1)
END = (START + timedelta(days=32)).replace(day=1)
ARN = f"arn:aws:savingsplans::{DEFAULT_ACCOUNT_ID}:savingsplan/"
U = SageMakerUsage


@pytest.fixture
def ce(aws_client: ClientFactory) -> CostExplorerClient:
    return CostExplorerClient(aws_client("ce"))


@pytest.fixture
def plans(aws_client: ClientFactory) -> SavingsPlansClient:
    return SavingsPlansClient(aws_client("savingsplans"))


def item(
    usage_type: str, amount: str, day: date = START, service: str = "Amazon SageMaker", **tags: str
) -> Any:
    return {
        "date": day.isoformat(),
        "service": service,
        "usageType": usage_type,
        "amount": amount,
        "tags": tags,
    }


MONTH = [
    item("USE1-Host:ml.m5.xlarge", "400.10", team="fraud"),
    item("USE1-Host:ml.m5.xlarge", "399.90", TODAY, team="fraud"),
    item("USE1-Host:VolumeUsage.gp2", "3.333", TODAY, team="fraud"),
    item("USE1-Train:ml.g5.xlarge", "250.00", team="search"),
    item("USE1-Tsform:ml.c5.xlarge", "12.00", team="search"),
    item("USE1-Notebk:ml.t3.medium", "35.50"),  # untagged
    item("USE1-Processing:ml.m5.xlarge", "14.50", TODAY),  # untagged
    item("USE1-Studio:JupyterLab-ml.t3.medium", "7.25", team="fraud", owner="ana"),
    item("USE1-Canvas:Session-Hrs", "1.90", team="search"),
    item("USE1-BoxUsage:m5.xlarge", "999.00", service="Amazon Elastic Compute Cloud - Compute", team="fraud"),
    item("USE1-Host:ml.m5.xlarge", "77.00", START - timedelta(days=1), team="fraud"),  # last month
]


def test_grouped_spend_adds_up_to_the_total_for_the_same_filter(
    ce: CostExplorerClient, embedded_aws: EmbeddedAws
) -> None:
    embedded_aws.set_cost_allocation_tags([{"TagKey": "team", "Status": "Active"}])
    embedded_aws.add_cost_line_items(MONTH)

    spend = ce.grouped_spend(START, END, "team")

    assert spend.groups == (
        SpendGroup("fraud", U.HOSTING, Decimal("803.333")),
        SpendGroup("search", U.TRAINING, Decimal("250.00")),
        SpendGroup("no team", U.NOTEBOOK_INSTANCES, Decimal("35.50")),
        SpendGroup("no team", U.PROCESSING, Decimal("14.50")),
        SpendGroup("search", U.BATCH_TRANSFORM, Decimal("12.00")),
        SpendGroup("fraud", U.STUDIO, Decimal("7.25")),
        SpendGroup("search", U.OTHER, Decimal("1.90")),
    )
    # EC2 and last month's spend are outside the filter: neither the groups nor the total hold them.
    assert spend.total == Decimal("1124.483")
    assert spend.groups_sum() == spend.total
    assert spend.untagged_percent() == Decimal("4.4")
    assert (spend.start, spend.end, spend.tag_key) == (START, END, "team")
    assert spend.computed_at is not None
    # One grouped request, one ungrouped for the total.
    assert embedded_aws.calls()[("ce", "GetCostAndUsage")] == 2


def test_spend_of_an_inactive_tag_key_is_all_untagged(
    ce: CostExplorerClient, embedded_aws: EmbeddedAws
) -> None:
    # Cost Explorer only knows active cost-allocation tags: grouping by another key puts
    # everything in "no <key>", never drops it.
    embedded_aws.set_cost_allocation_tags(
        [{"TagKey": "team", "Status": "Inactive"}, {"TagKey": "owner", "Status": "Active"}]
    )
    embedded_aws.add_cost_line_items(MONTH)

    spend = ce.grouped_spend(START, END, "team")

    assert {group.group for group in spend.groups} == {"no team"}
    assert spend.untagged_percent() == Decimal("100.0")
    assert spend.groups_sum() == spend.total == Decimal("1124.483")


def test_grouped_spend_reads_every_page(ce: CostExplorerClient, embedded_aws: EmbeddedAws) -> None:
    teams = GROUPS_PER_PAGE + 25
    embedded_aws.add_cost_line_items(
        [item("USE1-Host:ml.m5.large", f"{n}.01", team=f"team-{n:03}") for n in range(teams)]
        + [item("USE1-Train:ml.m5.large", "5", team=f"team-{n:03}") for n in range(teams)]
    )

    spend = ce.grouped_spend(START, END, "team")

    assert len(spend.groups) == 2 * teams
    assert spend.groups_sum() == spend.total == sum(Decimal(f"{n}.01") + 5 for n in range(teams))
    assert spend.groups[0] == SpendGroup(f"team-{teams - 1:03}", U.HOSTING, Decimal(f"{teams - 1}.01"))
    pages = -(-2 * teams // GROUPS_PER_PAGE)
    assert embedded_aws.calls()[("ce", "GetCostAndUsage")] == pages + 1


def test_a_month_without_spend_has_no_groups_and_an_unknown_untagged_share(
    ce: CostExplorerClient, embedded_aws: EmbeddedAws
) -> None:
    embedded_aws.add_cost_line_items([item("USE1-Host:ml.m5.large", "9", START - timedelta(days=3))])

    spend = ce.grouped_spend(START, END, "team")

    assert spend.groups == ()
    assert spend.total == 0
    assert spend.untagged_percent() is None


# ---------------------------------------------------------------------------- Savings Plans


def plan(plan_id: str, **changes: Any) -> dict[str, Any]:
    return {
        "offeringId": "6a6f8b54-0001",
        "savingsPlanId": plan_id,
        "savingsPlanArn": ARN + plan_id,
        "start": "2026-01-15T10:21:04.000Z",
        "end": "2027-01-15T10:21:03.000Z",
        "state": "active",
        "region": "us-east-1",
        "savingsPlanType": "SageMaker",
        "paymentOption": "No Upfront",
        "productTypes": ["SageMaker"],
        "currency": "USD",
        "commitment": "1.5",
        "upfrontPaymentAmount": "0.0",
        "recurringPaymentAmount": "1.5",
        "termDurationInSeconds": 31536000,
        **changes,
    }


def test_active_sagemaker_plans_with_their_fields(
    plans: SavingsPlansClient, embedded_aws: EmbeddedAws
) -> None:
    embedded_aws.set_savings_plans(
        [
            plan("sp-late"),
            plan(
                "sp-soon",
                end="2026-12-20T00:00:00.000Z",
                commitment="0.75",
                paymentOption="Partial Upfront",
                termDurationInSeconds=94608000,
            ),
            plan("sp-compute", savingsPlanType="Compute", productTypes=["EC2", "Fargate", "Lambda"]),
            plan("sp-retired", state="retired"),
            plan("sp-queued", state="queued"),
        ]
    )

    found = plans.active_sagemaker_plans()

    assert [p.plan_id for p in found] == ["sp-soon", "sp-late"]  # ending soonest first
    soon = found[0]
    assert soon.arn == ARN + "sp-soon"
    assert soon.commitment_per_hour == Decimal("0.75")
    assert (soon.term, soon.payment_option, soon.state) == ("THREE_YEARS", "PARTIAL_UPFRONT", "active")
    assert soon.start == datetime(2026, 1, 15, 10, 21, 4, tzinfo=UTC)
    assert soon.end == datetime(2026, 12, 20, tzinfo=UTC)
    assert (found[1].term, found[1].payment_option) == ("ONE_YEAR", "NO_UPFRONT")


def test_every_page_of_plans_is_read(plans: SavingsPlansClient, embedded_aws: EmbeddedAws) -> None:
    embedded_aws.set_savings_plans([plan(f"sp-{n:04}") for n in range(1003)])

    assert len(plans.active_sagemaker_plans()) == 1003
    assert embedded_aws.calls()[("savingsplans", "DescribeSavingsPlans")] == 2  # 1000 a page


def test_an_account_without_plans(
    ce: CostExplorerClient, plans: SavingsPlansClient, embedded_aws: EmbeddedAws
) -> None:
    embedded_aws.add_cost_line_items([item("USE1-Host:ml.m5.large", "120", TODAY - timedelta(days=2))])

    assert plans.active_sagemaker_plans() == []
    # Nothing is covered: 0% of the spend, a known figure.
    assert ce.savings_plans_coverage(TODAY - timedelta(days=30), TODAY) == Decimal("0.00")
    # Utilisation of no plan is no data (DataUnavailableException), not 0%.
    with pytest.raises(CostDataUnavailable, match="ce:GetSavingsPlansUtilization"):
        ce.savings_plans_utilization(TODAY - timedelta(days=30), TODAY)


def test_utilisation_and_coverage(ce: CostExplorerClient, embedded_aws: EmbeddedAws) -> None:
    embedded_aws.set_savings_plans_usage(
        total_commitment="1116", used_commitment="948.6", covered_spend="948.6", on_demand_cost="1422.9"
    )

    # Asked up to the end of the month: cut at today ("Future dates can't be used as an End date").
    utilization = ce.savings_plans_utilization(START, END, plan_arns=[ARN + "sp-1"])
    coverage = ce.savings_plans_coverage(START - timedelta(days=31), END)

    assert utilization == Decimal("85.00")
    assert coverage == Decimal("40.00")  # 948.6 of 2371.5


def test_utilisation_of_the_plans_asked_for(ce: CostExplorerClient, embedded_aws: EmbeddedAws) -> None:
    embedded_aws.set_savings_plans([plan("sp-1")])
    embedded_aws.set_savings_plans_usage(
        total_commitment="100", used_commitment="72.5", covered_spend="72.5", on_demand_cost="27.5"
    )

    assert ce.savings_plans_utilization(START, END, plan_arns=[ARN + "sp-1"]) == Decimal("72.50")
    with pytest.raises(CostDataUnavailable):
        ce.savings_plans_utilization(START, END, plan_arns=[ARN + "sp-of-another-account"])


def test_no_commitment_is_unknown_utilisation(ce: CostExplorerClient, embedded_aws: EmbeddedAws) -> None:
    embedded_aws.set_savings_plans_usage(
        total_commitment="0", used_commitment="0", covered_spend="0", on_demand_cost="0"
    )

    assert ce.savings_plans_utilization(START, END) is None
    assert ce.savings_plans_coverage(START, END) is None


RECOMMENDATION: dict[str, Any] = {
    "SavingsPlansPurchaseRecommendationDetails": [
        {
            "HourlyCommitmentToPurchase": "1.40",
            "UpfrontCost": "6132.00",
            "EstimatedMonthlySavingsAmount": "230",
        },
        {
            "HourlyCommitmentToPurchase": "0.70",
            "UpfrontCost": "3066.00",
            "EstimatedMonthlySavingsAmount": "120",
        },
    ],
    "SavingsPlansPurchaseRecommendationSummary": {
        "TotalRecommendationCount": "2",
        "HourlyCommitmentToPurchase": "2.10",
        "EstimatedMonthlySavingsAmount": "350.00",
        "EstimatedSavingsPercentage": "22.0",
        "CurrencyCode": "USD",
    },
}


def test_recommendation_for_the_term_payment_and_lookback_asked(
    ce: CostExplorerClient, embedded_aws: EmbeddedAws
) -> None:
    embedded_aws.set_savings_plans_recommendation(RECOMMENDATION)

    found = ce.savings_plans_recommendation("THREE_YEARS", "PARTIAL_UPFRONT", "SIXTY_DAYS")

    assert found is not None
    assert (found.term, found.payment_option, found.lookback) == (
        "THREE_YEARS",
        "PARTIAL_UPFRONT",
        "SIXTY_DAYS",
    )
    assert found.hourly_commitment == Decimal("2.10")
    assert found.estimated_monthly_savings == Decimal("350.00")
    assert found.estimated_savings_percent == Decimal("22.0")
    assert found.upfront_cost == Decimal("9198.00")  # both details
    assert found.breakeven_months == Decimal("26.3")
    assert found.generated_at is not None
    assert abs(found.generated_at - datetime.now(UTC)) < timedelta(minutes=5)


def test_no_recommendation_without_enough_history(ce: CostExplorerClient, embedded_aws: EmbeddedAws) -> None:
    embedded_aws.set_savings_plans_recommendation(None)

    assert ce.savings_plans_recommendation("ONE_YEAR", "NO_UPFRONT", "SEVEN_DAYS") is None


# ---------------------------------------------------------------------------- faults

Read = Callable[[CostExplorerClient, SavingsPlansClient], object]
READS: dict[str, tuple[str, str, Read]] = {
    "grouped spend": ("ce", "GetCostAndUsage", lambda ce, _: ce.grouped_spend(START, END, "team")),
    "utilisation": (
        "ce",
        "GetSavingsPlansUtilization",
        lambda ce, _: ce.savings_plans_utilization(START, END),
    ),
    "coverage": ("ce", "GetSavingsPlansCoverage", lambda ce, _: ce.savings_plans_coverage(START, END)),
    "recommendation": (
        "ce",
        "GetSavingsPlansPurchaseRecommendation",
        lambda ce, _: ce.savings_plans_recommendation("ONE_YEAR", "NO_UPFRONT", "THIRTY_DAYS"),
    ),
    "plans": ("savingsplans", "DescribeSavingsPlans", lambda _, sp: sp.active_sagemaker_plans()),
}


def modelling(code: str) -> list[str]:
    """The reads whose operation lists `code` among its errors in botocore's model."""
    return [
        name
        for name, (service, operation, _) in sorted(READS.items())
        if code in {shape.name for shape in operation_model(service, operation).error_shapes}
    ]


def _fail(
    name: str, code: str, ce: CostExplorerClient, plans: SavingsPlansClient, embedded_aws: EmbeddedAws
) -> MlcostError:
    service, operation, read = READS[name]
    embedded_aws.set_savings_plans_usage(
        total_commitment="10", used_commitment="9", covered_spend="9", on_demand_cost="1"
    )
    embedded_aws.inject_error(service, operation, code, f"Injected {code}")
    with pytest.raises(MlcostError) as caught:
        read(ce, plans)
    return caught.value


@pytest.mark.parametrize("name", sorted(READS))
def test_access_denied_names_the_permission(
    name: str, ce: CostExplorerClient, plans: SavingsPlansClient, embedded_aws: EmbeddedAws
) -> None:
    error = _fail(name, "AccessDeniedException", ce, plans, embedded_aws)

    service, operation, _ = READS[name]
    assert isinstance(error, AccessDenied)
    assert error.operation == f"{service}:{operation}"
    assert error.message.startswith(f"{service}:{operation}: AccessDeniedException")
    assert "Grant the operator's IAM role this permission" in error.message


@pytest.mark.parametrize("name", modelling("DataUnavailableException"))
def test_cost_explorer_without_data(
    name: str, ce: CostExplorerClient, plans: SavingsPlansClient, embedded_aws: EmbeddedAws
) -> None:
    error = _fail(name, "DataUnavailableException", ce, plans, embedded_aws)

    assert isinstance(error, CostDataUnavailable)
    assert error.transient
    assert "asked again later" in error.message


@pytest.mark.parametrize("name", modelling("BillExpirationException"))
def test_an_expired_bill(
    name: str, ce: CostExplorerClient, plans: SavingsPlansClient, embedded_aws: EmbeddedAws
) -> None:
    error = _fail(name, "BillExpirationException", ce, plans, embedded_aws)

    assert isinstance(error, BillExpired)
    assert not error.transient
    assert "ask for a more recent period" in error.message


@pytest.mark.parametrize(
    ("name", "code"),
    [(n, "LimitExceededException") for n in modelling("LimitExceededException")]
    + [("plans", "ThrottlingException")],
)
def test_throttling(
    name: str, code: str, ce: CostExplorerClient, plans: SavingsPlansClient, embedded_aws: EmbeddedAws
) -> None:
    # Cost Explorer throttles with LimitExceededException (its model: "You made too many calls
    # in a short period of time").
    error = _fail(name, code, ce, plans, embedded_aws)

    assert isinstance(error, Throttled)
    assert error.transient


def test_the_modelled_errors_are_all_exercised() -> None:
    assert modelling("DataUnavailableException") == ["coverage", "grouped spend", "utilisation"]
    assert modelling("BillExpirationException") == ["grouped spend"]
    assert len(modelling("LimitExceededException")) == 4


def test_a_period_asked_in_the_future_is_refused_as_aws_does(aws_client: ClientFactory) -> None:
    # Not through our client, which cuts the end at today: what AWS says of a future End.
    with pytest.raises(ClientError, match="must be before the current date"):
        aws_client("ce").get_savings_plans_coverage(
            TimePeriod={"Start": START.isoformat(), "End": (TODAY + timedelta(days=2)).isoformat()}
        )


def test_the_seeding_hooks_work_over_http_for_another_process(
    ce: CostExplorerClient, plans: SavingsPlansClient, embedded_aws: EmbeddedAws
) -> None:
    import json
    import urllib.request

    def post(path: str, body: dict[str, Any]) -> int:
        request = urllib.request.Request(
            embedded_aws.endpoint_url + path,
            data=json.dumps(body).encode(),
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)

    assert post("/moto-api/mlcost/ce/line-items", {"items": MONTH[:2]}) == 201
    assert post("/moto-api/mlcost/savingsplans/plans", {"plans": [plan("sp-http")]}) == 201
    usage = {"total_commitment": "10", "used_commitment": "5", "covered_spend": "5", "on_demand_cost": "15"}
    assert post("/moto-api/mlcost/ce/savings-plans-usage", usage) == 201
    assert post("/moto-api/mlcost/ce/savings-plans-recommendation", {"recommendation": RECOMMENDATION}) == 201

    assert ce.grouped_spend(START, END, "team").total == Decimal("800.00")
    assert [p.plan_id for p in plans.active_sagemaker_plans()] == ["sp-http"]
    assert ce.savings_plans_utilization(START, END) == Decimal("50.00")
    assert ce.savings_plans_coverage(START, END) == Decimal("25.00")
    assert ce.savings_plans_recommendation("ONE_YEAR", "ALL_UPFRONT", "SEVEN_DAYS") is not None
    with pytest.raises(urllib.error.HTTPError) as caught:
        post("/moto-api/mlcost/ce/line-items", {"items": [{"date": "2026-12-01", "amount": "x"}]})
    assert caught.value.code == 400
