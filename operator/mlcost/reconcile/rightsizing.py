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
from mlcost.aws.endpoints import EndpointConfigState, EndpointsClient, EndpointState, change_hash, config_name
from mlcost.aws.inference_recommender import InferenceRecommenderClient
from mlcost.aws.session import AwsSessions, AwsTarget
from mlcost.domain import conditions as cond
from mlcost.domain.budget import owner_key
from mlcost.domain.catalogue import PriceCatalogue
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
        ir = self._inference_recommender(spec, target, wanted, status, outcome, previous, now, ref)
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
            self._autoscale(spec, target, endpoint.name, wanted, status, outcome, owner)
            self._remove_orphans(endpoints, endpoint, status, owner, outcome)
        self._set_ready_and_synced(status, endpoint, recommendation, result, now, ref)

    # -------------------------------------------------------------------- recommendation

    def _inference_recommender(
        self,
        spec: EndpointRightsizingSpec,
        target: AwsTarget,
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
        job = InferenceRecommenderClient(self.sessions.client("sagemaker", target)).describe_job(name)
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
        message = f"Using {len(results)} result(s) of Inference Recommender job {name}"
        self._set(status, INFERENCE_RECOMMENDER, True, "JobCompleted", message, now, ref)
        return dict.fromkeys(variants, results)

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
        blocked = self._apply_gate(spec, endpoint, status, chosen, new_name, now)
        if blocked:
            return blocked
        summary = ", ".join(f"{v}: {t} x{n}" for v, (t, n) in sorted(changes.items()))
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
        created = endpoints.create_config_copy(config, new_name, changes, owner)
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

    @staticmethod
    def _apply_gate(
        spec: EndpointRightsizingSpec,
        endpoint: EndpointState,
        status: EndpointRightsizingStatus,
        chosen: list[VariantResult],
        new_name: str,
        now: datetime,
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
            return "not applied: the current configuration has no known price, so the saving is unknown"
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
        variants: list[str],
        status: EndpointRightsizingStatus,
        outcome: Outcome,
        owner: str,
    ) -> None:
        scaling = VariantAutoscaling(self.sessions.client("application-autoscaling", target))
        settings = spec.autoscaling
        if status.rollout and status.rollout.phase is RolloutPhase.UPDATING:
            return  # a variant cannot be (re)registered while its endpoint is updating
        if settings is None:
            for variant in status.managed_autoscaling or []:
                if scaling.remove(endpoint, variant, owner=owner).changed:
                    outcome.info(
                        "AutoscalingRemoved", f"Removed the operator's autoscaling of {endpoint}/{variant}"
                    )
            status.managed_autoscaling = None
            return
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
        status.managed_autoscaling = sorted(variants)

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
    )
