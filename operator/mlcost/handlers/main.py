"""The operator's table of contents: every kopf handler is registered here."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from typing import Any

import kopf

from mlcost import logs
from mlcost.config import Config
from mlcost.constants import (
    ENDPOINTRIGHTSIZING_PLURAL,
    FINALIZER,
    GROUP,
    MLCOSTPOLICY_PLURAL,
    MLCOSTREPORT_PLURAL,
    VERSION,
)
from mlcost.handlers import objects
from mlcost.handlers.policy import POLICY
from mlcost.handlers.report import REPORT
from mlcost.handlers.resync import Peering, Resyncs
from mlcost.handlers.rightsizing import RIGHTSIZING
from mlcost.handlers.runtime import Runtime, StartupError, refresh_prices, start_runtime

CONFIG = Config.from_env()
MLCOSTPOLICY = (GROUP, VERSION, MLCOSTPOLICY_PLURAL)
ENDPOINTRIGHTSIZING = (GROUP, VERSION, ENDPOINTRIGHTSIZING_PLURAL)
MLCOSTREPORT = (GROUP, VERSION, MLCOSTREPORT_PLURAL)
LIST_CHUNK = 100  # objects per page of kopf's initial listing
WORKER_IDLE_TIMEOUT = 0.5  # seconds


def peering_priority(started: float, tiebreak: int | None = None) -> int:
    """The kopf peering priority of a replica started at `started` (epoch seconds).

    kopf pauses an operator that sees a peer of higher priority, and pauses *all* of them on a
    tie, so priorities must differ: the older replica ranks higher (it stays active through a
    rolling update until it leaves), milliseconds plus a random tie-break part keep two
    replicas started together apart. Negative, so that a person's `kopf freeze` or
    `kopf run --dev` (priority >= 0) still pauses every replica.
    """
    part = random.randrange(1000) if tiebreak is None else tiebreak
    return -(int(started * 1000) * 1000 + part)


def _join_peering(settings: kopf.OperatorSettings, logger: Any) -> None:
    # `kopf run --standalone` (the tests' harness) and MLCOST_STANDALONE / --standalone both win.
    settings.peering.standalone = settings.peering.standalone or CONFIG.standalone
    if settings.peering.standalone:
        logger.info("Running standalone (no peering): run one replica only.")
        return
    settings.peering.name = CONFIG.peering
    # Mandatory: a replica starts passive and acts only once the peering says nobody older is
    # active, never in the moment before it has read the peering.
    settings.peering.mandatory = True
    settings.peering.priority = peering_priority(time.time())
    settings.peering.lifetime = max(1, int(CONFIG.peering_lifetime.total_seconds()))
    settings.peering.stealth = True  # no log line per keep-alive
    where = (
        f"ClusterKopfPeering {CONFIG.peering!r}"
        if settings.peering.clusterwide
        else f"KopfPeering {CONFIG.peering!r} in each watched namespace"
    )
    logger.info(
        f"Joining the peering {where} with priority {settings.peering.priority}: the oldest "
        "replica acts, the others stay passive until it leaves."
    )


def _runtime(memo: kopf.Memo) -> Runtime:
    runtime: Runtime = memo["runtime"]
    return runtime


@kopf.on.startup()
async def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, logger: Any, **_: Any) -> None:
    # Progress and diff-base go to annotations: a structural status schema would prune them.
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=GROUP, key="last-handled-configuration"
    )
    settings.persistence.finalizer = FINALIZER
    settings.posting.level = logging.INFO
    settings.watching.server_timeout = 300
    # The first listing in pages: a restart after an outage otherwise parses every object with
    # its full status in one response (500 policies: ~14 MB of JSON, ~40 MiB of Python objects).
    settings.watching.chunk_size = LIST_CHUNK
    # kopf's worker for an object keeps the object's last event (its whole body) until it has
    # been idle this long: after a restart, 500 bodies at once for kopf's default of 5 s.
    settings.queueing.idle_timeout = WORKER_IDLE_TIMEOUT
    logs.install_filters()
    _join_peering(settings, logger)
    bound = CONFIG.max_concurrent_reconciles
    logger.info(
        f"Reconciling at most {bound} objects at once; the others wait their turn."
        if bound
        else "Reconciling objects without a bound on how many run at once."
    )
    if "runtime" not in memo:  # `mlcost run` builds it before kopf starts; `kopf run -m` here
        try:
            memo["runtime"] = start_runtime(CONFIG)
        except StartupError as exc:
            # kopf retries a startup handler's plain errors forever; this one cannot heal.
            raise kopf.PermanentError(str(exc)) from exc
        if CONFIG.metrics_port:
            logger.info(f"Serving /metrics on port {CONFIG.metrics_port}")
    if CONFIG.price_refresh:
        logger.info(await asyncio.to_thread(refresh_prices, _runtime(memo)))
    if "resyncs" not in memo:
        peering = settings.peering
        resyncs = Resyncs(
            _runtime(memo),
            # Read at each check: a later startup handler (or kopf's CLI) may change them.
            lambda: Peering(peering.standalone, peering.name, peering.priority, peering.clusterwide),
        )
        memo["resyncs"] = resyncs
        memo["resync_task"] = asyncio.create_task(resyncs.run(), name="mlcost resyncs")


# Every object is resynced by one scheduler (handlers/resync.py), not a kopf timer each: a timer
# keeps a copy of its object's whole body in memory for as long as the object exists. The event
# handlers tell the scheduler when each object is due; kopf's handlers do the rest.


def _resyncs(memo: kopf.Memo) -> Resyncs:
    resyncs: Resyncs = memo["resyncs"]
    return resyncs


async def _resume(
    kind: objects.Kind[Any, Any],
    plural: str,
    body: kopf.Body,
    patch: kopf.Patch,
    memo: kopf.Memo,
    logger: Any,
) -> None:
    # A restart with statuses that are current: each is reconciled in its turn by the scheduler,
    # which reads it then, instead of hundreds of bodies waiting here at once for a slot.
    if objects.due_at(kind, _runtime(memo), body) is not None:
        _resyncs(memo).resume(kind, plural, body)
        return
    await objects.reconcile(kind, _runtime(memo), body, patch, logger)


@kopf.on.create(*MLCOSTPOLICY)
@kopf.on.update(*MLCOSTPOLICY, field="spec")
async def reconcile_policy(
    body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, logger: Any, **_: Any
) -> None:
    await objects.reconcile(POLICY, _runtime(memo), body, patch, logger)


@kopf.on.resume(*MLCOSTPOLICY)
async def resume_policy(body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, logger: Any, **_: Any) -> None:
    await _resume(POLICY, MLCOSTPOLICY_PLURAL, body, patch, memo, logger)


@kopf.on.event(*MLCOSTPOLICY)
async def schedule_policy(type: str | None, body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    _resyncs(memo).note(POLICY, MLCOSTPOLICY_PLURAL, body, type)


@kopf.on.delete(*MLCOSTPOLICY)
async def delete_policy(body: kopf.Body, memo: kopf.Memo, logger: Any, **_: Any) -> None:
    await objects.finalize(POLICY, _runtime(memo), body, logger)


@kopf.on.create(*ENDPOINTRIGHTSIZING)
@kopf.on.update(*ENDPOINTRIGHTSIZING, field="spec")
async def reconcile_rightsizing(
    body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, logger: Any, **_: Any
) -> None:
    await objects.reconcile(RIGHTSIZING, _runtime(memo), body, patch, logger)


@kopf.on.resume(*ENDPOINTRIGHTSIZING)
async def resume_rightsizing(
    body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, logger: Any, **_: Any
) -> None:
    await _resume(RIGHTSIZING, ENDPOINTRIGHTSIZING_PLURAL, body, patch, memo, logger)


@kopf.on.event(*ENDPOINTRIGHTSIZING)
async def schedule_rightsizing(type: str | None, body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    _resyncs(memo).note(RIGHTSIZING, ENDPOINTRIGHTSIZING_PLURAL, body, type)


@kopf.on.delete(*ENDPOINTRIGHTSIZING)
async def delete_rightsizing(body: kopf.Body, memo: kopf.Memo, logger: Any, **_: Any) -> None:
    await objects.finalize(RIGHTSIZING, _runtime(memo), body, logger)


@kopf.on.create(*MLCOSTREPORT)
@kopf.on.update(*MLCOSTREPORT, field="spec")
async def reconcile_report(
    body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, logger: Any, **_: Any
) -> None:
    await objects.reconcile(REPORT, _runtime(memo), body, patch, logger)


@kopf.on.resume(*MLCOSTREPORT)
async def resume_report(body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, logger: Any, **_: Any) -> None:
    await _resume(REPORT, MLCOSTREPORT_PLURAL, body, patch, memo, logger)


@kopf.on.event(*MLCOSTREPORT)
async def schedule_report(type: str | None, body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    _resyncs(memo).note(REPORT, MLCOSTREPORT_PLURAL, body, type)


# A report owns nothing in AWS: deleting it only removes its metrics (with kopf's finalizer, so
# that they are removed even when the deletion happens while the operator is down).
@kopf.on.delete(*MLCOSTREPORT)
async def delete_report(body: kopf.Body, memo: kopf.Memo, logger: Any, **_: Any) -> None:
    await objects.finalize(REPORT, _runtime(memo), body, logger)


@kopf.on.cleanup()
async def stop_resyncs(memo: kopf.Memo, **_: Any) -> None:
    task = memo.get("resync_task")
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task  # run() never returns nor raises but for this cancellation
    if "resyncs" in memo:
        await _resyncs(memo).stop()
