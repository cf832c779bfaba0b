"""What every kind's handlers share: parse, decide if a resync is due, reconcile, write status."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Generic, Protocol, TypeVar

import kopf
from pydantic import BaseModel, ValidationError

from mlcost import logs
from mlcost.api.common import Condition
from mlcost.domain import conditions as cond
from mlcost.domain.errors import MlcostError
from mlcost.handlers.runtime import Runtime
from mlcost.reconcile.results import Event, ObjectRef, Outcome, utcnow


def reconcile_slot(runtime: Runtime) -> contextlib.AbstractAsyncContextManager[Any]:
    """A turn among the operator's reconcile slots (MLCOST_MAX_CONCURRENT_RECONCILES); at once
    when unbounded.

    Take it after the object's lock, never before: a slot holder then never waits for a lock,
    so the slots cannot all be held by reconciles waiting for each other."""
    return runtime.slots or contextlib.nullcontext()


class ObjectStatus(Protocol):
    observed_generation: int | None
    conditions: list[Condition]
    last_sweep: Any

    def to_api(self) -> dict[str, Any]: ...


class ReconcileResult(Protocol):
    @property
    def status(self) -> Any: ...

    @property
    def outcome(self) -> Outcome: ...


SpecT = TypeVar("SpecT", bound=BaseModel)
StatusT = TypeVar("StatusT", bound=BaseModel)


@dataclass(frozen=True)
class Kind(Generic[SpecT, StatusT]):
    """How the generic handlers treat one custom resource kind."""

    name: str
    spec_model: type[SpecT]
    status_model: type[StatusT]
    reconcile: Callable[[Runtime, ObjectRef, SpecT, StatusT | None], ReconcileResult]
    finalize: Callable[[Runtime, ObjectRef, SpecT, StatusT | None], Outcome]
    # How long after the last sweep a resync is due (given a status that is Ready).
    resync_interval: Callable[[Runtime, SpecT, StatusT], timedelta]
    record: Callable[[Runtime, ObjectRef, ReconcileResult, float], None]
    forget: Callable[[Runtime, ObjectRef], None]


def ref_of(body: kopf.Body) -> ObjectRef:
    meta = body.get("metadata", {})
    return ObjectRef(meta.get("namespace", "default"), meta["name"], meta.get("generation"))


def _uid(body: kopf.Body, ref: ObjectRef) -> str:
    return str(body.get("metadata", {}).get("uid", ref.key))


def previous_status(kind: Kind[SpecT, StatusT], body: kopf.Body) -> StatusT | None:
    try:
        return kind.status_model.model_validate(dict(body.get("status") or {}))
    except ValidationError:
        # A status we cannot read (e.g. written by a newer version) is rebuilt, not fatal.
        return None


def _invalid_spec(
    kind: Kind[SpecT, StatusT], body: kopf.Body, patch: kopf.Patch, exc: ValidationError
) -> str:
    problems = "; ".join(f"spec.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
    message = f"The spec is invalid: {problems}. Fix the manifest; nothing was changed in AWS."
    ref = ref_of(body)
    previous: Any = previous_status(kind, body) or kind.status_model()
    conditions = cond.set_condition(
        previous.conditions,
        cond.READY,
        False,
        "InvalidSpec",
        message,
        now=utcnow(),
        generation=ref.generation,
    )
    patch.status["conditions"] = [c.to_api() for c in conditions]
    patch.status["observedGeneration"] = ref.generation
    kopf.warn(body, reason="InvalidSpec", message=message)
    return message


def post_events(body: kopf.Body, events: list[Event]) -> None:
    for event in events:
        kopf.event(body, type=event.type.value, reason=event.reason, message=event.message)


def _write_status(patch: kopf.Patch, previous: Any, status: Any) -> None:
    new = status.to_api()
    old = previous.to_api() if previous else {}
    for key in old.keys() - new.keys():
        patch.status[key] = None  # merge patch: null removes what no longer applies
    for key, value in new.items():
        patch.status[key] = value


def _due(runtime: Runtime, kind: Kind[SpecT, StatusT], spec: SpecT, previous: Any, ref: ObjectRef) -> bool:
    if previous is None or previous.observed_generation != ref.generation:
        return False  # a new or changed spec is the change handler's to reconcile
    if previous.last_sweep is None:
        return True
    ready = cond.get_condition(previous.conditions, cond.READY)
    interval = kind.resync_interval(runtime, spec, previous)
    if ready is None or ready.status != "True":
        interval = min(interval, runtime.config.retry_interval)
    return bool(utcnow() - previous.last_sweep >= interval)


async def reconcile(
    kind: Kind[SpecT, StatusT],
    runtime: Runtime,
    body: kopf.Body,
    patch: kopf.Patch,
    logger: Any,
    *,
    resync: bool,
) -> ReconcileResult | None:
    """Reconcile one object; on a resync, only when it is due."""
    ref = ref_of(body)
    try:
        spec = kind.spec_model.model_validate(dict(body.get("spec") or {}))
    except ValidationError as exc:
        if resync:
            return None  # reported by the change handler when the spec was written
        raise kopf.PermanentError(_invalid_spec(kind, body, patch, exc)) from exc
    if resync and not _due(runtime, kind, spec, previous_status(kind, body), ref):
        return None
    async with runtime.lock(_uid(body, ref)), reconcile_slot(runtime):
        # Read only now, not before waiting: a backlog waiting here holds no parsed statuses,
        # and the status is the latest kopf has seen.
        previous = previous_status(kind, body)
        if resync and not _due(runtime, kind, spec, previous, ref):
            return None  # reconciled while this resync waited for its turn
        started = time.monotonic()
        with logs.about_object(ref.namespace, ref.name, kind.name):
            result = await asyncio.to_thread(kind.reconcile, runtime, ref, spec, previous)
        seconds = time.monotonic() - started
    kind.record(runtime, ref, result, seconds)
    _write_status(patch, previous, result.status)
    post_events(body, result.outcome.events)
    error = result.outcome.error
    if error:
        logger.warning(f"{error.reason}: {error.message}")
        if error.transient and not resync:
            raise kopf.TemporaryError(error.message, delay=runtime.config.retry_interval.total_seconds())
    return result


async def finalize(kind: Kind[SpecT, StatusT], runtime: Runtime, body: kopf.Body, logger: Any) -> None:
    """Release what the object owns in AWS; the finalizer holds until this works."""
    ref = ref_of(body)
    try:
        spec = kind.spec_model.model_validate(dict(body.get("spec") or {}))
    except ValidationError:
        logger.info("The spec never validated, so nothing was created in AWS; nothing to delete.")
        return
    try:
        async with runtime.lock(_uid(body, ref)), reconcile_slot(runtime):
            with logs.about_object(ref.namespace, ref.name, kind.name):
                outcome = await asyncio.to_thread(
                    kind.finalize, runtime, ref, spec, previous_status(kind, body)
                )
    except MlcostError as exc:
        message = (
            f"Cannot release the AWS resources of {kind.name} {ref.key}: {exc.message}. Deletion waits "
            f"until this succeeds; to give up, remove the finalizer from {ref.key}."
        )
        kopf.warn(body, reason=exc.reason, message=message)
        raise kopf.TemporaryError(message, delay=runtime.config.retry_interval.total_seconds()) from exc
    post_events(body, outcome.events)
    kind.forget(runtime, ref)
    runtime.forget(_uid(body, ref))
