"""Reconcile one MLCostPolicy: its budget and spend today, into a status and Events."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from mlcost.api.common import ConditionStatus
from mlcost.api.v1alpha1.mlcostpolicy import MLCostPolicySpec, MLCostPolicyStatus
from mlcost.aws.config_cache import ConfigStore
from mlcost.aws.costexplorer import CostAllocationTags
from mlcost.aws.inventory import DESCRIBE_CONCURRENCY, DESCRIBE_RATE, InventoryReader
from mlcost.aws.session import AwsSessions, AwsTarget
from mlcost.catalogue import load_default_catalogue
from mlcost.domain import conditions as cond
from mlcost.domain.budget import default_budget_name
from mlcost.domain.catalogue import PriceCatalogue
from mlcost.domain.errors import MlcostError
from mlcost.domain.spend import CostExplorerCache, TagStatusKey
from mlcost.reconcile.base import Reconciler
from mlcost.reconcile.budget import BudgetReconciler, BudgetSync
from mlcost.reconcile.governance import (
    GovernanceReconciler,
    GovernanceResult,
    TagStatusCache,
    _cost_tag_keys,
)
from mlcost.reconcile.results import ObjectRef, Outcome, utcnow

log = logging.getLogger(__name__)


@dataclass
class PolicyResult:
    status: MLCostPolicyStatus
    outcome: Outcome
    budget: BudgetSync | None = None
    governance: GovernanceResult | None = None

    @property
    def ready(self) -> bool:
        return cond.is_ready(self.status.conditions)


class PolicyReconciler(Reconciler):
    """Everything an MLCostPolicy asks of AWS, without knowing about kopf."""

    def __init__(
        self,
        sessions: AwsSessions,
        spend_cache: CostExplorerCache,
        clock: Callable[[], datetime] = utcnow,
        *,
        catalogue: PriceCatalogue | None = None,
        inventory_max_age: timedelta = timedelta(minutes=2),
        config_store: ConfigStore | None = None,
        always_describe_configs: bool = False,
        describe_concurrency: int = DESCRIBE_CONCURRENCY,
        describe_rate: float = DESCRIBE_RATE,
    ) -> None:
        super().__init__(sessions, clock)
        self.budget = BudgetReconciler(sessions, spend_cache)
        self.spend_cache = spend_cache
        reader = InventoryReader(
            sessions,
            store=config_store,
            describe_concurrency=describe_concurrency,
            describe_rate=describe_rate,
        )
        self.governance = GovernanceReconciler(
            sessions,
            catalogue or load_default_catalogue(),
            inventory_max_age=inventory_max_age,
            reader=reader,
            always_describe_configs=always_describe_configs,
        )
        # Tag status is a Cost Explorer question too: it shares the cache, bound and single-flight.
        self.governance.tag_status = SharedTagStatus(spend_cache)

    def reconcile(
        self,
        ref: ObjectRef,
        spec: MLCostPolicySpec,
        previous: MLCostPolicyStatus | None,
        *,
        dry_run: bool = False,
        read_spend: bool = True,
    ) -> PolicyResult:
        now = self.clock()
        previous = previous or MLCostPolicyStatus()
        spec_changed = previous.observed_generation != ref.generation
        status = previous.model_copy(deep=True)
        status.observed_generation = ref.generation
        outcome = Outcome()
        result = PolicyResult(status, outcome)

        if spec.budget is None:
            status.budget = None
            self._set(status, cond.BUDGET_SYNCED, True, "NoBudget", "spec.budget is not set", now, ref)
        else:
            try:
                result.budget = self.budget.sync(
                    ref,
                    spec.budget,
                    self.target(spec),
                    previous.budget,
                    spec_changed=spec_changed,
                    now=now,
                    outcome=outcome,
                    dry_run=dry_run,
                    read_spend=read_spend,
                )
            except MlcostError as exc:
                outcome.error = exc
                self._budget_failed(status, exc, now, ref, outcome, previous)
            else:
                self._budget_synced(status, result.budget, now, ref, outcome, previous)

        self._govern(ref, spec, status, previous, result, now, dry_run)
        status.last_sweep = now
        self._set_ready(status, outcome, now, ref)
        return result

    def _govern(
        self,
        ref: ObjectRef,
        spec: MLCostPolicySpec,
        status: MLCostPolicyStatus,
        previous: MLCostPolicyStatus,
        result: PolicyResult,
        now: datetime,
        dry_run: bool,
    ) -> None:
        outcome = result.outcome
        if spec.scope is None or not (spec.scope.tags or spec.scope.name_prefixes):
            status.compliance = None
            self._set(
                status, cond.COMPLIANT, True, "NothingGoverned", "spec.scope selects no resources", now, ref
            )
            return
        spend_percent = status.budget.utilization_percent if status.budget else None
        try:
            governed = self.governance.sync(
                ref,
                spec,
                self.target(spec),
                previous.compliance,
                spend_percent=spend_percent,
                now=now,
                outcome=outcome,
                dry_run=dry_run,
            )
        except MlcostError as exc:
            outcome.error = outcome.error or exc
            self._set(status, cond.COMPLIANT, ConditionStatus.UNKNOWN, exc.reason, exc.message, now, ref)
            if cond.reason_changed(previous, cond.COMPLIANT, exc.reason):
                outcome.warn(exc.reason, f"Cannot evaluate governance rules: {exc.message}")
            return
        result.governance = governed
        status.compliance = governed.compliance
        if governed.error:
            outcome.error = outcome.error or governed.error
        compliance = governed.compliance
        if compliance.violations:
            summary = ", ".join(f"{rule} {count}" for rule, count in compliance.by_rule.items())
            self._set(
                status,
                cond.COMPLIANT,
                False,
                "ViolationsFound",
                f"{compliance.violations} violation(s) among {compliance.evaluated} resource(s): {summary}",
                now,
                ref,
            )
        else:
            message = f"No violations among {compliance.evaluated} resource(s) in scope"
            self._set(status, cond.COMPLIANT, True, "NoViolations", message, now, ref)
        if governed.inactive_tags:
            keys = ", ".join(governed.inactive_tags)
            message = (
                f"Tag(s) {keys} are not active cost-allocation tags: budgets and Cost Explorer filtered "
                "on them see no cost. Activate them in Billing > Cost allocation tags."
            )
            self._set(status, cond.COST_ALLOCATION_TAGS, False, "TagsInactive", message, now, ref)
            if cond.reason_changed(previous, cond.COST_ALLOCATION_TAGS, "TagsInactive"):
                outcome.warn("CostAllocationTagsInactive", message)
        elif not dry_run and (unknown := self._tag_status_failure(spec, now)):
            keys = ", ".join(_cost_tag_keys(spec))
            message = f"Cannot tell whether tag(s) {keys} are active cost-allocation tags: {unknown.message}"
            self._set(
                status, cond.COST_ALLOCATION_TAGS, ConditionStatus.UNKNOWN, unknown.reason, message, now, ref
            )
            if cond.reason_changed(previous, cond.COST_ALLOCATION_TAGS, unknown.reason):
                outcome.warn("CostAllocationTagsUnknown", message)
        elif not dry_run:
            self._set(
                status,
                cond.COST_ALLOCATION_TAGS,
                True,
                "Active",
                "Every tag the policy uses is active",
                now,
                ref,
            )

    def _tag_status_failure(self, spec: MLCostPolicySpec, now: datetime) -> MlcostError | None:
        """Why the tag status is unknown: the failure the cache keeps for its question, if any."""
        keys = _cost_tag_keys(spec)
        if not keys:
            return None
        account = self.sessions.account_id(self.target(spec))
        return self.spend_cache.failure(TagStatusKey(account, tuple(keys)), now)

    def _budget_synced(
        self,
        status: MLCostPolicyStatus,
        sync: BudgetSync,
        now: datetime,
        ref: ObjectRef,
        outcome: Outcome,
        previous: MLCostPolicyStatus,
    ) -> None:
        plan = sync.plan
        assert plan is not None
        if plan.blocker:
            self._set(
                status,
                cond.BUDGET_SYNCED,
                False,
                plan.blocker.value,
                plan.blocker_message,
                now,
                ref,
            )
            if cond.reason_changed(previous, cond.BUDGET_SYNCED, plan.blocker.value):
                outcome.warn(plan.blocker.value, plan.blocker_message)
            return
        status.budget = sync.status
        if outcome.changes and sync.drift:
            reason, message = (
                "DriftReverted",
                f"Reverted changes made outside the operator to budget {plan.desired.name}",
            )
        elif outcome.changes:
            reason, message = (
                "Applied",
                f"Budget {plan.desired.name} matches the spec ({len(outcome.changes)} change(s) applied)",
            )
        else:
            reason, message = "InSync", f"Budget {plan.desired.name} matches the spec"
        self._set(status, cond.BUDGET_SYNCED, True, reason, message, now, ref)
        if sync.spend_error:
            outcome.error = sync.spend_error
            if cond.reason_changed(previous, cond.READY, sync.spend_error.reason):
                outcome.warn(sync.spend_error.reason, f"Cannot read spend: {sync.spend_error.message}")

    def _budget_failed(
        self,
        status: MLCostPolicyStatus,
        exc: MlcostError,
        now: datetime,
        ref: ObjectRef,
        outcome: Outcome,
        previous: MLCostPolicyStatus,
    ) -> None:
        log.warning("%s: budget not synced: %s", ref.key, exc.message)
        self._set(status, cond.BUDGET_SYNCED, False, exc.reason, exc.message, now, ref)
        if cond.reason_changed(previous, cond.BUDGET_SYNCED, exc.reason) or outcome.changes:
            outcome.warn(exc.reason, exc.message)

    def _set_ready(self, status: MLCostPolicyStatus, outcome: Outcome, now: datetime, ref: ObjectRef) -> None:
        failed = [c for c in status.conditions if c.type in cond.SYNC_CONDITIONS and c.status != "True"]
        blocker = failed[0] if failed else None
        if outcome.error:
            self._set(status, cond.READY, False, outcome.error.reason, outcome.error.message, now, ref)
        elif blocker:
            self._set(status, cond.READY, False, blocker.reason, blocker.message, now, ref)
        else:
            self._set(
                status,
                cond.READY,
                True,
                "Reconciled",
                "Everything the spec asks for is in place",
                now,
                ref,
            )

    def finalize(
        self, ref: ObjectRef, spec: MLCostPolicySpec, previous: MLCostPolicyStatus | None
    ) -> Outcome:
        """Release what the policy owns in AWS before the object goes. Raises MlcostError."""
        outcome = Outcome()
        if spec.budget is None:
            return outcome
        name = (previous.budget.name if previous and previous.budget else None) or (
            spec.budget.name or default_budget_name(ref.namespace, ref.name)
        )
        self.budget.remove(ref, spec.budget, self.target(spec), name, outcome)
        return outcome


class SharedTagStatus(TagStatusCache):
    """Cost-allocation tag status through the shared Cost Explorer cache.

    Answers and failures alike are kept for the cache's interval, and concurrent policies with
    the same keys wait for one ListCostAllocationTags instead of each sending it.
    """

    def __init__(self, cache: CostExplorerCache) -> None:
        super().__init__(cache.min_interval)
        self.cache = cache

    def inactive(
        self, sessions: AwsSessions, target: AwsTarget, account: str, keys: list[str], now: datetime
    ) -> list[str]:
        question = TagStatusKey(account, tuple(sorted(keys)))
        client = sessions.client("ce", target)
        return self.cache.get(question, now, lambda: CostAllocationTags(client).inactive(list(question.keys)))


def violations_by_rule_and_type(result: PolicyResult) -> dict[tuple[str, str], int]:
    """Every violation of the sweep counted by (rule, resource type), for the metrics."""
    counts: dict[tuple[str, str], int] = {}
    if result.governance:
        for violation in result.governance.evaluation.violations:
            key = (violation.rule.value, violation.resource.type.value)
            counts[key] = counts.get(key, 0) + 1
    return counts
