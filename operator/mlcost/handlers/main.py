"""The operator's table of contents: every kopf handler is registered here."""

from __future__ import annotations

import asyncio
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
from mlcost.handlers.rightsizing import RIGHTSIZING
from mlcost.handlers.runtime import Runtime, StartupError, refresh_prices, start_runtime

CONFIG = Config.from_env()
TICK = CONFIG.tick.total_seconds()
MLCOSTPOLICY = (GROUP, VERSION, MLCOSTPOLICY_PLURAL)
ENDPOINTRIGHTSIZING = (GROUP, VERSION, ENDPOINTRIGHTSIZING_PLURAL)
MLCOSTREPORT = (GROUP, VERSION, MLCOSTREPORT_PLURAL)


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


@kopf.on.resume(*MLCOSTPOLICY)
@kopf.on.create(*MLCOSTPOLICY)
@kopf.on.update(*MLCOSTPOLICY, field="spec")
async def reconcile_policy(
    body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, logger: Any, **_: Any
) -> None:
    await objects.reconcile(POLICY, _runtime(memo), body, patch, logger, resync=False)


@kopf.timer(*MLCOSTPOLICY, interval=TICK, initial_delay=TICK)
async def resync_policy(body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, logger: Any, **_: Any) -> None:
    result = await objects.reconcile(POLICY, _runtime(memo), body, patch, logger, resync=True)
    logs.timer_found_nothing_due(result is None)


@kopf.on.delete(*MLCOSTPOLICY)
async def delete_policy(body: kopf.Body, memo: kopf.Memo, logger: Any, **_: Any) -> None:
    await objects.finalize(POLICY, _runtime(memo), body, logger)


@kopf.on.resume(*ENDPOINTRIGHTSIZING)
@kopf.on.create(*ENDPOINTRIGHTSIZING)
@kopf.on.update(*ENDPOINTRIGHTSIZING, field="spec")
async def reconcile_rightsizing(
    body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, logger: Any, **_: Any
) -> None:
    await objects.reconcile(RIGHTSIZING, _runtime(memo), body, patch, logger, resync=False)


@kopf.timer(*ENDPOINTRIGHTSIZING, interval=TICK, initial_delay=TICK)
async def resync_rightsizing(
    body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, logger: Any, **_: Any
) -> None:
    result = await objects.reconcile(RIGHTSIZING, _runtime(memo), body, patch, logger, resync=True)
    logs.timer_found_nothing_due(result is None)


@kopf.on.delete(*ENDPOINTRIGHTSIZING)
async def delete_rightsizing(body: kopf.Body, memo: kopf.Memo, logger: Any, **_: Any) -> None:
    await objects.finalize(RIGHTSIZING, _runtime(memo), body, logger)


@kopf.on.resume(*MLCOSTREPORT)
@kopf.on.create(*MLCOSTREPORT)
@kopf.on.update(*MLCOSTREPORT, field="spec")
async def reconcile_report(
    body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, logger: Any, **_: Any
) -> None:
    await objects.reconcile(REPORT, _runtime(memo), body, patch, logger, resync=False)


@kopf.timer(*MLCOSTREPORT, interval=TICK, initial_delay=TICK)
async def resync_report(body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, logger: Any, **_: Any) -> None:
    result = await objects.reconcile(REPORT, _runtime(memo), body, patch, logger, resync=True)
    logs.timer_found_nothing_due(result is None)


# A report owns nothing in AWS: deleting it only removes its metrics. (kopf keeps a finalizer on a
# kind with a timer whatever `optional` says: nolar/kopf#1074.)
@kopf.on.delete(*MLCOSTREPORT)
async def delete_report(body: kopf.Body, memo: kopf.Memo, logger: Any, **_: Any) -> None:
    await objects.finalize(REPORT, _runtime(memo), body, logger)
