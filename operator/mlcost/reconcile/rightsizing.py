"""Reconcile one EndpointRightsizing: observe utilisation, recommend, and in Apply mode roll out."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from mlcost.api.common import ConditionStatus
from mlcost.api.hours import WeeklyHours
from mlcost.api.types import format_duration
from mlcost.api.v1alpha1.endpointrightsizing import (
    EndpointRightsizingSpec,
    EndpointRightsizingStatus,
    LastApplied,
    RightsizingMode,
    Rollout,
    RolloutPhase,
    VariantStatus,
)
from mlcost.aws.autoscaling import VariantAutoscaling
from mlcost.aws.cloudwatch import MetricsReader, VariantMetrics
from mlcost.aws.endpoints import (
    CandidateRefused,
    EndpointConfigState,
    EndpointsClient,
    EndpointState,
    change_hash,
    config_name,
    copy_plan,
)
from mlcost.aws.inference_recommender import InferenceRecommenderClient, RecommenderJob
from mlcost.aws.session import AwsSessions, AwsTarget
from mlcost.domain import conditions as cond
from mlcost.domain.budget import owner_key
from mlcost.domain.catalogue import PriceCatalogue, Usage
from mlcost.domain.errors import MlcostError
from mlcost.domain.rightsizing import (
    EndpointResult,
    InferenceRecommenderResult,
    ObservedVariant,
    VariantResult,
    recommend_endpoint,
)
from mlcost.domain.rightsizing import VariantStatus as Outcome_
from mlcost.reconcile.base import Reconciler
from mlcost.reconcile.results import ObjectRef, Outcome, utcnow

log = logging.getLogger(__name__)

SYNCED = "Synced"
INFERENCE_RECOMMENDER = "InferenceRecommender"
CANDIDATES = "CandidatesPriced"
AUTOSCALING = "Autoscaling"


@dataclass
class RightsizingResult:
    status: EndpointRightsizingStatus
    outcome: Outcome
    recommendation: EndpointResult | None = None
    apply_note: str = ""  # what Apply mode did or why it waited
    endpoint_name: str = ""
    actions: list[str] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        return cond.is_ready(self.status.conditions)


class RightsizingReconciler(Reconciler):
    """Everything an EndpointRightsizing asks of AWS, without knowing about kopf."""

    def __init__(
        self,
        sessions: AwsSessions,
        catalogue: Callable[[], PriceCatalogue],
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        super().__init__(sessions, clock)
        self.catalogue = catalogue
        self.metrics = MetricsReader(sessions)

    def reconcile(
        self,
        ref: ObjectRef,
        spec: EndpointRightsizingSpec,
        previous: EndpointRightsizingStatus | None,
        *,
        dry_run: bool = False,
    ) -> RightsizingResult:
        now = self.clock()
        previous = previous or EndpointRightsizingStatus()
        status = previous.model_copy(deep=True)
        status.observed_generation = ref.generation
        status.last_sweep = now
        result = RightsizingResult(status, Outcome(), endpoint_name=spec.endpoint_name)
        try:
            self._reconcile(ref, spec, previous, result, now, dry_run)
        except MlcostError as exc:
            result.outcome.error = exc
            log.warning("%s: %s", ref.key, exc.message)
            self._set(status, cond.READY, False, exc.reason, exc.message, now, ref)
            if cond.reason_changed(previous, cond.READY, exc.reason):
                result.outcome.warn(exc.reason, exc.message)
        return result

    def _reconcile(
        self,
        ref: ObjectRef,
        spec: EndpointRightsizingSpec,
        previous: EndpointRightsizingStatus,
        result: RightsizingResult,
        now: datetime,
        dry_run: bool,
    ) -> None:
        status, outcome = result.status, result.outcome
        target = self.target(spec)
        endpoints = EndpointsClient(self.sessions.client("sagemaker", target))
        owner = owner_key(ref.namespace, ref.name)
        endpoint = endpoints.describe(spec.endpoint_name)
        if endpoint is None:
            status.current = status.recommendation = status.utilization = status.variants = None
            message = (
                f"Endpoint {spec.endpoint_name} does not exist in {target.region}: check spec.endpointName"
            )
            self._not_ready(result, previous, "EndpointNotFound", message, now, ref)
            return
        if not dry_run:
            self._track_rollout(endpoints, endpoint, status, outcome, owner, now)
        config = endpoints.describe_config(endpoint.config_name)
        if config is None:
            message = f"EndpointConfig {endpoint.config_name} of {endpoint.name} does not exist any more"
            self._not_ready(result, previous, "EndpointConfigNotFound", message, now, ref)
            return
        names = [v.name for v in config.variants]
        if spec.variant_name and spec.variant_name not in names:
            known = ", ".join(names)
            message = f"Endpoint {endpoint.name} has no variant {spec.variant_name}; its variants: {known}"
            self._not_ready(result, previous, "VariantNotFound", message, now, ref)
            return
        wanted = [spec.variant_name] if spec.variant_name else names
        metrics = self.metrics.endpoint_utilization(target, endpoint.name, wanted, spec.lookback, now)
        ir = self._inference_recommender(spec, target, config, wanted, status, outcome, previous, now, ref)
        observed = [_observed(endpoint, config, name, metrics[name], now) for name in wanted]
        recommendation = recommend_endpoint(
            observed, spec.targets, spec.candidates, self.catalogue(), target.region, inference_recommender=ir
        )
        result.recommendation = recommendation
        self._report(spec, recommendation, status, previous, outcome)
        self._check_candidates(recommendation, status, previous, outcome, now, ref)
        if spec.mode is RightsizingMode.APPLY:
            result.apply_note = self._apply(
                spec, target, endpoints, endpoint, config, recommendation, result, owner, now, dry_run
            )
        if not dry_run:
            self._autoscale(
                spec, target, endpoint.name, config, wanted, status, outcome, previous, owner, now, ref
            )
            self._remove_orphans(endpoints, endpoint, status, owner, outcome)
        self._set_ready_and_synced(status, endpoint, recommendation, result, now, ref)

    # -------------------------------------------------------------------- recommendation

    def _inference_recommender(
        self,
        spec: EndpointRightsizingSpec,
        target: AwsTarget,
        config: EndpointConfigState,
        variants: list[str],
        status: EndpointRightsizingStatus,
        outcome: Outcome,
        previous: EndpointRightsizingStatus,
        now: datetime,
        ref: ObjectRef,
    ) -> dict[str, list[InferenceRecommenderResult]]:
        if spec.inference_recommender is None:
            status.conditions = [c for c in status.conditions if c.type != INFERENCE_RECOMMENDER]
            return {}
        name = spec.inference_recommender.job_name
        recommender = InferenceRecommenderClient(self.sessions.client("sagemaker", target))
        job = recommender.describe_job(name)
        if job is None or not job.completed:
            reason = "JobNotFound" if job is None else f"Job{job.status.title().replace('_', '')}"
            detail = "does not exist" if job is None else f"is {job.status}"
            extra = f": {job.failure_reason}" if job and job.failure_reason else ""
            message = f"Inference Recommender job {name} {detail}{extra}; recommending from CloudWatch alone"
            self._set(status, INFERENCE_RECOMMENDER, False, reason, message, now, ref)
            if cond.reason_changed(previous, INFERENCE_RECOMMENDER, reason):
                outcome.warn("InferenceRecommender" + reason, message)
            return {}
        results = [
            InferenceRecommenderResult(
                instance_type=r.instance_type,
                instance_count=r.initial_instance_count or 1,
                cost_per_hour=r.cost_per_hour,
                model_latency_ms=Decimal(r.model_latency_ms),
                max_invocations=r.max_invocations,
            )
            for r in job.recommendations
            if r.instance_type and r.model_latency_ms is not None and r.max_invocations is not None
        ]
        # A job benchmarks one model: its results size only the variants serving that model.
        served = {v: _serves(job, config, v, recommender.model_packages) for v in variants}
        matching = [v for v in variants if served[v]]
        others = "; ".join(
            f"variant {v} serves model {m.model_name if (m := config.variant(v)) else None}"
            for v in variants
            if not served[v]
        )
        if not matching:
            reason = "ModelMismatch"
            message = (
                f"Inference Recommender job {name} benchmarked {job.benchmarked}, which no variant "
                f"sized here serves ({others}): its results are not used; recommending from "
                "CloudWatch alone. Point spec.inferenceRecommender.jobName at a job for the variant's model"
            )
            self._set(status, INFERENCE_RECOMMENDER, False, reason, message, now, ref)
            if cond.reason_changed(previous, INFERENCE_RECOMMENDER, reason):
                outcome.warn("InferenceRecommender" + reason, message)
            return {}
        message = (
            f"Using {len(results)} result(s) of Inference Recommender job {name} ({job.benchmarked}) "
            f"for variant(s) {', '.join(matching)}"
        )
        if others:
            message += f"; not for the others, which serve other models ({others})"
        self._set(status, INFERENCE_RECOMMENDER, True, "JobCompleted", message, now, ref)
        return dict.fromkeys(matching, results)

    def _report(
        self,
        spec: EndpointRightsizingSpec,
        recommendation: EndpointResult,
        status: EndpointRightsizingStatus,
        previous: EndpointRightsizingStatus,
        outcome: Outcome,
    ) -> None:
        status.variants = [
            VariantStatus(
                name=v.variant,
                outcome=v.status.value,
                current=v.current.as_cost() if v.current else None,
                utilization=v.utilization.as_status(),
                recommendation=v.as_recommendation(),
                reason=v.reason,
            )
            for v in recommendation.variants
        ]
        headline = _headline(recommendation)
        status.current = headline.current.as_cost() if headline and headline.current else None
        status.utilization = headline.utilization.as_status() if headline else None
        status.recommendation = headline.as_recommendation() if headline else None
        old = previous.recommendation
        new = status.recommendation
        if new and (
            old is None or (old.instance_type, old.instance_count) != (new.instance_type, new.instance_count)
        ):
            saving = f", saving ${new.monthly_savings}/month" if new.monthly_savings is not None else ""
            outcome.info(
                "RecommendationChanged",
                f"{spec.endpoint_name}: {new.instance_type} x{new.instance_count}{saving}. {new.reason}",
            )

    def _check_candidates(
        self,
        recommendation: EndpointResult,
        status: EndpointRightsizingStatus,
        previous: EndpointRightsizingStatus,
        outcome: Outcome,
        now: datetime,
        ref: ObjectRef,
    ) -> None:
        unknown = sorted(
            {f"{c.instance_type} ({c.reason})" for v in recommendation.variants for c in v.skipped_candidates}
        )
        if unknown:
            message = (
                f"Candidate types left out, the price catalogue cannot size them: {'; '.join(unknown)}. "
                "Add them with a price override (MLCOST_PRICE_CATALOGUE) or remove them from spec.candidates."
            )
            self._set(status, CANDIDATES, False, "UnknownCandidates", message, now, ref)
            if cond.reason_changed(previous, CANDIDATES, "UnknownCandidates"):
                outcome.warn("UnknownCandidates", message)
        else:
            self._set(
                status, CANDIDATES, True, "AllPriced", "Every candidate has specs and a price", now, ref
            )

    # -------------------------------------------------------------------- apply

    def _apply(
        self,
        spec: EndpointRightsizingSpec,
        target: AwsTarget,
        endpoints: EndpointsClient,
        endpoint: EndpointState,
        config: EndpointConfigState,
        recommendation: EndpointResult,
        result: RightsizingResult,
        owner: str,
        now: datetime,
        dry_run: bool,
    ) -> str:
        """Roll the recommendation out when every gate allows; return what happened, in words."""
        status, outcome = result.status, result.outcome
        chosen = [v for v in recommendation.variants if v.status is Outcome_.RECOMMENDED and v.recommended]
        if not chosen:
            return "nothing to apply: no variant has a cheaper configuration that meets the targets"
        changes = {
            v.variant: (v.recommended.instance_type, v.recommended.instance_count)
            for v in chosen
            if v.recommended
        }
        new_name = config_name(endpoint.name, change_hash(endpoint.config_name, changes))
        blocked = self._apply_gate(
            spec, endpoint, status, chosen, new_name, now, self._missing_prices(chosen, target)
        )
        if blocked:
            return blocked
        summary = ", ".join(f"{v}: {t} x{n}" for v, (t, n) in sorted(changes.items()))
        specs = self.catalogue().spec
        try:
            # Before any call: a setting of the source the new type cannot carry refuses the change.
            _, dropped = copy_plan(config, new_name, changes, owner, specs)
        except CandidateRefused as exc:
            note = f"not applied: {exc.message}"
            log.warning("%s: %s", endpoint.name, note)
            # status still holds the last reconcile's Ready: one Event per refusal, not per sweep.
            if exc.message not in _ready_message(status):
                outcome.warn(exc.reason, f"{endpoint.name}: {summary} {note}")
            return note
        scaling = VariantAutoscaling(self.sessions.client("application-autoscaling", target))
        scaled = [v for v in changes if scaling.read(endpoint.name, v).target is not None]
        foreign = [v for v in scaled if not scaling.read(endpoint.name, v).registered_by(owner)]
        if foreign:
            return (
                f"not applied: variant(s) {', '.join(foreign)} have autoscaling the operator did not "
                "register, and SageMaker refuses to change an autoscaled variant: deregister it, or let "
                "spec.autoscaling manage it"
            )
        if dry_run:
            result.actions.append(f"roll out {new_name} ({summary}) now")
            return f"would roll out {new_name} now ({summary})"
        for variant in scaled:
            # Ours is put back by the next reconcile once the endpoint is InService again.
            scaling.remove(endpoint.name, variant, owner=owner)
            outcome.info(
                "AutoscalingPaused", f"{endpoint.name}/{variant}: autoscaling removed for the rollout"
            )
        created = endpoints.create_config_copy(config, new_name, changes, owner, specs)
        if created and dropped:
            outcome.info(
                "EndpointConfigAdapted",
                f"{new_name} leaves out settings the new instance type cannot use: {'; '.join(dropped)}",
            )
        try:
            endpoints.update_endpoint(
                endpoint.name, new_name, spec.apply.rollback_alarms if spec.apply else []
            )
        except MlcostError:
            # No half-applied change: the new config goes if the endpoint never took it.
            if created:
                endpoints.delete_config(new_name)
            raise
        status.rollout = Rollout(
            phase=RolloutPhase.UPDATING,
            endpoint_config=new_name,
            previous_endpoint_config=endpoint.config_name,
            started=now,
            message=f"UpdateEndpoint to {summary}",
        )
        status.last_applied = LastApplied(
            time=now, from_endpoint_config=endpoint.config_name, to_endpoint_config=new_name
        )
        outcome.changes.append(f"rolled out {new_name}")
        outcome.info(
            "RolloutStarted",
            f"Updating {endpoint.name} from {endpoint.config_name} to {new_name} ({summary})",
        )
        return f"rolling out {new_name} ({summary})"

    def _missing_prices(self, chosen: list[VariantResult], target: AwsTarget) -> str | None:
        """Which hosting prices keep a saving unknown, and how to supply them (for the status)."""
        wanted = [
            (v.current.instance_type, target.region, Usage.HOSTING)
            for v in chosen
            if v.monthly_savings is None and v.current
        ]
        return self.catalogue().explain_missing(wanted) if wanted else None

    @staticmethod
    def _apply_gate(
        spec: EndpointRightsizingSpec,
        endpoint: EndpointState,
        status: EndpointRightsizingStatus,
        chosen: list[VariantResult],
        new_name: str,
        now: datetime,
        missing_prices: str | None = None,
    ) -> str | None:
        settings = spec.apply
        if not endpoint.in_service:
            return f"waiting: the endpoint is {endpoint.status}; it is only changed when InService"
        if status.rollout and status.rollout.phase is RolloutPhase.UPDATING:
            return f"waiting: rollout of {status.rollout.endpoint_config} in progress"
        if new_name in (status.failed_endpoint_configs or []):
            return f"not applied: a rollout of {new_name} failed before, so it is not tried again"
        savings = [v.monthly_savings for v in chosen]
        if any(s is None for s in savings):
            why = missing_prices or "the current configuration has no known price"
            return f"not applied: the saving is unknown: {why}"
        total = sum((s for s in savings if s is not None), Decimal(0))
        if settings and total < settings.min_monthly_savings:
            return (
                f"not applied: saves ${total}/month, below minMonthlySavings ${settings.min_monthly_savings}"
            )
        if settings and status.last_applied and status.last_applied.time:
            ready_at = status.last_applied.time + settings.cooldown
            if now < ready_at:
                cooldown = format_duration(settings.cooldown)
                return f"waiting: cooldown {cooldown} after the last change, until {ready_at.isoformat()}"
        if settings and settings.maintenance_window:
            window = WeeklyHours.parse(settings.maintenance_window)
            if not window.contains(now, settings.timezone):
                return f"waiting for the maintenance window {settings.maintenance_window} {settings.timezone}"
        return None

    def _track_rollout(
        self,
        endpoints: EndpointsClient,
        endpoint: EndpointState,
        status: EndpointRightsizingStatus,
        outcome: Outcome,
        owner: str,
        now: datetime,
    ) -> None:
        rollout = status.rollout
        if rollout is None or rollout.phase is not RolloutPhase.UPDATING or endpoint.transitioning:
            return
        if endpoint.in_service and endpoint.config_name == rollout.endpoint_config:
            rollout.phase = RolloutPhase.SUCCEEDED
            rollout.message = f"{endpoint.name} is InService on {rollout.endpoint_config}"
            outcome.info("RolloutSucceeded", rollout.message)
            old = rollout.previous_endpoint_config
            if old:
                self._delete_if_ours(endpoints, old, owner, outcome)
            return
        # Back on the old config (SageMaker rolled back) or Failed: never try that config again.
        rollout.phase = RolloutPhase.ROLLED_BACK if endpoint.in_service else RolloutPhase.FAILED
        rollout.message = (
            f"{endpoint.name} is {endpoint.status} on {endpoint.config_name}: "
            f"{endpoint.failure_reason or 'the update did not complete'}"
        )
        status.failed_endpoint_configs = sorted(
            {*(status.failed_endpoint_configs or []), rollout.endpoint_config}
        )
        outcome.warn("Rollout" + rollout.phase.value, rollout.message)
        if endpoint.config_name != rollout.endpoint_config:
            self._delete_if_ours(endpoints, rollout.endpoint_config, owner, outcome)

    @staticmethod
    def _delete_if_ours(endpoints: EndpointsClient, name: str, owner: str, outcome: Outcome) -> None:
        config = endpoints.describe_config(name)
        if config is not None and config.owner == owner and endpoints.delete_config(name):
            outcome.info(
                "EndpointConfigDeleted", f"Deleted EndpointConfig {name}, which the operator had created"
            )

    def _remove_orphans(
        self,
        endpoints: EndpointsClient,
        endpoint: EndpointState,
        status: EndpointRightsizingStatus,
        owner: str,
        outcome: Outcome,
    ) -> None:
        """Delete configs we created that no endpoint uses (left by a restart mid-rollout)."""
        keep = {endpoint.config_name}
        if status.rollout and status.rollout.phase is RolloutPhase.UPDATING:
            keep.add(status.rollout.endpoint_config)
        if endpoint.pending:
            keep.add(endpoint.pending.config_name)
        for name in endpoints.list_owned_configs(endpoint.name, owner):
            if name not in keep and endpoints.delete_config(name):
                outcome.info(
                    "EndpointConfigDeleted", f"Deleted EndpointConfig {name}: created by the operator, unused"
                )

    # -------------------------------------------------------------------- autoscaling

    def _autoscale(
        self,
        spec: EndpointRightsizingSpec,
        target: AwsTarget,
        endpoint: str,
        config: EndpointConfigState,
        variants: list[str],
        status: EndpointRightsizingStatus,
        outcome: Outcome,
        previous: EndpointRightsizingStatus,
        owner: str,
        now: datetime,
        ref: ObjectRef,
    ) -> None:
        scaling = VariantAutoscaling(self.sessions.client("application-autoscaling", target))
        settings = spec.autoscaling
        if status.rollout and status.rollout.phase is RolloutPhase.UPDATING:
            return  # a variant cannot be (re)registered while its endpoint is updating
        if settings is None:
            for variant in status.managed_autoscaling or []:
                _remove_autoscaling(scaling, endpoint, variant, owner, outcome)
            status.managed_autoscaling = None
            status.conditions = [c for c in status.conditions if c.type != AUTOSCALING]
            return
        refused = {v: why for v in variants if (why := _cannot_autoscale(config, v)) is not None}
        if refused:
            self._refuse_autoscaling(scaling, endpoint, refused, status, outcome, previous, owner, now, ref)
        variants = [v for v in variants if v not in refused]
        if variants and not refused:
            message = f"Target tracking of SageMakerVariantInvocationsPerInstance on {', '.join(variants)}"
            self._set(status, AUTOSCALING, True, "Managed", message, now, ref)
        for variant in variants:
            change = scaling.ensure(
                endpoint,
                variant,
                min_capacity=settings.min_instances,
                max_capacity=settings.max_instances,
                target_invocations=settings.target_invocations_per_instance,
                owner=owner,
            )
            if change.changed:
                outcome.info(
                    "AutoscalingUpdated",
                    f"{endpoint}/{variant}: {settings.min_instances}-{settings.max_instances} instances, "
                    f"target {settings.target_invocations_per_instance} invocations per instance",
                )
        status.managed_autoscaling = sorted(variants) or None

    def _refuse_autoscaling(
        self,
        scaling: VariantAutoscaling,
        endpoint: str,
        refused: dict[str, str],
        status: EndpointRightsizingStatus,
        outcome: Outcome,
        previous: EndpointRightsizingStatus,
        owner: str,
        now: datetime,
        ref: ObjectRef,
    ) -> None:
        """Autoscaling=False with why, once an Event; and none of ours left on those variants."""
        for variant in refused:
            # What we registered before the endpoint changed kind cannot scale it: take it away.
            if variant in (status.managed_autoscaling or []):
                _remove_autoscaling(scaling, endpoint, variant, owner, outcome)
        reason = "AutoscalingUnsupported"
        message = "spec.autoscaling is not applied to " + "; ".join(
            f"{endpoint}/{v}: {why}" for v, why in refused.items()
        )
        self._set(status, AUTOSCALING, False, reason, message, now, ref)
        if cond.reason_changed(previous, AUTOSCALING, reason):
            outcome.warn(reason, message)
            log.warning("%s: %s", ref.key, message)

    # -------------------------------------------------------------------- conditions

    def _set_ready_and_synced(
        self,
        status: EndpointRightsizingStatus,
        endpoint: EndpointState,
        recommendation: EndpointResult,
        result: RightsizingResult,
        now: datetime,
        ref: ObjectRef,
    ) -> None:
        headline = _headline(recommendation)
        if headline is None:
            reason, message = "NoVariant", "No variant to size"
        elif headline.status is Outcome_.INSUFFICIENT_DATA:
            reason, message = "InsufficientData", headline.reason
        else:
            reason, message = headline.status.value, headline.reason
        if result.apply_note:
            message = f"{message} Apply: {result.apply_note}."
        self._set(status, cond.READY, True, reason, message, now, ref)
        if endpoint.transitioning or (status.rollout and status.rollout.phase is RolloutPhase.UPDATING):
            self._set(
                status, SYNCED, False, "EndpointUpdating", f"{endpoint.name} is {endpoint.status}", now, ref
            )
        else:
            self._set(status, SYNCED, True, "InService", f"{endpoint.name} is {endpoint.status}", now, ref)

    def _not_ready(
        self,
        result: RightsizingResult,
        previous: EndpointRightsizingStatus,
        reason: str,
        message: str,
        now: datetime,
        ref: ObjectRef,
    ) -> None:
        self._set(result.status, cond.READY, False, reason, message, now, ref)
        self._set(result.status, SYNCED, ConditionStatus.UNKNOWN, reason, message, now, ref)
        if cond.reason_changed(previous, cond.READY, reason):
            result.outcome.warn(reason, message)

    def finalize(
        self, ref: ObjectRef, spec: EndpointRightsizingSpec, previous: EndpointRightsizingStatus | None
    ) -> Outcome:
        """Remove the autoscaling the operator created; the endpoint and its config stay."""
        outcome = Outcome()
        managed = (previous.managed_autoscaling if previous else None) or []
        if managed:
            scaling = VariantAutoscaling(self.sessions.client("application-autoscaling", self.target(spec)))
            for variant in managed:
                scaling.remove(spec.endpoint_name, variant, owner=owner_key(ref.namespace, ref.name))
                outcome.info(
                    "AutoscalingRemoved",
                    f"Removed the operator's autoscaling of {spec.endpoint_name}/{variant}",
                )
        return outcome


def _remove_autoscaling(
    scaling: VariantAutoscaling, endpoint: str, variant: str, owner: str, outcome: Outcome
) -> None:
    """Take the operator's autoscaling off a variant, with an Event only when there was some."""
    if scaling.remove(endpoint, variant, owner=owner).changed:
        outcome.info("AutoscalingRemoved", f"Removed the operator's autoscaling of {endpoint}/{variant}")


def _cannot_autoscale(config: EndpointConfigState, variant: str) -> str | None:
    """Why the operator's policy (SageMakerVariantInvocationsPerInstance on
    sagemaker:variant:DesiredInstanceCount) cannot scale this variant; None when it can."""
    configured = config.variant(variant)
    if configured is not None and configured.serverless is not None:
        return (
            "the variant is serverless: sagemaker:variant:DesiredInstanceCount does not apply to it "
            "(serverless variants scale provisioned concurrency, "
            "sagemaker:variant:DesiredProvisionedConcurrency); remove spec.autoscaling"
        )
    if config.asynchronous:
        return (
            "the endpoint is asynchronous (AsyncInferenceConfig): SageMaker publishes no "
            "InvocationsPerInstance for it, so a target-tracking policy on "
            "SageMakerVariantInvocationsPerInstance never scales it; scale it on "
            "ApproximateBacklogSizePerInstance yourself and remove spec.autoscaling"
        )
    if configured is not None and configured.model_name is None:
        return (
            "the variant hosts inference components (no ModelName): its instances scale with "
            "ManagedInstanceScaling and its model copies with the inference components' own "
            "autoscaling (sagemaker:inference-component:DesiredCopyCount); remove spec.autoscaling"
        )
    return None


def _ready_message(status: EndpointRightsizingStatus) -> str:
    ready = next((c for c in status.conditions if c.type == cond.READY), None)
    return ready.message if ready else ""


def _serves(
    job: RecommenderJob,
    config: EndpointConfigState,
    variant: str,
    packages_of: Callable[[str], frozenset[str]],
) -> bool:
    """Whether the variant serves the model the job benchmarked (InputConfig.ModelName, or the
    model package InputConfig.ModelPackageVersionArn that the variant's model was created from)."""
    configured = config.variant(variant)
    model = configured.model_name if configured else None
    if model is None:
        return False
    if job.model_name:
        return job.model_name == model
    if job.model_package_arn:
        return job.model_package_arn in packages_of(model)
    return False


def _headline(recommendation: EndpointResult) -> VariantResult | None:
    """The variant the single-valued status fields describe: the first one that was sized."""
    sized = [v for v in recommendation.variants if v.status is not Outcome_.SKIPPED]
    candidates = sized or list(recommendation.variants)
    return candidates[0] if candidates else None


def _observed(
    endpoint: EndpointState, config: EndpointConfigState, name: str, metrics: VariantMetrics, now: datetime
) -> ObservedVariant:
    configured = config.variant(name)
    live = endpoint.variant(name)
    count = (live.current_instance_count if live else None) or (
        configured.initial_instance_count if configured else 0
    )
    firsts = [s.first for s in (metrics.cpu, metrics.invocations) if s.first is not None]
    return ObservedVariant(
        variant=name,
        instance_type=configured.instance_type if configured else None,
        instance_count=count or 0,
        samples=metrics.cpu.samples,
        window_end=now,
        first_datapoint=min(firsts) if firsts else None,
        serverless=bool(configured and configured.serverless),
        cpu_peak=metrics.cpu.peak,
        memory_peak=metrics.memory.peak,
        gpu_peak=metrics.gpu.peak,
        gpu_memory_peak=metrics.gpu_memory.peak,
        model_latency_peak_us=metrics.model_latency.peak,
        invocations_per_instance_peak=metrics.invocations_per_instance.peak,
        invocations_total=metrics.invocations.total,
        # The peak with the instances that served it, never today's count (autoscaling).
        invocations_peak_per_minute=metrics.invocations_per_minute.peak,
        cpu_total_peak=metrics.cpu_total.peak,
        gpu_total_peak=metrics.gpu_total.peak,
        instances_at_peak=metrics.instances_at_peak,
        period_seconds=metrics.period,
        invocations_period_seconds=metrics.invocations_period,
    )
