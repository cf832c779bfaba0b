"""Evaluate a policy's rules over the SageMaker resources in its scope: who breaks what, at what cost."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from mlcost.api.hours import WeeklyHours
from mlcost.api.types import format_duration
from mlcost.api.v1alpha1.mlcostpolicy import (
    CostKind,
    IdleAction,
    MLCostPolicySpec,
    ResourceType,
    Scope,
)
from mlcost.domain.catalogue import HOURS_PER_MONTH, PriceCatalogue, Usage
from mlcost.domain.inventory import EndpointKind, Inventory, SageMakerResource

RUNNING = {
    ResourceType.NOTEBOOK_INSTANCE: "InService",
    ResourceType.TRAINING_JOB: "InProgress",
    ResourceType.ENDPOINT: "InService",
}
FINISHED_TRAINING = frozenset({"Completed", "Stopped"})
# A job that ended, however it ended, was billed once for its billable time.
ENDED_TRAINING = FINISHED_TRAINING | {"Failed"}
# What a figure says when there is none: never $0, which would read as free and rank last.
UNKNOWN = "unknown"
_USAGE = {
    ResourceType.ENDPOINT: Usage.HOSTING,
    ResourceType.NOTEBOOK_INSTANCE: Usage.NOTEBOOK,
    ResourceType.TRAINING_JOB: Usage.TRAINING,
}


class Rule(StrEnum):
    MISSING_TAG = "MissingTag"
    TAG_VALUE_NOT_ALLOWED = "TagValueNotAllowed"
    TAG_PATTERN_MISMATCH = "TagPatternMismatch"
    INSTANCE_TYPE_NOT_ALLOWED = "InstanceTypeNotAllowed"
    MAX_UPTIME_EXCEEDED = "MaxUptimeExceeded"
    OUTSIDE_ACTIVE_HOURS = "OutsideActiveHours"
    SPOT_NOT_USED = "SpotNotUsed"
    MAX_RUNTIME_EXCEEDED = "MaxRuntimeExceeded"
    IDLE_ENDPOINT = "IdleEndpoint"
    BUDGET_BREACHED = "BudgetBreached"


# Not a violation: what the idle rule could not judge, and why (status items, never acted on).
IDLE_NOT_JUDGED = "IdleNotJudged"


class Remedy(StrEnum):
    """What Enforce mode does about a violation."""

    REPORT = "Report"
    ADD_TAGS = "AddTags"
    STOP = "Stop"
    DELETE = "Delete"


@dataclass(frozen=True)
class Cost:
    """What a resource costs, and which price says so.

    `monthly` is what it costs per month while it keeps running as it is (0 when it does not
    run); a finished training job also has `one_off`, what it cost once, and is ranked by that.
    A note of an unknown figure starts with "unknown:" and says which price is missing.
    """

    monthly: Decimal | None  # None: no known price, never 0 for unknown
    note: str
    kind: CostKind = CostKind.MONTHLY
    one_off: Decimal | None = None  # kind OneOff only; None: unknown

    @property
    def amount(self) -> Decimal | None:
        """The figure of its kind: monthly for Monthly, one_off for OneOff; None when unknown."""
        return self.one_off if self.kind is CostKind.ONE_OFF else self.monthly

    @property
    def rank(self) -> tuple[int, Decimal]:
        """Sort key, most expensive first; unknown after every known figure (not as if $0)."""
        amount = self.amount
        return (0, -amount) if amount is not None else (1, Decimal(0))

    def shown(self) -> str:
        """The figure in words: "$12.34/month", "$5.67 once" or "unknown"."""
        amount = self.amount
        if amount is None:
            return UNKNOWN
        return f"${amount} once" if self.kind is CostKind.ONE_OFF else f"${amount}/month"


# Where SageMaker publishes endpoint traffic (AWS docs, "Amazon SageMaker AI metrics in Amazon
# CloudWatch", "Monitor asynchronous endpoints", "Monitor a serverless endpoint").
SAGEMAKER_NAMESPACE = "AWS/SageMaker"


class Statistic(StrEnum):
    SUM = "Sum"  # requests counted: summed over the window
    MAXIMUM = "Maximum"  # a level (requests waiting): its highest value in the window


@dataclass(frozen=True)
class TrafficSeries:
    """One CloudWatch series in AWS/SageMaker that shows requests reaching an endpoint."""

    metric: str
    dimensions: tuple[tuple[str, str], ...]
    statistic: Statistic


@dataclass(frozen=True)
class TrafficMeasure:
    """How the idle rule measures one endpoint's traffic: the series to read and add up, the
    series of requests still waiting (any one waiting means in use), or why it cannot."""

    requests: tuple[TrafficSeries, ...] = ()
    waiting: tuple[TrafficSeries, ...] = ()
    unmeasurable: str | None = None  # the reason; nothing is read or judged then


def _per_variant(resource: SageMakerResource, metric: str) -> tuple[TrafficSeries, ...]:
    return tuple(
        TrafficSeries(metric, (("EndpointName", resource.name), ("VariantName", v.name)), Statistic.SUM)
        for v in resource.variants
    )


def traffic_measure(resource: SageMakerResource) -> TrafficMeasure:
    """Which CloudWatch series show an endpoint's traffic, by its kind.

    Real-time and serverless variants publish `Invocations` per EndpointName/VariantName.
    Asynchronous endpoints publish no Invocations; they count `InvocationsProcessed` and
    `InvocationFailures` per EndpointName/VariantName and the queue `ApproximateBacklogSize`
    per EndpointName: a request processed, failed or still queued is traffic. Endpoints
    hosting inference components publish per-component metrics (InferenceComponentName) that
    the operator does not read; their traffic is not judged, nor is that of an endpoint
    whose config could not be read.
    """
    match resource.endpoint_kind:
        case EndpointKind.REAL_TIME | EndpointKind.SERVERLESS:
            return TrafficMeasure(requests=_per_variant(resource, "Invocations"))
        case EndpointKind.ASYNCHRONOUS:
            return TrafficMeasure(
                requests=_per_variant(resource, "InvocationsProcessed")
                + _per_variant(resource, "InvocationFailures"),
                waiting=(
                    TrafficSeries(
                        "ApproximateBacklogSize", (("EndpointName", resource.name),), Statistic.MAXIMUM
                    ),
                ),
            )
        case EndpointKind.INFERENCE_COMPONENTS:
            return TrafficMeasure(
                unmeasurable="it hosts inference components, whose traffic SageMaker publishes per "
                "component (InferenceComponentName), which the idle rule does not read"
            )
        case None:
            return TrafficMeasure(
                unmeasurable=f"its endpoint config {resource.endpoint_config or '(none)'} "
                f"{resource.config_note or 'could not be read'}, so its kind (real-time, asynchronous, "
                "serverless) and the metrics that show its traffic are unknown"
            )


@dataclass(frozen=True)
class NotJudged:
    """An endpoint the idle rule did not judge, and why: it is never reported idle or deleted."""

    resource: SageMakerResource
    reason: str


@dataclass(frozen=True)
class Violation:
    resource: SageMakerResource
    rule: Rule
    detail: str
    remedy: Remedy = Remedy.REPORT
    tags_to_add: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SpotSavings:
    """Managed Spot savings measured on finished jobs: 1 - billable / training time."""

    jobs: int = 0
    training_seconds: int = 0
    billable_seconds: int = 0

    @property
    def percent(self) -> Decimal | None:
        if not self.training_seconds:
            return None
        saved = Decimal(self.training_seconds - self.billable_seconds) * 100 / self.training_seconds
        return saved.quantize(Decimal("0.01"))


@dataclass
class Evaluation:
    """The rules applied to one inventory."""

    governed: Counter[ResourceType] = field(default_factory=Counter)
    violations: list[Violation] = field(default_factory=list)
    costs: dict[tuple[ResourceType, str], Cost] = field(default_factory=dict)
    spot: SpotSavings = field(default_factory=SpotSavings)
    idle_monthly_waste: Decimal = Decimal(0)
    idle_not_judged: list[NotJudged] = field(default_factory=list)

    def cost_of(self, resource: SageMakerResource) -> Cost:
        return self.costs.get((resource.type, resource.name), Cost(None, f"{UNKNOWN}: not priced"))


def in_scope(resource: SageMakerResource, scope: Scope | None) -> bool:
    """All scope tags match, or a name prefix matches; an empty scope governs nothing."""
    if scope is None:
        return False
    by_tags = bool(scope.tags) and all(resource.tags.get(k) == v for k, v in scope.tags.items())
    by_name = any(resource.name.startswith(prefix) for prefix in scope.name_prefixes)
    return by_tags or by_name


def _unknown_price(
    resource: SageMakerResource,
    instance_type: str | None,
    usage: Usage,
    catalogue: PriceCatalogue,
    region: str,
) -> str:
    if not instance_type and resource.config_note:
        return (
            f"{UNKNOWN}: the instance type of {resource.type.value} {resource.name} is in its endpoint "
            f"config {resource.endpoint_config}, which {resource.config_note}"
        )
    if not instance_type:
        return f"{UNKNOWN}: SageMaker reported no instance type for {resource.type.value} {resource.name}"
    why = catalogue.explain_missing([(instance_type, region, usage)])
    return f"{UNKNOWN}: {why or f'no {usage.value} price for {instance_type} in {region}'}"


def running_cost(resource: SageMakerResource, catalogue: PriceCatalogue, region: str) -> Cost:
    """Monthly cost if the resource keeps running as it is now; 0 when it is not running.

    A training job that ended also gets what it cost, once (job_cost)."""
    if resource.type is ResourceType.TRAINING_JOB and resource.status in ENDED_TRAINING:
        return job_cost(resource, catalogue, region)
    if resource.status != RUNNING[resource.type]:
        return Cost(Decimal(0), f"not running ({resource.status})")
    usage = _USAGE[resource.type]
    if resource.type is ResourceType.ENDPOINT:
        units = [(v.instance_type, v.instance_count) for v in resource.variants if not v.serverless]
    else:
        units = [(resource.instance_type, resource.instance_count)]
    total, notes = Decimal(0), []
    for instance_type, count in units:
        price = catalogue.price(instance_type, region, usage) if instance_type else None
        if price is None:
            return Cost(None, _unknown_price(resource, instance_type, usage, catalogue, region))
        total += price.hourly_usd * count * HOURS_PER_MONTH
        notes.append(f"{count} x {price.describe()}")
    return Cost(total.quantize(Decimal("0.01")), "; ".join(notes))


def job_cost(resource: SageMakerResource, catalogue: PriceCatalogue, region: str) -> Cost:
    """What a training job that ended cost: BillableTimeInSeconds x InstanceCount x hourly price.

    SageMaker bills BillableTimeInSeconds per instance (botocore's DescribeTrainingJob docs:
    "Multiply BillableTimeInSeconds by the number of instances"); for Managed Spot jobs it is
    the time actually billed, shorter than the training time, so the same product holds.
    It costs nothing more per month: monthly stays 0.
    """
    ended = f"ended {resource.status}, nothing more per month"
    seconds = resource.billable_seconds
    if seconds is None:
        return Cost(
            Decimal(0),
            f"{UNKNOWN}: SageMaker reported no BillableTimeInSeconds for the job ({ended})",
            CostKind.ONE_OFF,
        )
    price = (
        catalogue.price(resource.instance_type, region, Usage.TRAINING) if resource.instance_type else None
    )
    if price is None:
        why = _unknown_price(resource, resource.instance_type, Usage.TRAINING, catalogue, region)
        return Cost(Decimal(0), f"{why} ({ended})", CostKind.ONE_OFF)
    total = price.hourly_usd * resource.instance_count * seconds / 3600
    spot = ", Managed Spot" if resource.managed_spot else ""
    return Cost(
        Decimal(0),
        f"{seconds} billable s{spot} x {resource.instance_count} x {price.describe()} ({ended})",
        CostKind.ONE_OFF,
        total.quantize(Decimal("0.01")),
    )


def needs_endpoint_configs(spec: MLCostPolicySpec) -> bool:
    """Whether the policy's rules read what only endpoint configs hold (instance types, kind).

    Reading them costs one DescribeEndpointConfig per config: a policy that only checks tags,
    notebooks or training jobs does without, and its endpoint findings cost "unknown".
    """
    rules = spec.endpoints
    return rules is not None and (bool(rules.allowed_instance_types) or rules.idle is not None)


def evaluate(
    spec: MLCostPolicySpec,
    inventory: Inventory,
    *,
    now: datetime,
    catalogue: PriceCatalogue,
    traffic: Mapping[TrafficSeries, Decimal] | None = None,
    spend_percent: Decimal | None = None,
) -> Evaluation:
    """Every violation of the policy's rules by the resources in its scope.

    `traffic` holds each series of traffic_measure() over the idle window: the Sum of a SUM
    series, the highest value of a MAXIMUM one; a series without data is 0 (SageMaker
    publishes no datapoint for a minute without requests).
    """
    result = Evaluation()
    breach = _breach(spec, spend_percent)
    for resource in inventory.resources:
        if not in_scope(resource, spec.scope):
            continue
        result.governed[resource.type] += 1
        cost = running_cost(resource, catalogue, inventory.region)
        result.costs[(resource.type, resource.name)] = cost
        found = _tag_violations(spec, resource)
        match resource.type:
            case ResourceType.NOTEBOOK_INSTANCE:
                found += _notebook_violations(spec, resource, now)
            case ResourceType.TRAINING_JOB:
                found += _training_violations(spec, resource)
                result.spot = _add_spot(result.spot, resource)
            case ResourceType.ENDPOINT:
                found += _endpoint_violations(spec, resource, now, traffic or {}, cost, result)
        if breach and resource.status == RUNNING[resource.type] and resource.type in breach[1]:
            found.append(
                Violation(
                    resource,
                    Rule.BUDGET_BREACHED,
                    f"actual spend is {spend_percent}% of the budget limit (breach action at {breach[0]}%)",
                    Remedy.STOP,
                )
            )
        if any(v.rule is Rule.IDLE_ENDPOINT for v in found) and cost.monthly:
            result.idle_monthly_waste += cost.monthly
        result.violations.extend(found)
    result.violations.sort(key=lambda v: _expense_order(result.cost_of(v.resource), v))
    return result


def _expense_order(cost: Cost, violation: Violation) -> tuple[tuple[int, Decimal], str, str]:
    # Most expensive first, by the figure of each cost's kind (a finished job by what it cost
    # once); unknown figures after every known one, never counted as 0.
    return (cost.rank, violation.resource.name, violation.rule.value)


def _breach(
    spec: MLCostPolicySpec, spend_percent: Decimal | None
) -> tuple[Decimal, set[ResourceType]] | None:
    if spend_percent is None or not spec.budget:
        return None
    reached = [a for a in spec.breach_actions if spend_percent >= a.at_percent]
    if not reached:
        return None
    types = set()
    for action in reached:
        if action.stop_notebooks:
            types.add(ResourceType.NOTEBOOK_INSTANCE)
        if action.stop_training_jobs:
            types.add(ResourceType.TRAINING_JOB)
    return max(a.at_percent for a in reached), types


def _tag_violations(spec: MLCostPolicySpec, resource: SageMakerResource) -> list[Violation]:
    rules = spec.tagging
    if rules is None or resource.type not in rules.resource_types:
        return []
    found = []
    for requirement in rules.required:
        value = resource.tags.get(requirement.key)
        if value is None:
            default = rules.defaults.get(requirement.key)
            found.append(
                Violation(
                    resource,
                    Rule.MISSING_TAG,
                    f'tag "{requirement.key}" is missing'
                    + (f' (default "{default}" will be added in Enforce mode)' if default else ""),
                    Remedy.ADD_TAGS if default is not None else Remedy.REPORT,
                    {requirement.key: default} if default is not None else {},
                )
            )
        elif requirement.allowed_values and value not in requirement.allowed_values:
            found.append(
                Violation(
                    resource,
                    Rule.TAG_VALUE_NOT_ALLOWED,
                    f'tag "{requirement.key}" is "{value}", not one of {_listed(requirement.allowed_values)}',
                )
            )
        elif requirement.pattern and not re.search(requirement.pattern, value):
            found.append(
                Violation(
                    resource,
                    Rule.TAG_PATTERN_MISMATCH,
                    f'tag "{requirement.key}" is "{value}", which does not match {requirement.pattern}',
                )
            )
    return found


def _listed(values: list[str]) -> str:
    return ", ".join(values)


def _type_not_allowed(
    resource: SageMakerResource, types: Sequence[str | None], allowed: list[str], remedy: Remedy
) -> Violation:
    shown = ", ".join(str(t) for t in types)
    return Violation(
        resource,
        Rule.INSTANCE_TYPE_NOT_ALLOWED,
        f"instance type {shown} is not among {_listed(allowed)}",
        remedy,
    )


def _stop_if_running(resource: SageMakerResource) -> Remedy:
    return Remedy.STOP if resource.status == RUNNING[resource.type] else Remedy.REPORT


def _notebook_violations(
    spec: MLCostPolicySpec, resource: SageMakerResource, now: datetime
) -> list[Violation]:
    rules = spec.notebooks
    if rules is None:
        return []
    found = []
    remedy = _stop_if_running(resource)
    if rules.allowed_instance_types and resource.instance_type not in rules.allowed_instance_types:
        found.append(
            _type_not_allowed(resource, [resource.instance_type], rules.allowed_instance_types, remedy)
        )
    running = resource.status == RUNNING[resource.type]
    if running and rules.max_uptime and resource.started and now - resource.started > rules.max_uptime:
        hours = (now - resource.started).total_seconds() / 3600
        found.append(
            Violation(
                resource,
                Rule.MAX_UPTIME_EXCEEDED,
                f"running for {hours:.1f}h, longer than maxUptime {format_duration(rules.max_uptime)}",
                Remedy.STOP,
            )
        )
    if running and rules.schedule:
        hours_spec = WeeklyHours.parse(rules.schedule.active_hours)
        if not hours_spec.contains(now, rules.schedule.timezone):
            found.append(
                Violation(
                    resource,
                    Rule.OUTSIDE_ACTIVE_HOURS,
                    f"running outside {rules.schedule.active_hours} {rules.schedule.timezone}",
                    Remedy.STOP,
                )
            )
    return found


def _training_violations(spec: MLCostPolicySpec, resource: SageMakerResource) -> list[Violation]:
    rules = spec.training
    if rules is None:
        return []
    found = []
    remedy = _stop_if_running(resource)
    if rules.require_managed_spot and resource.managed_spot is False:
        found.append(Violation(resource, Rule.SPOT_NOT_USED, "Managed Spot Training is not enabled", remedy))
    if (
        rules.max_runtime
        and resource.max_runtime_seconds is not None
        and resource.max_runtime_seconds > rules.max_runtime.total_seconds()
    ):
        found.append(
            Violation(
                resource,
                Rule.MAX_RUNTIME_EXCEEDED,
                f"MaxRuntimeInSeconds is {resource.max_runtime_seconds}, over maxRuntime "
                f"{format_duration(rules.max_runtime)}",
                remedy,
            )
        )
    if rules.allowed_instance_types and resource.instance_type not in rules.allowed_instance_types:
        found.append(
            _type_not_allowed(resource, [resource.instance_type], rules.allowed_instance_types, remedy)
        )
    return found


def _endpoint_violations(
    spec: MLCostPolicySpec,
    resource: SageMakerResource,
    now: datetime,
    traffic: Mapping[TrafficSeries, Decimal],
    cost: Cost,
    result: Evaluation,
) -> list[Violation]:
    rules = spec.endpoints
    if rules is None:
        return []
    found = []
    if rules.allowed_instance_types:
        bad = sorted(
            {
                v.instance_type
                for v in resource.variants
                if v.instance_type and v.instance_type not in rules.allowed_instance_types
            }
        )
        if bad:
            found.append(_type_not_allowed(resource, bad, rules.allowed_instance_types, Remedy.REPORT))
    idle = rules.idle
    # An endpoint younger than the window has not had the chance to be used: not idle yet.
    if idle and resource.status == "InService" and resource.created and now - resource.created >= idle.window:
        measure = traffic_measure(resource)
        if measure.unmeasurable:
            # Never idle for want of a measure: deleting a busy endpoint cannot be undone.
            result.idle_not_judged.append(
                NotJudged(
                    resource,
                    f"cannot judge idleness: {measure.unmeasurable}; not reported idle and not acted on",
                )
            )
            return found
        total = sum((traffic.get(s, Decimal(0)) for s in measure.requests), Decimal(0))
        waiting = max((traffic.get(s, Decimal(0)) for s in measure.waiting), default=Decimal(0))
        if total <= idle.max_invocations and waiting <= 0:
            waste = f"${cost.monthly}/month ({cost.note})" if cost.monthly is not None else cost.note
            found.append(
                Violation(
                    resource,
                    Rule.IDLE_ENDPOINT,
                    f"{_traffic_text(resource, total)} in {format_duration(idle.window)} "
                    f"(at most {idle.max_invocations} counts as idle); wastes {waste}",
                    Remedy.DELETE if idle.action is IdleAction.DELETE else Remedy.REPORT,
                )
            )
    return found


def _traffic_text(resource: SageMakerResource, total: Decimal) -> str:
    if resource.endpoint_kind is EndpointKind.ASYNCHRONOUS:
        return (
            f"{total} asynchronous requests processed or failed (InvocationsProcessed, "
            "InvocationFailures) and none queued (ApproximateBacklogSize)"
        )
    if resource.endpoint_kind is EndpointKind.SERVERLESS:
        return f"{total} invocations (serverless)"
    return f"{total} invocations"


def _add_spot(spot: SpotSavings, job: SageMakerResource) -> SpotSavings:
    if not (
        job.managed_spot and job.status in FINISHED_TRAINING and job.training_seconds and job.billable_seconds
    ):
        return spot
    return SpotSavings(
        spot.jobs + 1,
        spot.training_seconds + job.training_seconds,
        spot.billable_seconds + job.billable_seconds,
    )
