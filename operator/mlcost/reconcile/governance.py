"""Govern the SageMaker resources in a policy's scope: evaluate rules, act in Enforce mode."""

from __future__ import annotations

import logging
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from mlcost.api.v1alpha1.mlcostpolicy import (
    ComplianceItem,
    ComplianceStatus,
    MLCostPolicySpec,
    PolicyMode,
    ResourceType,
)
from mlcost.aws.cloudwatch import MetricQuery, MetricsReader, period_for
from mlcost.aws.costexplorer import CostAllocationTags
from mlcost.aws.inventory import InventoryReader
from mlcost.aws.sagemaker_actions import SageMakerActions
from mlcost.aws.session import AwsSessions, AwsTarget
from mlcost.domain.catalogue import PriceCatalogue
from mlcost.domain.enforcement import VIOLATION_TAG, Action, ActionKind, EnforcementPlan, plan_enforcement
from mlcost.domain.errors import MlcostError, NotFound, Throttled
from mlcost.domain.governance import (
    IDLE_NOT_JUDGED,
    SAGEMAKER_NAMESPACE,
    Evaluation,
    NotJudged,
    Remedy,
    Statistic,
    TrafficSeries,
    Violation,
    evaluate,
    in_scope,
    needs_endpoint_configs,
    traffic_measure,
)
from mlcost.domain.inventory import Inventory, SageMakerResource
from mlcost.reconcile.results import ObjectRef, Outcome

log = logging.getLogger(__name__)

MAX_ITEMS = 50
_WOULD = {Remedy.STOP: "WouldStop", Remedy.DELETE: "WouldDelete", Remedy.ADD_TAGS: "WouldTag"}
_EVENT_REASONS = {
    (ActionKind.STOP, ResourceType.NOTEBOOK_INSTANCE): "NotebookStopped",
    (ActionKind.STOP, ResourceType.TRAINING_JOB): "TrainingJobStopped",
    (ActionKind.DELETE, ResourceType.ENDPOINT): "EndpointDeleted",
    (ActionKind.ADD_TAGS, None): "TagsAdded",
    (ActionKind.MARK, None): "ViolationMarked",
    (ActionKind.UNMARK, None): "ViolationCleared",
}


@dataclass
class AppliedAction:
    action: Action
    outcome: str  # "success", "gone" or the error reason
    message: str = ""


@dataclass
class GovernanceResult:
    evaluation: Evaluation
    plan: EnforcementPlan
    compliance: ComplianceStatus
    applied: list[AppliedAction] = field(default_factory=list)
    inactive_tags: list[str] = field(default_factory=list)
    error: MlcostError | None = None


class InventoryCache:
    """One inventory per account and region, shared by every policy for `max_age`.

    Endpoint configs are described only for accounts where some policy's rules need them
    (`endpoint_configs`); once one has asked, every later read of that account describes the
    configs it does not hold yet, so that policies of one account share one complete inventory.
    """

    def __init__(self, reader: InventoryReader, max_age: timedelta, *, always_describe: bool = False) -> None:
        self.reader = reader
        self.max_age = max_age
        self.always_describe = always_describe
        self._inventories: dict[tuple[str, str], Inventory] = {}
        self._describing: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def get(
        self, target: AwsTarget, account_id: str, now: datetime, *, endpoint_configs: bool = True
    ) -> Inventory:
        key = (account_id, target.region)
        with self._lock:
            if endpoint_configs or self.always_describe:
                self._describing.add(key)
            describe = key in self._describing
            cached = self._inventories.get(key)
            fresh = cached is not None and now - cached.read_at < self.max_age
            if cached and fresh and (cached.endpoint_configs_read or not describe):
                return cached
            # Never used again: let it go before the read, so that the cache never holds two
            # whole inventories at once (10,000 resources are ~10 MB of Python objects).
            self._inventories.pop(key, None)
            del cached
            inventory = self.reader.read(target, now, endpoint_configs=describe)
            self._inventories[key] = inventory
            return inventory

    def invalidate(self, account_id: str, region: str) -> None:
        with self._lock:
            self._inventories.pop((account_id, region), None)


class TagStatusCache:
    """Cost-allocation tag status, asked at most once per `max_age` per account and key set."""

    def __init__(self, max_age: timedelta) -> None:
        self.max_age = max_age
        self._answers: dict[tuple[str, tuple[str, ...]], tuple[datetime, list[str]]] = {}

    def inactive(
        self, sessions: AwsSessions, target: AwsTarget, account: str, keys: list[str], now: datetime
    ) -> list[str]:
        key = (account, tuple(sorted(keys)))
        cached = self._answers.get(key)
        if cached and now - cached[0] < self.max_age:
            return cached[1]
        inactive = CostAllocationTags(sessions.client("ce", target)).inactive(sorted(keys))
        self._answers[key] = (now, inactive)
        return inactive


class GovernanceReconciler:
    """Reads the shared inventory, evaluates a policy's rules, and acts on them in Enforce mode."""

    def __init__(
        self,
        sessions: AwsSessions,
        catalogue: PriceCatalogue,
        *,
        inventory_max_age: timedelta = timedelta(minutes=2),
        tag_status_max_age: timedelta = timedelta(hours=1),
        reader: InventoryReader | None = None,
        always_describe_configs: bool = False,
    ) -> None:
        self.sessions = sessions
        self.catalogue = catalogue
        self.inventories = InventoryCache(
            reader or InventoryReader(sessions), inventory_max_age, always_describe=always_describe_configs
        )
        self.metrics_reader = MetricsReader(sessions)
        self.tag_status = TagStatusCache(tag_status_max_age)

    def sync(
        self,
        ref: ObjectRef,
        spec: MLCostPolicySpec,
        target: AwsTarget,
        previous: ComplianceStatus | None,
        *,
        spend_percent: Decimal | None,
        now: datetime,
        outcome: Outcome,
        dry_run: bool = False,
    ) -> GovernanceResult:
        """Evaluate and (Enforce, not dry run) act. Raises MlcostError when AWS cannot be read."""
        account = self.sessions.account_id(target)
        needs_configs = needs_endpoint_configs(spec)
        inventory = self.inventories.get(target, account, now, endpoint_configs=needs_configs)
        governed = [r for r in inventory.resources if in_scope(r, spec.scope)]
        traffic: dict[TrafficSeries, Decimal] = {}
        if spec.endpoints and spec.endpoints.idle:
            measures = [
                traffic_measure(r)
                for r in governed
                if r.type is ResourceType.ENDPOINT and r.status == "InService"
            ]
            series = [s for m in measures for s in (*m.requests, *m.waiting)]
            if series:
                traffic = self._traffic(target, series, spec.endpoints.idle.window, now)
        evaluation = evaluate(
            spec,
            inventory,
            now=now,
            catalogue=self.catalogue,
            traffic=traffic,
            spend_percent=spend_percent,
        )
        plan = plan_enforcement(evaluation, governed, spec.enforcement, now)
        result = GovernanceResult(evaluation, plan, ComplianceStatus())
        if needs_configs:
            result.error = _unread_configs(ref, inventory, governed, outcome)
        if spec.mode is PolicyMode.ENFORCE and not dry_run and plan.actions:
            self._apply(ref, target, plan, result, outcome)
            self.inventories.invalidate(account, target.region)
        elif dry_run:
            outcome.changes.extend(f"{a.kind.value.lower()}: {a.detail}" for a in plan.actions)
        result.compliance = compliance_status(spec, evaluation, result, previous, now)
        _report_not_judged(ref, evaluation, previous, outcome)
        keys = _cost_tag_keys(spec)
        if keys and not dry_run:
            try:
                result.inactive_tags = self.tag_status.inactive(self.sessions, target, account, keys, now)
            except MlcostError as exc:
                log.info("%s: cannot check cost-allocation tags: %s", ref.key, exc.message)
        return result

    def _traffic(
        self, target: AwsTarget, series: list[TrafficSeries], window: timedelta, now: datetime
    ) -> dict[TrafficSeries, Decimal]:
        """Each series over the window: one bucket as long as the window (or the coarser period
        CloudWatch keeps for it), all in one GetMetricData per 500 series."""
        period = period_for(window)
        queries = {
            s: MetricQuery(SAGEMAKER_NAMESPACE, s.metric, s.dimensions, s.statistic.value, period)
            for s in series
        }
        points = self.metrics_reader.datapoints(target, list(queries.values()), start=now - window, end=now)
        traffic: dict[TrafficSeries, Decimal] = {}
        for s, query in queries.items():
            values = [p.value for p in points.get(query, [])]
            if s.statistic is Statistic.MAXIMUM:
                traffic[s] = max(values, default=Decimal(0))
            else:
                traffic[s] = sum(values, Decimal(0))
        return traffic

    def _apply(
        self,
        ref: ObjectRef,
        target: AwsTarget,
        plan: EnforcementPlan,
        result: GovernanceResult,
        outcome: Outcome,
    ) -> None:
        actions = SageMakerActions(self.sessions.client("sagemaker", target))
        for index, action in enumerate(plan.actions):
            resource = action.resource
            try:
                match action.kind:
                    case ActionKind.STOP if resource.type is ResourceType.NOTEBOOK_INSTANCE:
                        actions.stop_notebook(resource.name)
                    case ActionKind.STOP:
                        actions.stop_training_job(resource.name)
                    case ActionKind.DELETE:
                        actions.delete_endpoint(resource.name)
                    case ActionKind.ADD_TAGS | ActionKind.MARK:
                        actions.add_tags(resource.arn, action.tags)
                    case ActionKind.UNMARK:
                        actions.delete_tags(resource.arn, [VIOLATION_TAG])
            except NotFound:
                result.applied.append(AppliedAction(action, "gone", f"{resource.name} no longer exists"))
                outcome.info(
                    "ResourceGone",
                    f"{_label(resource)} vanished before it could be {action.kind.value.lower()}",
                )
                continue
            except Throttled as exc:
                # Throttled after retries: stop here, the rest is planned again next sweep.
                result.applied.append(AppliedAction(action, exc.reason, exc.message))
                outcome.warn(
                    exc.reason,
                    f"{len(plan.actions) - index} action(s) left for the next sweep: {exc.message}",
                )
                result.error = exc
                return
            except MlcostError as exc:
                result.applied.append(AppliedAction(action, exc.reason, exc.message))
                outcome.warn(
                    "ActionFailed", f"Could not {action.kind.value.lower()} {_label(resource)}: {exc.message}"
                )
                continue
            result.applied.append(AppliedAction(action, "success"))
            outcome.changes.append(action.detail)
            reason = _EVENT_REASONS.get((action.kind, resource.type)) or _EVENT_REASONS.get(
                (action.kind, None), "Acted"
            )
            message = f"{_label(resource)}: {action.detail}"
            if action.kind is ActionKind.DELETE and resource.endpoint_config:
                message += (
                    f". Its EndpointConfig {resource.endpoint_config} was kept: re-create the endpoint with "
                    f"`aws sagemaker create-endpoint --endpoint-name {resource.name} "
                    f"--endpoint-config-name {resource.endpoint_config}`"
                )
            outcome.info(reason, message)
            log.info("%s: %s", ref.key, message)


def _unread_configs(
    ref: ObjectRef, inventory: Inventory, governed: list[SageMakerResource], outcome: Outcome
) -> MlcostError | None:
    """A Throttled error (with a Warning Event) when configs of governed endpoints were not read:
    the endpoint rules skipped those endpoints this sweep, and the next sweep reads them."""
    unread = sorted(
        {
            r.endpoint_config
            for r in governed
            if r.endpoint_config in inventory.unread_configs and r.endpoint_config
        }
    )
    if not unread:
        return None
    shown = ", ".join(unread[:5]) + (f" and {len(unread) - 5} more" if len(unread) > 5 else "")
    message = (
        f"{len(unread)} endpoint config(s) could not be read this sweep ({shown}): "
        f"{inventory.unread_configs[unread[0]]}; the endpoint rules skipped their endpoints"
    )
    outcome.warn("InventoryIncomplete", message)
    log.warning("%s: %s", ref.key, message)
    return Throttled(message, operation="sagemaker:DescribeEndpointConfig")


def _report_not_judged(
    ref: ObjectRef, evaluation: Evaluation, previous: ComplianceStatus | None, outcome: Outcome
) -> None:
    """One Warning Event (and log line) when an endpoint first cannot be judged idle or not."""
    before = {i.name for i in (previous.items if previous else []) if i.rule == IDLE_NOT_JUDGED}
    for entry in evaluation.idle_not_judged:
        if entry.resource.name not in before:
            message = f"{_label(entry.resource)}: {entry.reason}"
            outcome.warn(IDLE_NOT_JUDGED, message)
            log.warning("%s: %s", ref.key, message)


def _label(resource: SageMakerResource) -> str:
    return f"{resource.type.value} {resource.name}"


def _cost_tag_keys(spec: MLCostPolicySpec) -> list[str]:
    keys: set[str] = set()
    if spec.budget and spec.budget.cost_filters:
        keys.update(spec.budget.cost_filters.tags)
    if spec.tagging:
        keys.update(r.key for r in spec.tagging.required)
    return sorted(keys)


def compliance_status(
    spec: MLCostPolicySpec,
    evaluation: Evaluation,
    result: GovernanceResult,
    previous: ComplianceStatus | None,
    now: datetime,
) -> ComplianceStatus:
    """The status.compliance block: counts, the 50 most expensive violations, savings."""
    seen_before = {(i.resource_type, i.name, i.rule): i.since for i in (previous.items if previous else [])}
    done = {
        (a.action.resource.type, a.action.resource.name): a.action.kind.value
        for a in result.applied
        if a.outcome == "success"
    }
    by_rule: Counter[str] = Counter(v.rule.value for v in evaluation.violations)
    items = [
        _item(spec, v, evaluation, result, done, seen_before, now) for v in evaluation.violations[:MAX_ITEMS]
    ]
    # After the violations: endpoints the idle rule could not judge are not violations, but a
    # user must see that they were left alone and why.
    items += [
        _not_judged_item(entry, evaluation, seen_before, now)
        for entry in evaluation.idle_not_judged[: MAX_ITEMS - len(items)]
    ]
    percent = evaluation.spot.percent
    return ComplianceStatus(
        evaluated=sum(evaluation.governed.values()),
        violations=len(evaluation.violations),
        by_rule=dict(sorted(by_rule.items())),
        items=items,
        governed={t.value: n for t, n in sorted(evaluation.governed.items())},
        idle_monthly_waste=evaluation.idle_monthly_waste.quantize(Decimal("0.01")),
        spot_savings_percent=percent,
        spot_jobs=evaluation.spot.jobs,
        actions=sum(1 for a in result.applied if a.outcome == "success"),
    )


def _not_judged_item(
    entry: NotJudged,
    evaluation: Evaluation,
    seen_before: dict[tuple[ResourceType, str, str], datetime | None],
    now: datetime,
) -> ComplianceItem:
    resource = entry.resource
    cost = evaluation.cost_of(resource)
    return ComplianceItem(
        resource_type=resource.type,
        name=resource.name,
        rule=IDLE_NOT_JUDGED,
        detail=entry.reason,
        action=None,
        since=seen_before.get((resource.type, resource.name, IDLE_NOT_JUDGED)) or now,
        monthly_cost=cost.monthly,
        cost_basis=cost.note,
        cost=cost.amount,
        cost_kind=cost.kind,
    )


def _item(
    spec: MLCostPolicySpec,
    violation: Violation,
    evaluation: Evaluation,
    result: GovernanceResult,
    done: dict[tuple[ResourceType, str], str],
    seen_before: dict[tuple[ResourceType, str, str], datetime | None],
    now: datetime,
) -> ComplianceItem:
    key = (violation.resource.type, violation.resource.name)
    marked = result.plan.marked_since.get(key)
    since = (
        seen_before.get((violation.resource.type, violation.resource.name, violation.rule.value))
        or marked
        or now
    )
    pending = result.plan.pending.get(key)
    cost = evaluation.cost_of(violation.resource)
    if spec.mode is PolicyMode.AUDIT:
        action = _WOULD.get(violation.remedy)
    else:
        action = done.get(key) or ("Pending" if pending and violation.remedy is not Remedy.REPORT else None)
    return ComplianceItem(
        resource_type=violation.resource.type,
        name=violation.resource.name,
        rule=violation.rule.value,
        detail=violation.detail,
        action=action,
        since=since,
        monthly_cost=cost.monthly,
        cost_basis=cost.note,
        cost=cost.amount,
        cost_kind=cost.kind,
        pending_action=pending if violation.remedy is not Remedy.REPORT else None,
    )
