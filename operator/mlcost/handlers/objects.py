"""What every kind's handlers share: parse, decide if a resync is due, reconcile, write status."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
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


def uid_of(body: kopf.Body) -> str:
    meta = body.get("metadata", {})
    return str(meta.get("uid") or f"{meta.get('namespace', 'default')}/{meta.get('name')}")


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


def _due_time(
    runtime: Runtime, kind: Kind[SpecT, StatusT], spec: SpecT, previous: Any, generation: int | None
) -> datetime | None:
    """When the next resync is due; None when it is not a resync's to do."""
    if previous is None or previous.observed_generation != generation:
        return None  # a new or changed spec is the change handler's to reconcile
    if previous.last_sweep is None:
        return utcnow()
    ready = cond.get_condition(previous.conditions, cond.READY)
    interval = kind.resync_interval(runtime, spec, previous)
    if ready is None or ready.status != "True":
        interval = min(interval, runtime.config.retry_interval)
    return previous.last_sweep + interval  # type: ignore[no-any-return]


def due_at(kind: Kind[SpecT, StatusT], runtime: Runtime, body: kopf.Body) -> datetime | None:
    """When `body`'s next resync is due, from its spec and status; None when none is (an invalid
    spec, or a spec its status has not caught up with: the change handler's)."""
    try:
        spec = kind.spec_model.model_validate(dict(body.get("spec") or {}))
    except ValidationError:
        return None
    return _due_time(runtime, kind, spec, previous_status(kind, body), ref_of(body).generation)


def next_due(kind: Kind[SpecT, StatusT], runtime: Runtime, body: kopf.Body, status: Any) -> datetime | None:
    """When the resync after the one that produced `status` is due."""
    try:
        spec = kind.spec_model.model_validate(dict(body.get("spec") or {}))
    except ValidationError:
        return None
    return _due_time(runtime, kind, spec, status, ref_of(body).generation)


def _due(runtime: Runtime, kind: Kind[SpecT, StatusT], spec: SpecT, previous: Any, ref: ObjectRef) -> bool:
    due = _due_time(runtime, kind, spec, previous, ref.generation)
    return due is not None and utcnow() >= due


async def reconcile(
    kind: Kind[SpecT, StatusT],
    runtime: Runtime,
    body: kopf.Body,
    patch: kopf.Patch,
    logger: Any,
) -> ReconcileResult | None:
    """Reconcile one object for kopf's create, update and resume handlers: kopf writes `patch`
    and retries a transient failure."""
    try:
        kind.spec_model.model_validate(dict(body.get("spec") or {}))
    except ValidationError as exc:
        raise kopf.PermanentError(_invalid_spec(kind, body, patch, exc)) from exc
    async with runtime.lock(uid_of(body)), reconcile_slot(runtime):
        result = await reconcile_held(kind, runtime, body, patch, logger, resync=False)
    if result is None:
        return None
    post_events(body, result.outcome.events)
    error = result.outcome.error
    if error and error.transient:
        raise kopf.TemporaryError(error.message, delay=runtime.config.retry_interval.total_seconds())
    return result


async def reconcile_held(
    kind: Kind[SpecT, StatusT],
    runtime: Runtime,
    body: kopf.Body,
    patch: kopf.Patch,
    logger: Any,
    *,
    resync: bool,
    forced: bool = False,
) -> ReconcileResult | None:
    """Reconcile one object whose lock and reconcile slot the caller holds; the new status goes
    into `patch`, the Events are the caller's to post. A resync runs only when it is due (or
    `forced`, after a restart) and never for an invalid spec (the change handler reported it)."""
    ref = ref_of(body)
    try:
        spec = kind.spec_model.model_validate(dict(body.get("spec") or {}))
    except ValidationError:
        return None
    # Parsed only now, in the slot: a backlog waiting for its turn holds no parsed statuses, and
    # the status is the latest there is.
    previous = previous_status(kind, body)
    if resync and not (forced or _due(runtime, kind, spec, previous, ref)):
        return None
    if resync and _due_time(runtime, kind, spec, previous, ref.generation) is None:
        return None  # a changed spec, even when forced: the change handler's
    started = time.monotonic()
    with logs.about_object(ref.namespace, ref.name, kind.name):
        result = await asyncio.to_thread(kind.reconcile, runtime, ref, spec, previous)
        error = result.outcome.error
        if error:
            logger.warning(f"{error.reason}: {error.message}")
    kind.record(runtime, ref, result, time.monotonic() - started)
    _write_status(patch, previous, result.status)
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
        async with runtime.lock(uid_of(body)), reconcile_slot(runtime):
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
    runtime.forget(uid_of(body))
