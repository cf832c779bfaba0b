"""The operator's table of contents: every kopf handler is registered here."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import kopf

from mlcost.config import Config
from mlcost.constants import ENDPOINTRIGHTSIZING_PLURAL, FINALIZER, GROUP, MLCOSTPOLICY_PLURAL, VERSION
from mlcost.handlers import objects
from mlcost.handlers.policy import POLICY
from mlcost.handlers.rightsizing import RIGHTSIZING
from mlcost.handlers.runtime import Runtime, build_runtime, refresh_prices

CONFIG = Config.from_env()
TICK = CONFIG.tick.total_seconds()
MLCOSTPOLICY = (GROUP, VERSION, MLCOSTPOLICY_PLURAL)
ENDPOINTRIGHTSIZING = (GROUP, VERSION, ENDPOINTRIGHTSIZING_PLURAL)


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
    runtime = memo.get("runtime") or build_runtime(CONFIG)
    memo["runtime"] = runtime
    if CONFIG.price_refresh:
        logger.info(await asyncio.to_thread(refresh_prices, runtime))
    if CONFIG.metrics_port:
        runtime.metrics.serve(CONFIG.metrics_port)
        logger.info(f"Serving /metrics on port {CONFIG.metrics_port}")


@kopf.on.resume(*MLCOSTPOLICY)
@kopf.on.create(*MLCOSTPOLICY)
@kopf.on.update(*MLCOSTPOLICY, field="spec")
async def reconcile_policy(
    body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, logger: Any, **_: Any
) -> None:
    await objects.reconcile(POLICY, _runtime(memo), body, patch, logger, resync=False)


@kopf.timer(*MLCOSTPOLICY, interval=TICK, initial_delay=TICK)
async def resync_policy(body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, logger: Any, **_: Any) -> None:
    await objects.reconcile(POLICY, _runtime(memo), body, patch, logger, resync=True)


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
    await objects.reconcile(RIGHTSIZING, _runtime(memo), body, patch, logger, resync=True)


@kopf.on.delete(*ENDPOINTRIGHTSIZING)
async def delete_rightsizing(body: kopf.Body, memo: kopf.Memo, logger: Any, **_: Any) -> None:
    await objects.finalize(RIGHTSIZING, _runtime(memo), body, logger)
