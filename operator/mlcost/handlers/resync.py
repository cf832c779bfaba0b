"""One scheduler for every object's resync, in place of a kopf timer per object.

A kopf timer keeps a live copy of its object's whole body for as long as the object exists
(kopf's `live_fresh_body`): with a full status that is about 80 KiB of Python objects per
MLCostPolicy, 40 MiB at 500, held for good (bench/backlog.py). The scheduler keeps, per object,
its kind, namespace, name and when its next resync is due, learnt from every watch event by a
kopf event handler; when the time comes it reads the object from the API, reconciles it in one
of the operator's reconcile slots, and writes the status and Events itself. So a backlog holds
no bodies while it waits, and at most MLCOST_MAX_CONCURRENT_RECONCILES bodies are alive at once.

kopf pauses its own handlers while a peer outranks this replica (peering) or a person has run
`kopf freeze`; the scheduler reads the same peering object before it acts and keeps still too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import kopf

from mlcost import logs
from mlcost.handlers import objects
from mlcost.handlers.kube_objects import KubeError, KubeObjects
from mlcost.handlers.runtime import Runtime
from mlcost.reconcile.results import utcnow

log = logging.getLogger("mlcost.resync")


@dataclass(slots=True)
class Entry:
    kind: objects.Kind[Any, Any]
    plural: str
    namespace: str
    name: str
    due: datetime
    # A restart's resume: reconcile at the next tick even if the interval has not passed.
    forced: bool = False


@dataclass(frozen=True)
class Peering:
    """What the scheduler needs of kopf's peering settings (read when it checks)."""

    standalone: bool
    name: str
    priority: int
    clusterwide: bool


def outranked(peers: Mapping[str, Any], priority: int, now: datetime) -> bool:
    """Whether kopf pauses an operator of `priority` that reads these peers: a live peer ranks
    higher, or two share its priority (kopf pauses both on a tie). Priorities are unique per
    replica (handlers/main.py: start time and a random part), so ours is the one entry with it."""
    same = 0
    for info in peers.values():
        if not isinstance(info, Mapping):
            continue
        try:
            theirs = int(info.get("priority", 0))
            lifetime = timedelta(seconds=int(info.get("lifetime", 60)))
            seen = datetime.fromisoformat(str(info["lastseen"]))
        except (KeyError, TypeError, ValueError):
            continue
        if seen.tzinfo is None:
            seen = seen.replace(tzinfo=UTC)
        if seen + lifetime <= now:
            continue  # dead: kopf ignores it too
        if theirs > priority:
            return True
        same += theirs == priority
    return same > 1


class Resyncs:
    """The operator's resync schedule: a small entry per object, one loop for all."""

    def __init__(
        self,
        runtime: Runtime,
        peering: Callable[[], Peering],
        kube: KubeObjects | None = None,
    ) -> None:
        self.runtime = runtime
        self._peering = peering
        self._kube = kube or KubeObjects()
        self._entries: dict[str, Entry] = {}
        self._running: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._passive_said = False
        self._wake = asyncio.Event()

    # ----- fed by kopf's event handlers -----

    def note(
        self, kind: objects.Kind[Any, Any], plural: str, body: kopf.Body, event_type: str | None
    ) -> None:
        """Learn when `body`'s next resync is due, from one of its watch events."""
        uid = objects.uid_of(body)
        if event_type == "DELETED" or body.get("metadata", {}).get("deletionTimestamp"):
            self._entries.pop(uid, None)  # kopf's delete handler has it now
            return
        ref = objects.ref_of(body)
        due = objects.due_at(kind, self.runtime, body)
        if due is None:
            self._entries.pop(uid, None)
            return
        entry = self._entries.get(uid)
        forced = bool(entry and entry.forced)
        self._entries[uid] = Entry(kind, plural, ref.namespace, ref.name, due, forced)

    def resume(self, kind: objects.Kind[Any, Any], plural: str, body: kopf.Body) -> None:
        """After a restart: reconcile `body` at the next tick, in turn, without holding it."""
        ref = objects.ref_of(body)
        self._entries[objects.uid_of(body)] = Entry(kind, plural, ref.namespace, ref.name, utcnow(), True)
        self._wake.set()

    def __len__(self) -> int:
        return len(self._entries)

    # ----- the loop -----

    async def run(self) -> None:
        tick = self.runtime.config.tick.total_seconds()
        while True:
            # A tick, or at once when a restart's resumes arrive (they waited for no tick before).
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), tick)
            self._wake.clear()
            try:
                await self.tick()
            except Exception:  # a bug must not end every resync for good: say it, go on
                log.exception("The resync scheduler's tick failed; it goes on at the next one")

    async def tick(self) -> None:
        now = utcnow()
        due = [(uid, e) for uid, e in self._entries.items() if e.due <= now and uid not in self._running]
        if not due or not await self._active({e.namespace for _, e in due}):
            return
        for uid, entry in due:
            self._running.add(uid)
            name = f"resync {entry.namespace}/{entry.name}"
            task = asyncio.create_task(self._resync(uid, entry), name=name)
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _active(self, namespaces: set[str]) -> bool:
        peering = self._peering()
        if peering.standalone:
            return True
        # Read at every tick that has work: one GET, and a freeze holds from the next tick on.
        where: list[str | None] = [None] if peering.clusterwide else [*sorted(namespaces)]
        now = datetime.now(UTC)
        for namespace in where:
            try:
                peers = await asyncio.to_thread(self._kube.peers, peering.name, namespace)
            except KubeError as exc:
                log.warning(f"Resyncs wait: cannot read the peering ({exc}); trying again at the next tick")
                return False
            if peers is None or outranked(peers, peering.priority, now):
                if not self._passive_said:
                    log.info("Resyncs wait: the peering says another operator acts (or a freeze holds).")
                    self._passive_said = True
                return False
        self._passive_said = False
        return True

    async def _resync(self, uid: str, entry: Entry) -> None:
        with logs.about_object(entry.namespace, entry.name, entry.kind.name):
            await self._resync_one(uid, entry)

    async def _resync_one(self, uid: str, entry: Entry) -> None:
        runtime = self.runtime
        try:
            async with runtime.lock(uid), objects.reconcile_slot(runtime):
                # Read now, in the slot: a backlog of due objects holds no bodies while it waits.
                raw = await asyncio.to_thread(self._kube.get, entry.plural, entry.namespace, entry.name)
                started = time.monotonic()
                body = kopf.Body(cast(Any, raw)) if raw is not None else None
                if body is None or objects.uid_of(body) != uid:
                    self._entries.pop(uid, None)  # deleted (or re-created: its events tell)
                    return
                if body.get("metadata", {}).get("deletionTimestamp"):
                    return
                patch = kopf.Patch()
                result = await objects.reconcile_held(
                    entry.kind, runtime, body, patch, log, resync=True, forced=entry.forced
                )
                current = self._entries.get(uid)
                if current is not None:
                    # Done with the latest body: an entry a watch event renewed meanwhile (it
                    # keeps the flag) must not reconcile it again.
                    current.forced = False
                if result is None:  # not due after all (swept meanwhile), or its spec is invalid
                    fresh = objects.due_at(entry.kind, runtime, body)
                    if current is entry and fresh is not None:
                        entry.due = fresh
                    elif current is entry:
                        self._entries.pop(uid, None)
                    return
                status = dict(patch.get("status") or {})
                if status and not await asyncio.to_thread(
                    self._kube.patch_status, entry.plural, entry.namespace, entry.name, status
                ):
                    return
                # The status's own watch event tells the next due time too; this one holds until then.
                if current is entry:
                    entry.due = objects.next_due(entry.kind, runtime, body, result.status) or entry.due
                events = result.outcome.events
                if events:
                    await asyncio.to_thread(self._kube.post_events, _involved(body), events)
                # Only a resync that did work logs (at INFO); a tick with nothing due logs nothing.
                log.info(f"Resync succeeded in {time.monotonic() - started:.1f}s.")
        except KubeError as exc:
            log.warning(f"The resync waits {runtime.config.retry_interval}: {exc}")
            self._retry_later(uid, entry)
        except Exception:
            log.exception(f"The resync failed; it is tried again in {runtime.config.retry_interval}")
            self._retry_later(uid, entry)
        finally:
            self._running.discard(uid)

    def _retry_later(self, uid: str, entry: Entry) -> None:
        if self._entries.get(uid) is entry:
            entry.due = utcnow() + self.runtime.config.retry_interval


def _involved(body: kopf.Body) -> dict[str, Any]:
    meta = body.get("metadata", {})
    return {
        "apiVersion": body.get("apiVersion"),
        "kind": body.get("kind"),
        "namespace": meta.get("namespace"),
        "name": meta.get("name"),
        "uid": meta.get("uid"),
        "resourceVersion": meta.get("resourceVersion"),
    }
