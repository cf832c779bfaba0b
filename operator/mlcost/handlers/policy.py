"""Handlers of MLCostPolicy: reconcile on change and on resync, release AWS on deletion."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import Any

import kopf
from pydantic import ValidationError

from mlcost.api.v1alpha1.mlcostpolicy import MLCostPolicySpec, MLCostPolicyStatus
from mlcost.domain import conditions as cond
from mlcost.domain.errors import MlcostError
from mlcost.handlers.runtime import Runtime
from mlcost.metrics import record_policy_result
from mlcost.reconcile.policy import PolicyResult
from mlcost.reconcile.results import Event, ObjectRef, utcnow


def _ref(body: kopf.Body) -> ObjectRef:
    meta = body.get("metadata", {})
    return ObjectRef(meta.get("namespace", "default"), meta["name"], meta.get("generation"))


def _previous_status(body: kopf.Body) -> MLCostPolicyStatus | None:
    try:
        return MLCostPolicyStatus.model_validate(dict(body.get("status") or {}))
    except ValidationError:
        # A status we cannot read (e.g. written by a newer version) is rebuilt, not fatal.
        return None


def _invalid_spec(body: kopf.Body, patch: kopf.Patch, exc: ValidationError) -> str:
    problems = "; ".join(f"spec.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
    message = f"The spec is invalid: {problems}. Fix the manifest; nothing was changed in AWS."
    ref = _ref(body)
    previous = _previous_status(body) or MLCostPolicyStatus()
    now = utcnow()
    conditions = cond.set_condition(
        previous.conditions, cond.READY, False, "InvalidSpec", message, now=now, generation=ref.generation
    )
    patch.status["conditions"] = [c.to_api() for c in conditions]
    patch.status["observedGeneration"] = ref.generation
    kopf.warn(body, reason="InvalidSpec", message=message)
    return message


def _post(body: kopf.Body, events: list[Event]) -> None:
    for event in events:
        kopf.event(body, type=event.type.value, reason=event.reason, message=event.message)


def _write_status(patch: kopf.Patch, previous: MLCostPolicyStatus | None, result: PolicyResult) -> None:
    new = result.status.to_api()
    old = previous.to_api() if previous else {}
    for key in old.keys() - new.keys():
        patch.status[key] = None  # merge patch: null removes what no longer applies
    for key, value in new.items():
        patch.status[key] = value


async def reconcile(
    runtime: Runtime, body: kopf.Body, patch: kopf.Patch, logger: Any, *, resync: bool
) -> PolicyResult | None:
    """Reconcile one policy; on a resync, only when its resyncInterval (or retry) is due."""
    ref = _ref(body)
    try:
        spec = MLCostPolicySpec.model_validate(dict(body.get("spec") or {}))
    except ValidationError as exc:
        if resync:
            return None  # reported by the change handler when the spec was written
        raise kopf.PermanentError(_invalid_spec(body, patch, exc)) from exc
    previous = _previous_status(body)
    if resync and not _due(runtime, spec, previous, ref):
        return None
    async with runtime.lock(body.get("metadata", {}).get("uid", ref.key)):
        started = time.monotonic()
        result = await asyncio.to_thread(runtime.policies.reconcile, ref, spec, previous)
    record_policy_result(runtime.metrics, ref.namespace, ref.name, result, time.monotonic() - started)
    _write_status(patch, previous, result)
    _post(body, result.outcome.events)
    error = result.outcome.error
    if error:
        logger.warning(f"{error.reason}: {error.message}")
        if error.transient and not resync:
            raise kopf.TemporaryError(error.message, delay=runtime.config.retry_interval.total_seconds())
    return result


def _due(
    runtime: Runtime, spec: MLCostPolicySpec, previous: MLCostPolicyStatus | None, ref: ObjectRef
) -> bool:
    if previous is None or previous.observed_generation != ref.generation:
        return False  # a new or changed spec is the change handler's to reconcile
    if previous.last_sweep is None:
        return True
    ready = cond.get_condition(previous.conditions, cond.READY)
    interval: timedelta = spec.resync_interval
    if ready is None or ready.status != "True":
        interval = min(interval, runtime.config.retry_interval)
    return utcnow() - previous.last_sweep >= interval


async def finalize(runtime: Runtime, body: kopf.Body, logger: Any) -> None:
    """Delete (or retain and release) the policy's budget; the finalizer holds until this works."""
    ref = _ref(body)
    try:
        spec = MLCostPolicySpec.model_validate(dict(body.get("spec") or {}))
    except ValidationError:
        logger.info("The spec never validated, so nothing was created in AWS; nothing to delete.")
        return
    try:
        async with runtime.lock(body.get("metadata", {}).get("uid", ref.key)):
            outcome = await asyncio.to_thread(runtime.policies.finalize, ref, spec, _previous_status(body))
    except MlcostError as exc:
        message = (
            f"Cannot release the policy's AWS resources: {exc.message}. Deletion waits until this "
            f"succeeds; to give up, remove the finalizer from {ref.key}."
        )
        kopf.warn(body, reason=exc.reason, message=message)
        raise kopf.TemporaryError(message, delay=runtime.config.retry_interval.total_seconds()) from exc
    _post(body, outcome.events)
    runtime.metrics.forget_policy(ref.namespace, ref.name)
    runtime.forget(body.get("metadata", {}).get("uid", ref.key))
