"""EndpointRightsizing as the generic handlers see it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from mlcost.api.v1alpha1.endpointrightsizing import (
    EndpointRightsizingSpec,
    EndpointRightsizingStatus,
    RolloutPhase,
)
from mlcost.handlers.objects import Kind, ReconcileResult
from mlcost.handlers.runtime import Runtime
from mlcost.metrics import record_rightsizing_result
from mlcost.reconcile.results import ObjectRef, Outcome
from mlcost.reconcile.rightsizing import RightsizingResult


def _reconcile(
    runtime: Runtime,
    ref: ObjectRef,
    spec: EndpointRightsizingSpec,
    previous: EndpointRightsizingStatus | None,
) -> RightsizingResult:
    return runtime.rightsizings.reconcile(ref, spec, previous)


def _finalize(
    runtime: Runtime,
    ref: ObjectRef,
    spec: EndpointRightsizingSpec,
    previous: EndpointRightsizingStatus | None,
) -> Outcome:
    return runtime.rightsizings.finalize(ref, spec, previous)


def _interval(
    runtime: Runtime, spec: EndpointRightsizingSpec, previous: EndpointRightsizingStatus
) -> timedelta:
    # A rollout in progress is watched at every tick, without blocking anything while it runs.
    if previous.rollout and previous.rollout.phase is RolloutPhase.UPDATING:
        return runtime.config.tick
    return runtime.config.rightsizing_resync


def _record(runtime: Runtime, ref: ObjectRef, result: ReconcileResult, seconds: float) -> None:
    assert isinstance(result, RightsizingResult)
    record_rightsizing_result(runtime.metrics, ref.namespace, ref.name, result, seconds)


def _forget(runtime: Runtime, ref: ObjectRef) -> None:
    runtime.metrics.forget_rightsizing(ref.namespace, ref.name)


RIGHTSIZING: Kind[Any, Any] = Kind(
    name="EndpointRightsizing",
    spec_model=EndpointRightsizingSpec,
    status_model=EndpointRightsizingStatus,
    reconcile=_reconcile,
    finalize=_finalize,
    resync_interval=_interval,
    record=_record,
    forget=_forget,
)
