"""Governance rules as pure tables: given resources, spec and clock, which violations at what cost."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from mlcost.api.v1alpha1.mlcostpolicy import CostKind, MLCostPolicySpec, ResourceType
from mlcost.domain.catalogue import Price, PriceCatalogue, Usage
from mlcost.domain.governance import (
    Remedy,
    Rule,
    Statistic,
    TrafficSeries,
    evaluate,
    in_scope,
    traffic_measure,
)
from mlcost.domain.inventory import EndpointKind, Inventory, SageMakerResource, Variant, endpoint_kind

# Friday 2026-11-27 10:00 UTC = 11:00 in Berlin (CET); Saturday 10:00 UTC is a weekend.
FRIDAY = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
NB, TJ, EP = ResourceType.NOTEBOOK_INSTANCE, ResourceType.TRAINING_JOB, ResourceType.ENDPOINT
TAGS = {"team": "fraud", "cost-center": "cc-0042", "project": "scoring"}

CATALOGUE = PriceCatalogue(
    prices=[
        Price("ml.m5.xlarge", Usage.NOTEBOOK, "us-east-1", Decimal("0.23"), "TEST", date(2026, 1, 1)),
        Price("ml.p3.2xlarge", Usage.NOTEBOOK, "us-east-1", Decimal("3.825"), "TEST", date(2026, 1, 1)),
        Price("ml.m5.xlarge", Usage.TRAINING, "us-east-1", Decimal("0.23"), "TEST", date(2026, 1, 1)),
        Price("ml.c5.xlarge", Usage.HOSTING, "us-east-1", Decimal("0.204"), "TEST", date(2026, 1, 1)),
    ]
)


def resource(type_: ResourceType, name: str = "fraud-x", **fields: Any) -> SageMakerResource:
    defaults: dict[str, Any] = {
        "status": {NB: "InService", TJ: "InProgress", EP: "InService"}[type_],
        "tags": TAGS,
        "instance_type": "ml.m5.xlarge",
        "created": FRIDAY - timedelta(days=30),
        "started": FRIDAY - timedelta(hours=1),
    }
    if type_ is EP:
        defaults["variants"] = (Variant("AllTraffic", "ml.c5.xlarge", 2),)
        defaults["endpoint_kind"] = EndpointKind.REAL_TIME
    defaults.update(fields)
    return SageMakerResource(type=type_, name=name, arn=f"arn:aws:sagemaker:us-east-1:1:{name}", **defaults)


def spec(**rules: Any) -> MLCostPolicySpec:
    return MLCostPolicySpec.model_validate({"scope": {"tags": {"team": "fraud"}}, **rules})


def violations(
    policy: MLCostPolicySpec, *resources: SageMakerResource, **kwargs: Any
) -> list[tuple[str, Rule, Remedy]]:
    inventory = Inventory("1", "us-east-1", FRIDAY, resources)
    found = evaluate(policy, inventory, now=kwargs.pop("now", FRIDAY), catalogue=CATALOGUE, **kwargs)
    return [(v.resource.name, v.rule, v.remedy) for v in found.violations]


@pytest.mark.parametrize(
    ("scope", "name", "tags", "expected"),
    [
        ({"tags": {"team": "fraud"}}, "x", {"team": "fraud"}, True),
        ({"tags": {"team": "fraud"}}, "x", {"team": "risk"}, False),
        ({"tags": {"team": "fraud", "env": "prod"}}, "x", {"team": "fraud"}, False),
        ({"namePrefixes": ["fraud-"]}, "fraud-eda", {}, True),
        ({"tags": {"team": "fraud"}, "namePrefixes": ["fraud-"]}, "risk-eda", {"team": "fraud"}, True),
        ({}, "fraud-eda", {"team": "fraud"}, False),
    ],
)
def test_scope(scope: dict[str, Any], name: str, tags: dict[str, str], expected: bool) -> None:
    policy = MLCostPolicySpec.model_validate({"scope": scope})
    assert in_scope(resource(NB, name, tags=tags), policy.scope) is expected


TAGGING = {
    "tagging": {
        "required": [
            {"key": "team", "allowedValues": ["fraud"]},
            {"key": "cost-center", "pattern": "^cc-[0-9]{4}$"},
            {"key": "project"},
        ],
        "defaults": {"cost-center": "cc-0042"},
    }
}


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        (TAGS, []),
        ({"team": "fraud", "project": "p"}, [(Rule.MISSING_TAG, Remedy.ADD_TAGS)]),
        ({"team": "fraud", "cost-center": "cc-0042"}, [(Rule.MISSING_TAG, Remedy.REPORT)]),
        (
            {"team": "fraud", "cost-center": "42", "project": "p"},
            [(Rule.TAG_PATTERN_MISMATCH, Remedy.REPORT)],
        ),
    ],
)
def test_required_tags(tags: dict[str, str], expected: list[tuple[Rule, Remedy]]) -> None:
    found = violations(spec(**TAGGING), resource(NB, tags=tags))
    assert [(rule, remedy) for _, rule, remedy in found] == expected


def test_wrong_tag_value_is_reported_never_overwritten() -> None:
    policy = MLCostPolicySpec.model_validate({"scope": {"namePrefixes": ["fraud-"]}, **TAGGING})
    found = violations(policy, resource(NB, tags={**TAGS, "team": "risk"}))
    assert found == [("fraud-x", Rule.TAG_VALUE_NOT_ALLOWED, Remedy.REPORT)]


NOTEBOOKS = {
    "notebooks": {
        "allowedInstanceTypes": ["ml.t3.medium", "ml.m5.xlarge"],
        "maxUptime": "12h",
        "schedule": {"timezone": "Europe/Berlin", "activeHours": "Mon-Fri 07:00-20:00"},
    }
}


@pytest.mark.parametrize(
    ("fields", "now", "expected"),
    [
        ({}, FRIDAY, []),
        ({"instance_type": "ml.p3.2xlarge"}, FRIDAY, [(Rule.INSTANCE_TYPE_NOT_ALLOWED, Remedy.STOP)]),
        (
            {"instance_type": "ml.p3.2xlarge", "status": "Stopped"},
            FRIDAY,
            [(Rule.INSTANCE_TYPE_NOT_ALLOWED, Remedy.REPORT)],
        ),
        ({"started": FRIDAY - timedelta(hours=13)}, FRIDAY, [(Rule.MAX_UPTIME_EXCEEDED, Remedy.STOP)]),
        ({"started": FRIDAY - timedelta(hours=13), "status": "Stopped"}, FRIDAY, []),
        (
            {"started": FRIDAY + timedelta(hours=23)},
            FRIDAY + timedelta(days=1),  # Saturday
            [(Rule.OUTSIDE_ACTIVE_HOURS, Remedy.STOP)],
        ),
        (
            {},
            datetime(2026, 11, 27, 19, 30, tzinfo=UTC),
            [(Rule.OUTSIDE_ACTIVE_HOURS, Remedy.STOP)],
        ),  # 20:30 CET
        # Summer time: 18:30 UTC on a July Friday is 20:30 CEST (outside); in winter 19:30 CET (inside).
        (
            {"started": datetime(2026, 7, 3, 18, 0, tzinfo=UTC)},
            datetime(2026, 7, 3, 18, 30, tzinfo=UTC),
            [(Rule.OUTSIDE_ACTIVE_HOURS, Remedy.STOP)],
        ),
        ({}, datetime(2026, 11, 27, 18, 30, tzinfo=UTC), []),
    ],
)
def test_notebook_rules(fields: dict[str, Any], now: datetime, expected: list[tuple[Rule, Remedy]]) -> None:
    found = violations(spec(**NOTEBOOKS), resource(NB, **fields), now=now)
    assert [(rule, remedy) for _, rule, remedy in found] == expected


TRAINING = {
    "training": {"requireManagedSpot": True, "maxRuntime": "24h", "allowedInstanceTypes": ["ml.m5.xlarge"]}
}


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"managed_spot": True, "max_runtime_seconds": 3600}, []),
        ({"managed_spot": False, "max_runtime_seconds": 3600}, [(Rule.SPOT_NOT_USED, Remedy.STOP)]),
        ({"managed_spot": False, "status": "Completed"}, [(Rule.SPOT_NOT_USED, Remedy.REPORT)]),
        (
            {"managed_spot": True, "max_runtime_seconds": 2 * 86400},
            [(Rule.MAX_RUNTIME_EXCEEDED, Remedy.STOP)],
        ),
        (
            {"managed_spot": True, "instance_type": "ml.p3.2xlarge"},
            [(Rule.INSTANCE_TYPE_NOT_ALLOWED, Remedy.STOP)],
        ),
    ],
)
def test_training_rules(fields: dict[str, Any], expected: list[tuple[Rule, Remedy]]) -> None:
    found = violations(spec(**TRAINING), resource(TJ, **fields))
    assert [(rule, remedy) for _, rule, remedy in found] == expected


def test_spot_savings_measured_on_finished_jobs() -> None:
    jobs = [
        resource(TJ, "a", status="Completed", managed_spot=True, training_seconds=1000, billable_seconds=300),
        resource(TJ, "b", status="Completed", managed_spot=True, training_seconds=1000, billable_seconds=500),
        resource(TJ, "c", status="InProgress", managed_spot=True, training_seconds=1000, billable_seconds=0),
        resource(
            TJ, "d", status="Completed", managed_spot=False, training_seconds=1000, billable_seconds=1000
        ),
    ]
    result = evaluate(
        spec(), Inventory("1", "us-east-1", FRIDAY, tuple(jobs)), now=FRIDAY, catalogue=CATALOGUE
    )
    assert result.spot.jobs == 2
    assert result.spot.percent == Decimal("60.00")


IDLE = {
    "endpoints": {"allowedInstanceTypes": ["ml.c5.xlarge"], "idle": {"window": "7d", "maxInvocations": 10}}
}


def per_variant(metric: str, count: int, variant: str = "AllTraffic") -> dict[TrafficSeries, Decimal]:
    """What CloudWatch summed for one metric of fraud-x's variant over the window."""
    dimensions = (("EndpointName", "fraud-x"), ("VariantName", variant))
    return {TrafficSeries(metric, dimensions, Statistic.SUM): Decimal(count)}


def backlog(size: int) -> dict[TrafficSeries, Decimal]:
    """The largest ApproximateBacklogSize of fraud-x in the window (published per endpoint)."""
    series = TrafficSeries("ApproximateBacklogSize", (("EndpointName", "fraud-x"),), Statistic.MAXIMUM)
    return {series: Decimal(size)}


RT, ASYNC, SERVERLESS, IC = (
    EndpointKind.REAL_TIME,
    EndpointKind.ASYNCHRONOUS,
    EndpointKind.SERVERLESS,
    EndpointKind.INFERENCE_COMPONENTS,
)
SERVERLESS_VARIANT = (Variant("AllTraffic", None, 0, serverless=True),)
IC_VARIANT = (Variant("AllTraffic", "ml.g5.xlarge", 1, inference_components=True),)
IDLE_DELETE = [(Rule.IDLE_ENDPOINT, Remedy.DELETE)]
NOT_JUDGED = "not judged"


# (endpoint kind, its variants or None for the default, traffic over the window, expected)
IDLE_CASES = [
    (RT, None, per_variant("Invocations", 500), []),
    (RT, None, per_variant("Invocations", 10), IDLE_DELETE),  # maxInvocations 10 counts as idle
    (RT, None, {}, IDLE_DELETE),  # no datapoint: no request reached it
    # Async endpoints publish no Invocations: judged by what they processed and what waits.
    (ASYNC, None, per_variant("InvocationsProcessed", 500), []),
    (ASYNC, None, {**per_variant("Invocations", 0), **per_variant("InvocationsProcessed", 500)}, []),
    (ASYNC, None, per_variant("InvocationFailures", 40), []),
    (ASYNC, None, backlog(3), []),  # requests queued, none processed yet (e.g. scaled to zero)
    (ASYNC, None, {**per_variant("InvocationsProcessed", 6), **per_variant("InvocationFailures", 6)}, []),
    (ASYNC, None, {**per_variant("InvocationsProcessed", 4), **backlog(0)}, IDLE_DELETE),
    (ASYNC, None, {}, IDLE_DELETE),
    (ASYNC, None, per_variant("Invocations", 500), IDLE_DELETE),  # never published for async: not read
    # Serverless variants publish Invocations like real-time ones.
    (SERVERLESS, SERVERLESS_VARIANT, per_variant("Invocations", 500), []),
    (SERVERLESS, SERVERLESS_VARIANT, {}, IDLE_DELETE),
    # Inference components publish per component; an unknown config says nothing: never judged.
    (IC, IC_VARIANT, {}, NOT_JUDGED),
    (IC, IC_VARIANT, per_variant("Invocations", 0), NOT_JUDGED),
    (None, None, {}, NOT_JUDGED),
]


@pytest.mark.parametrize(
    ("kind", "variants", "traffic", "expected"),
    IDLE_CASES,
    ids=[f"{c[0]}-{i}" for i, c in enumerate(IDLE_CASES)],
)
def test_idle_rule_reads_what_each_kind_of_endpoint_publishes(
    kind: EndpointKind | None,
    variants: tuple[Variant, ...] | None,
    traffic: dict[TrafficSeries, Decimal],
    expected: list[tuple[Rule, Remedy]] | str,
) -> None:
    policy = spec(endpoints={"idle": {"window": "7d", "maxInvocations": 10, "action": "Delete"}})
    fields: dict[str, Any] = {"endpoint_kind": kind}
    if variants is not None:
        fields["variants"] = variants
    endpoint = resource(EP, **fields)
    # The evaluation only sees the series traffic_measure() asks for, as the reconciler reads them.
    measure = traffic_measure(endpoint)
    asked = set(measure.requests + measure.waiting)
    result = evaluate(
        policy,
        Inventory("1", "us-east-1", FRIDAY, (endpoint,)),
        now=FRIDAY,
        catalogue=CATALOGUE,
        traffic={s: v for s, v in traffic.items() if s in asked},
    )

    found = [(v.rule, v.remedy) for v in result.violations]
    if expected == NOT_JUDGED:
        assert found == []
        assert [n.resource.name for n in result.idle_not_judged] == ["fraud-x"]
        reason = result.idle_not_judged[0].reason
        assert "cannot judge idleness" in reason and "not acted on" in reason
        assert result.idle_monthly_waste == 0
    else:
        assert found == expected
        assert result.idle_not_judged == []


def test_async_endpoint_measure_names_its_metrics() -> None:
    endpoint = resource(EP, endpoint_kind=ASYNC)
    measure = traffic_measure(endpoint)
    assert {(s.metric, s.dimensions, s.statistic) for s in measure.requests + measure.waiting} == {
        ("InvocationsProcessed", (("EndpointName", "fraud-x"), ("VariantName", "AllTraffic")), Statistic.SUM),
        ("InvocationFailures", (("EndpointName", "fraud-x"), ("VariantName", "AllTraffic")), Statistic.SUM),
        ("ApproximateBacklogSize", (("EndpointName", "fraud-x"),), Statistic.MAXIMUM),
    }
    policy = spec(endpoints={"idle": {"window": "7d"}})
    idle = evaluate(policy, Inventory("1", "us-east-1", FRIDAY, (endpoint,)), now=FRIDAY, catalogue=CATALOGUE)
    assert "InvocationsProcessed" in idle.violations[0].detail
    assert "ApproximateBacklogSize" in idle.violations[0].detail


def test_inference_component_endpoint_says_why_it_is_not_judged() -> None:
    endpoint = resource(EP, endpoint_kind=IC, variants=IC_VARIANT)
    policy = spec(endpoints={"idle": {"window": "7d", "action": "Delete"}})
    result = evaluate(
        policy, Inventory("1", "us-east-1", FRIDAY, (endpoint,)), now=FRIDAY, catalogue=CATALOGUE
    )
    assert "inference components" in result.idle_not_judged[0].reason
    assert traffic_measure(endpoint).requests == ()


@pytest.mark.parametrize(
    ("fields", "action", "expected"),
    [
        ({}, "Report", [(Rule.IDLE_ENDPOINT, Remedy.REPORT)]),
        ({}, "Delete", [(Rule.IDLE_ENDPOINT, Remedy.DELETE)]),
        ({"created": FRIDAY - timedelta(days=2)}, "Report", []),  # younger than the window
        ({"status": "Updating"}, "Report", []),
        ({"created": FRIDAY - timedelta(days=2), "endpoint_kind": None}, "Delete", []),  # not judged yet
    ],
)
def test_idle_endpoints_age_status_and_action(
    fields: dict[str, Any], action: str, expected: list[tuple[Rule, Remedy]]
) -> None:
    policy = spec(endpoints={**IDLE["endpoints"], "idle": {**IDLE["endpoints"]["idle"], "action": action}})
    inventory = Inventory("1", "us-east-1", FRIDAY, (resource(EP, **fields),))
    result = evaluate(policy, inventory, now=FRIDAY, catalogue=CATALOGUE)
    assert [(v.rule, v.remedy) for v in result.violations] == expected
    assert result.idle_not_judged == []


@pytest.mark.parametrize(
    ("asynchronous", "variants", "expected"),
    [
        (False, (Variant("a", "ml.c5.xlarge", 1),), RT),
        (True, (Variant("a", "ml.c5.xlarge", 1),), ASYNC),
        (False, SERVERLESS_VARIANT, SERVERLESS),
        (False, (*SERVERLESS_VARIANT, Variant("b", "ml.c5.xlarge", 1)), RT),  # both publish Invocations
        (False, IC_VARIANT, IC),
        (True, IC_VARIANT, ASYNC),
        (False, (), RT),
    ],
)
def test_endpoint_kind_from_its_config(
    asynchronous: bool, variants: tuple[Variant, ...], expected: EndpointKind
) -> None:
    assert endpoint_kind(asynchronous, variants) is expected


def test_idle_waste_is_priced_from_the_catalogue() -> None:
    inventory = Inventory("1", "us-east-1", FRIDAY, (resource(EP),))
    result = evaluate(spec(**IDLE), inventory, now=FRIDAY, catalogue=CATALOGUE, traffic={})
    # 2 x ml.c5.xlarge at $0.204/h, 730 h a month.
    assert result.idle_monthly_waste == Decimal("297.84")
    assert "$297.84/month" in result.violations[0].detail
    assert "ml.c5.xlarge" in result.violations[0].detail


def test_unknown_price_is_unknown_not_zero_and_sorted_last() -> None:
    cheap = resource(NB, "fraud-cheap", instance_type="ml.m5.xlarge", tags={"team": "fraud"})
    pricey = resource(NB, "fraud-gpu", instance_type="ml.p3.2xlarge", tags={"team": "fraud"})
    unknown = resource(NB, "fraud-mystery", instance_type="ml.t2.medium", tags={"team": "fraud"})
    inventory = Inventory("1", "us-east-1", FRIDAY, (unknown, cheap, pricey))
    policy = spec(tagging={"required": [{"key": "project"}]})
    result = evaluate(policy, inventory, now=FRIDAY, catalogue=CATALOGUE)
    assert [v.resource.name for v in result.violations] == ["fraud-gpu", "fraud-cheap", "fraud-mystery"]
    cost = result.cost_of(unknown)
    assert (cost.monthly, cost.amount, cost.shown()) == (None, None, "unknown")
    # It says which price is missing and how to supply it.
    assert cost.note.startswith(
        "unknown: the price catalogue has no price for notebook ml.t2.medium in us-east-1"
    )
    assert "MLCOST_PRICE_CATALOGUE" in cost.note


def test_unknown_ranks_after_every_known_figure_not_as_zero_and_one_off_by_its_sum() -> None:
    stopped = resource(NB, "fraud-stopped", status="Stopped", tags={"team": "fraud"})  # known $0/month
    unknown = resource(NB, "fraud-mystery", instance_type="ml.t2.medium", tags={"team": "fraud"})
    unpriced_job = resource(
        TJ, "fraud-odd-job", status="Completed", instance_type="ml.g5.2xlarge", billable_seconds=9000
    )
    # 2 instances x 7200 billable s x $0.23/h = $0.92, once.
    job = resource(TJ, "fraud-job", status="Completed", instance_count=2, billable_seconds=7200)
    running = resource(NB, "fraud-running", tags={"team": "fraud"})  # $0.23/h x 730 h
    inventory = Inventory("1", "us-east-1", FRIDAY, (unknown, unpriced_job, stopped, job, running))
    policy = spec(tagging={"required": [{"key": "owner"}]})
    result = evaluate(policy, inventory, now=FRIDAY, catalogue=CATALOGUE)
    assert [(v.resource.name, result.cost_of(v.resource).shown()) for v in result.violations] == [
        ("fraud-running", "$167.90/month"),
        ("fraud-job", "$0.92 once"),
        ("fraud-stopped", "$0/month"),
        ("fraud-mystery", "unknown"),
        ("fraud-odd-job", "unknown"),
    ]


M5_TRAINING = "$0.23/h ml.m5.xlarge training us-east-1 (source TEST, as of 2026-01-01)"


@pytest.mark.parametrize(
    ("fields", "kind", "one_off", "monthly", "note"),
    [
        # Running: what it costs per month, nothing once yet.
        ({"status": "InProgress"}, CostKind.MONTHLY, None, Decimal("167.90"), f"1 x {M5_TRAINING}"),
        (
            {"status": "Completed", "billable_seconds": 3600},
            CostKind.ONE_OFF,
            Decimal("0.23"),
            Decimal(0),
            f"3600 billable s x 1 x {M5_TRAINING} (ended Completed, nothing more per month)",
        ),
        # Managed Spot bills its billable seconds, not its training seconds: 1290 s, not 3600.
        (
            {"status": "Completed", "managed_spot": True, "training_seconds": 3600, "billable_seconds": 1290},
            CostKind.ONE_OFF,
            Decimal("0.08"),
            Decimal(0),
            "1290 billable s, Managed Spot x 1 x $0.23/h",
        ),
        # Billable time is per instance.
        (
            {"status": "Stopped", "instance_count": 4, "billable_seconds": 36000},
            CostKind.ONE_OFF,
            Decimal("9.20"),
            Decimal(0),
            "36000 billable s x 4 x $0.23/h",
        ),
        (
            {"status": "Failed", "billable_seconds": 0},
            CostKind.ONE_OFF,
            Decimal("0.00"),
            Decimal(0),
            "0 billable s",
        ),
        (
            {"status": "Completed"},
            CostKind.ONE_OFF,
            None,
            Decimal(0),
            "unknown: SageMaker reported no BillableTimeInSeconds",
        ),
        (
            {"status": "Completed", "instance_type": "ml.g5.2xlarge", "billable_seconds": 60},
            CostKind.ONE_OFF,
            None,
            Decimal(0),
            "unknown: the price catalogue has no price for training ml.g5.2xlarge in us-east-1",
        ),
    ],
)
def test_what_a_training_job_costs(
    fields: dict[str, Any], kind: CostKind, one_off: Decimal | None, monthly: Decimal, note: str
) -> None:
    job = resource(TJ, "fraud-job", **fields)
    result = evaluate(spec(), Inventory("1", "us-east-1", FRIDAY, (job,)), now=FRIDAY, catalogue=CATALOGUE)
    cost = result.cost_of(job)
    assert (cost.kind, cost.one_off, cost.monthly) == (kind, one_off, monthly)
    assert note in cost.note


@pytest.mark.parametrize(
    ("percent", "expected"),
    [
        (Decimal("99.99"), []),
        (Decimal("100"), [("fraud-nb", Rule.BUDGET_BREACHED, Remedy.STOP)]),
    ],
)
def test_breach_stops_running_notebooks_only(
    percent: Decimal, expected: list[tuple[str, Rule, Remedy]]
) -> None:
    policy = spec(budget={"limit": "100"}, breachActions=[{"atPercent": "100", "stopNotebooks": True}])
    found = violations(
        policy,
        resource(NB, "fraud-nb"),
        resource(NB, "fraud-stopped", status="Stopped"),
        resource(TJ, "fraud-job"),
        spend_percent=percent,
    )
    assert found == expected
