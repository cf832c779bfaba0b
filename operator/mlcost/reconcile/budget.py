"""Keep a policy's AWS Budget as its spec says, and read the budget's spend."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from mlcost.api.v1alpha1.mlcostpolicy import BudgetSpec, BudgetStatus, DeletionPolicy
from mlcost.aws.budgets import BudgetsClient
from mlcost.aws.costexplorer import CostExplorerClient
from mlcost.aws.session import AwsSessions, AwsTarget
from mlcost.domain.budget import (
    DEFAULT_COST_METRIC,
    Budget,
    BudgetChange,
    BudgetPlan,
    ChangeKind,
    check_feasible,
    desired_budget,
    owner_key,
    plan_budget,
)
from mlcost.domain.errors import InvalidSpec, MlcostError
from mlcost.domain.spend import (
    CostExplorerCache,
    Spend,
    SpendKey,
    budget_period,
    to_cents,
    utilization_percent,
)
from mlcost.reconcile.results import ObjectRef, Outcome

log = logging.getLogger(__name__)

_EVENT_REASONS = {
    ChangeKind.CREATE_BUDGET: "BudgetCreated",
    ChangeKind.TAG_OWNER: "BudgetAdopted",
}


@dataclass
class BudgetSync:
    """The result of syncing one budget: its plan, and what to report."""

    plan: BudgetPlan | None
    status: BudgetStatus | None
    spend_error: MlcostError | None = None
    drift: bool = False


class BudgetReconciler:
    """Observes, plans and applies one policy's budget; reads its spend through a shared cache."""

    def __init__(self, sessions: AwsSessions, spend_cache: CostExplorerCache) -> None:
        self.sessions = sessions
        self.spend_cache = spend_cache

    def budgets(self, target: AwsTarget) -> BudgetsClient:
        return BudgetsClient(self.sessions.client("budgets", target), self.sessions.account_id(target))

    def sync(
        self,
        ref: ObjectRef,
        spec: BudgetSpec,
        target: AwsTarget,
        previous: BudgetStatus | None,
        *,
        spec_changed: bool,
        now: datetime,
        outcome: Outcome,
        dry_run: bool = False,
        read_spend: bool = True,
    ) -> BudgetSync:
        """Make AWS match `spec`. Raises MlcostError when AWS cannot be read or changed."""
        budgets = self.budgets(target)
        desired = desired_budget(spec, ref.namespace, ref.name)
        if previous and previous.name and previous.name != desired.name:
            raise InvalidSpec(
                f"The policy's budget is {previous.name} in AWS, but the spec now names "
                f"{desired.name}: the operator never renames budgets. Put back "
                f"spec.budget.name: {previous.name}, or delete and re-create the policy."
            )
        check_feasible(desired, account_id=budgets.account_id, region=target.region)
        observed = budgets.describe(desired.name)
        plan = plan_budget(desired, observed, owner=owner_key(ref.namespace, ref.name), adopt=spec.adopt)
        if plan.blocker:
            return BudgetSync(plan, None)
        drift = bool(plan.changes) and not spec_changed and not plan.creates
        if dry_run:
            outcome.changes.extend(c.detail for c in plan.changes)
        else:
            self._apply(budgets, desired, plan, ref, outcome, drift=drift)
        status = BudgetStatus(name=desired.name, arn=budgets.arn(desired.name), limit=desired.limit)
        sync = BudgetSync(plan, status, drift=drift)
        if read_spend:
            # Read spend the way the budget measures it (a budget adopted with AmortizedCost
            # tracks amortized cost), so status and budget agree.
            metric = observed.budget.metric if observed else DEFAULT_COST_METRIC
            self._read_spend(sync, desired, budgets.account_id, target, previous, spec_changed, now, metric)
        return sync

    def _apply(
        self,
        budgets: BudgetsClient,
        desired: Budget,
        plan: BudgetPlan,
        ref: ObjectRef,
        outcome: Outcome,
        *,
        drift: bool,
    ) -> None:
        for done, change in enumerate(plan.changes):
            try:
                self._apply_one(budgets, plan, change, ref)
            except MlcostError as exc:
                if done:
                    # Earlier changes stay: each is valid alone, and the next reconcile re-plans
                    # from what AWS then holds, so nothing is applied twice.
                    exc.message += f" (after {done} of {len(plan.changes)} changes were applied)"
                raise
            outcome.changes.append(change.detail)
            reason = "BudgetDriftReverted" if drift else _EVENT_REASONS.get(change.kind, "BudgetUpdated")
            outcome.info(reason, change.detail[0].upper() + change.detail[1:])
            log.info("%s: %s", ref.key, change.detail)

    @staticmethod
    def _apply_one(budgets: BudgetsClient, plan: BudgetPlan, change: BudgetChange, ref: ObjectRef) -> None:
        desired = plan.desired
        name = desired.name
        key = change.notification
        match change.kind:
            case ChangeKind.CREATE_BUDGET:
                budgets.create(desired, owner_key(ref.namespace, ref.name))
            case ChangeKind.TAG_OWNER:
                budgets.tag_owner(name, owner_key(ref.namespace, ref.name))
            case ChangeKind.UPDATE_BUDGET if plan.observed:
                budgets.update(desired, plan.observed)
            case ChangeKind.CREATE_NOTIFICATION if key:
                budgets.create_notification(name, key, change.subscribers)
            case ChangeKind.DELETE_NOTIFICATION if key:
                budgets.delete_notification(name, key)
            case ChangeKind.CREATE_SUBSCRIBER if key:
                budgets.create_subscribers(name, key, change.subscribers)
            case ChangeKind.DELETE_SUBSCRIBER if key:
                budgets.delete_subscribers(name, key, change.subscribers)

    def _read_spend(
        self,
        sync: BudgetSync,
        desired: Budget,
        account_id: str,
        target: AwsTarget,
        previous: BudgetStatus | None,
        spec_changed: bool,
        now: datetime,
        metric: str,
    ) -> None:
        period = budget_period(desired.time_unit, now.date())
        key = SpendKey(account_id, period, tuple(sorted(desired.cost_filters.items())), metric)
        if (
            previous
            and previous.name == desired.name
            and previous.last_updated
            and previous.actual_spend is not None
            and not spec_changed
            and period.start <= previous.last_updated.date() < period.end
        ):
            # After a restart the status remembers the last answer: do not pay for it again.
            self.spend_cache.store(
                key,
                Spend(previous.actual_spend, previous.forecasted_spend, previous.last_updated),
            )
        ce = CostExplorerClient(self.sessions.client("ce", target))
        try:
            # One request per question and interval, however many policies ask it at once.
            spend = self.spend_cache.get(
                key, now, lambda: ce.spend(period, desired.cost_filters, now, metric=metric)
            )
        except MlcostError as exc:
            sync.spend_error = exc
            return
        assert sync.status is not None
        sync.status.actual_spend = to_cents(spend.actual)
        sync.status.forecasted_spend = to_cents(spend.forecast) if spend.forecast is not None else None
        sync.status.utilization_percent = utilization_percent(spend.actual, desired.limit)
        sync.status.last_updated = spend.as_of

    def remove(
        self, ref: ObjectRef, spec: BudgetSpec, target: AwsTarget, name: str, outcome: Outcome
    ) -> None:
        """On policy deletion: delete the owned budget, or release it (Retain)."""
        budgets = self.budgets(target)
        observed = budgets.describe(name)
        owner = owner_key(ref.namespace, ref.name)
        if observed is None:
            outcome.info("BudgetGone", f"Budget {name} no longer exists in AWS; nothing to delete")
            return
        if observed.owner != owner:
            outcome.info(
                "BudgetLeft",
                f"Budget {name} is not managed by this policy (managed-by: {observed.owner or 'none'}); "
                "left unchanged",
            )
            return
        if spec.deletion_policy is DeletionPolicy.RETAIN:
            budgets.untag_owner(name)
            outcome.info(
                "BudgetRetained",
                f"Budget {name} kept in AWS (deletionPolicy: Retain); no policy manages it now",
            )
            return
        budgets.delete(name)
        outcome.info("BudgetDeleted", f"Deleted budget {name} (deletionPolicy: Delete)")
