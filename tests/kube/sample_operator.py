"""A tiny kopf operator, used only to prove the fake API and the harness (tests/kube).

It behaves like a well-mannered operator of MLCostPolicy: on create and on spec updates it
reports ``status.observedGeneration`` and a ``Ready`` condition through the status
subresource and posts an Event; it has a delete handler (so kopf adds its finalizer and
removes it once the handler ran); and a timer. What it saw is kept in module-level lists,
which the harness re-creates on every run (``OperatorRun.module``).
"""

from __future__ import annotations

import datetime
import logging
from typing import Any

import kopf

GROUP, VERSION, PLURAL = "mlcost.io", "v1alpha1", "mlcostpolicies"
TIMER_INTERVAL = 0.2

SEEN: list[tuple[str, str, int, dict[str, Any]]] = []  # (cause, name, generation, spec)
DELETED: list[str] = []
TICKS: dict[str, int] = {}


@kopf.on.startup()
async def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    # Production-like settings; the harness's own startup handler runs after this one.
    settings.posting.level = logging.INFO
    settings.watching.server_timeout = 300


def _report(cause: str, body: kopf.Body, spec: kopf.Spec, patch: kopf.Patch) -> None:
    generation = int(body.metadata.get("generation", 0))
    SEEN.append((cause, body.metadata.name or "", generation, dict(spec)))
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    patch.status["observedGeneration"] = generation
    patch.status["conditions"] = [
        {
            "type": "Ready",
            "status": "True",
            "reason": "Reconciled",
            "message": f"reconciled generation {generation}",
            "lastTransitionTime": now,
        }
    ]
    kopf.info(body, reason="Reconciled", message=f"{cause}: generation {generation}")


@kopf.on.create(GROUP, VERSION, PLURAL)
async def created(body: kopf.Body, spec: kopf.Spec, patch: kopf.Patch, **_: Any) -> None:
    _report("create", body, spec, patch)


@kopf.on.update(GROUP, VERSION, PLURAL, field="spec")
async def updated(body: kopf.Body, spec: kopf.Spec, patch: kopf.Patch, **_: Any) -> None:
    _report("update", body, spec, patch)


@kopf.on.delete(GROUP, VERSION, PLURAL)
async def deleted(body: kopf.Body, name: str | None, **_: Any) -> None:
    DELETED.append(name or "")
    kopf.info(body, reason="Deleting", message="cleaned up")


@kopf.timer(GROUP, VERSION, PLURAL, interval=TIMER_INTERVAL)
async def tick(name: str | None, **_: Any) -> None:
    TICKS[name or ""] = TICKS.get(name or "", 0) + 1
