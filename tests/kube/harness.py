"""Run the real kopf operator against the fake Kubernetes API (``fake_api.FakeKubeAPI``).

The operator is started the way users start it: ``kopf run --standalone --all-namespaces
-m MODULE`` through ``kopf.testing.KopfRunner`` (kopf's CLI in a thread with its own loop),
connected to the fake over HTTP on 127.0.0.1. Only the test adds to it, and only through
kopf's public extension points:

* an ``@kopf.on.login()`` handler that returns ``kopf.ConnectionInfo(server=<fake url>)``
  (the production module has no login handler: in a cluster kopf's defaults find the
  service account; in tests there is none to find);
* ``KUBECONFIG`` at the fake for the run's duration (the operator's own kubernetes-client
  requests find their cluster there, as they would on a developer's machine);
* an ``@kopf.on.startup()`` handler, registered *after* the module's own handlers (so it runs
  after the operator's startup handler and wins), that shortens kopf's timings for tests
  (``fast_settings``) and applies the test's own ``configure(settings)``.

Each run gets a fresh ``kopf.OperatorRegistry``: the operator module and its submodules are
removed from ``sys.modules`` and imported again with that registry as kopf's default, so the
handlers of one run (or of another operator module) never leak into the next one, and
module-level state starts fresh. ``OperatorRun.module`` is the module object of this run.

``run_operator`` returns once kopf has sent its WATCH requests for every resource that the
module's handlers serve (create test objects only after that), and on exit stops the
operator, waits for its thread, and re-raises an operator crash in the test.

Good to know:

* kopf's default registry, root logging and (inside KopfRunner's click runner)
  ``sys.stdout``/``sys.stderr`` are process-wide; while an operator runs, the test's own
  prints land in ``runner.output``. The harness restores all of them after the last run.
  Two runs may overlap (peering tests: ``standalone=False``); then each run's log lines may
  land in the other's ``runner.output``: assert on the fake API and AWS, not on output.
* Only ``MODULE`` and ``MODULE.*`` are re-imported; keep import-time singletons (e.g.
  prometheus collectors) in modules outside that path, or they register twice.
* ``settings.process.ultimate_exiting_timeout`` is disabled: after a crash kopf would
  otherwise SIGKILL its thread, which is the whole pytest process.
* If the operator crashes by itself (e.g. a failing startup handler), kopf spends ~5 s
  waiting for its stop-flag waiter before it exits; only failing tests pay this.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import importlib
import logging
import os
import sys
import tempfile
import types
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import kopf
from kopf.testing import KopfRunner

from tests.kube.fake_api import FakeKubeAPI

JSON = dict[str, Any]
SettingsHook = Callable[[kopf.OperatorSettings], None]
LOGIN_PRIORITY = 1000  # above any credentials the operator module could provide


def fast_settings(settings: kopf.OperatorSettings) -> None:
    """kopf settings for quick, deterministic tests against a local fake (never production)."""
    settings.networking.connect_timeout = 2.0
    settings.networking.request_timeout = 10.0
    settings.networking.error_backoffs = [0.1, 0.2, 0.5]
    settings.watching.connect_timeout = 2.0
    settings.watching.reconnect_backoff = 0.05
    settings.posting.default_backoffs = [0.1, 0.2, 0.5]
    settings.execution.default_backoff = 0.5  # retries of handlers that raise plain errors
    settings.queueing.exit_timeout = 0.5
    # After a crash kopf SIGKILLs its thread after this timeout, i.e. the whole pytest process.
    settings.process.ultimate_exiting_timeout = None


@dataclasses.dataclass
class OperatorRun:
    """A running operator: what a test may look at."""

    kube: FakeKubeAPI
    module: types.ModuleType  # the operator module as imported for this run
    registry: kopf.OperatorRegistry
    settings: kopf.OperatorSettings  # as changed by the startup handlers
    runner: KopfRunner
    watched: frozenset[str]  # plurals whose WATCH arrived before the test body started

    @property
    def running(self) -> bool:
        return not self.runner.future.done()


# What the ``run_operator`` fixture returns: ``async with run_operator(module, **options)``.
RunOperator = Callable[..., AbstractAsyncContextManager[OperatorRun]]


PEERING_GROUP, PEERING_VERSION = "kopf.dev", "v1"


def peering_crds() -> list[JSON]:
    """kopf's peering CRDs as kopf documents them (docs/peering.rst): the operators keep their
    keep-alives in ``status`` of a ClusterKopfPeering or a KopfPeering object."""
    crds: list[JSON] = []
    for kind, scope in (("ClusterKopfPeering", "Cluster"), ("KopfPeering", "Namespaced")):
        plural = f"{kind.lower()}s"
        crds.append(
            {
                "apiVersion": "apiextensions.k8s.io/v1",
                "kind": "CustomResourceDefinition",
                "metadata": {"name": f"{plural}.{PEERING_GROUP}"},
                "spec": {
                    "scope": scope,
                    "group": PEERING_GROUP,
                    # listKind: the API server defaults it; spelled out for stricter fakes.
                    "names": {
                        "kind": kind,
                        "plural": plural,
                        "singular": kind.lower(),
                        "listKind": f"{kind}List",
                    },
                    "versions": [
                        {
                            "name": PEERING_VERSION,
                            "served": True,
                            "storage": True,
                            "schema": {
                                "openAPIV3Schema": {
                                    "type": "object",
                                    "properties": {
                                        "status": {
                                            "type": "object",
                                            "x-kubernetes-preserve-unknown-fields": True,
                                        }
                                    },
                                }
                            },
                        }
                    ],
                },
            }
        )
    return crds


def declare_peering(kube: FakeKubeAPI, name: str, namespace: str | None = None) -> str:
    """Create kopf's peering CRDs (through the API, as ``kubectl apply`` would) and the peering
    object ``name``: cluster-wide, or a KopfPeering in ``namespace``. Returns its plural."""
    for crd in peering_crds():
        if kube.get("customresourcedefinitions", None, crd["metadata"]["name"]) is None:
            kube.create(crd)
    kind = "KopfPeering" if namespace else "ClusterKopfPeering"
    metadata: JSON = {"name": name, **({"namespace": namespace} if namespace else {})}
    kube.create({"apiVersion": f"{PEERING_GROUP}/{PEERING_VERSION}", "kind": kind, "metadata": metadata})
    return f"{kind.lower()}s"


def _forget(module: str) -> None:
    for name in [n for n in sys.modules if n == module or n.startswith(f"{module}.")]:
        del sys.modules[name]


def served_plurals(registry: kopf.OperatorRegistry, kube: FakeKubeAPI) -> frozenset[str]:
    """The plurals of the fake's resources that the registry's resource handlers select."""
    resources = [
        kopf.Resource(
            group=s.group,
            version=s.version,
            plural=s.plural,
            kind=s.kind,
            singular=s.singular or s.kind.lower(),
            shortcuts=s.shortnames,
            subresources=s.subresources,
            namespaced=s.namespaced,
            preferred=True,
        )
        for s in kube.call(lambda emu: emu.specs)
    ]
    # kopf's own resource observer reads the same registries (kopf._core.reactor.observation).
    handlers: list[Any] = [
        *registry._watching.get_all_handlers(),
        *registry._changing.get_all_handlers(),
        *registry._spawning.get_all_handlers(),
        *registry._indexing.get_all_handlers(),
    ]
    return frozenset(
        res.plural
        for res in resources
        for handler in handlers
        if handler.selector is not None and handler.selector.check(res)
    )


def _register_test_handlers(
    registry: kopf.OperatorRegistry, url: str, configure: SettingsHook | None
) -> None:
    @kopf.on.login(registry=registry, id="tests-login-to-fake-api")
    async def login(**_: Any) -> kopf.ConnectionInfo:
        return kopf.ConnectionInfo(
            server=url, insecure=True, default_namespace="default", priority=LOGIN_PRIORITY
        )

    @kopf.on.startup(registry=registry, id="tests-fast-settings")
    async def tune(settings: kopf.OperatorSettings, **_: Any) -> None:
        fast_settings(settings)
        if configure is not None:
            configure(settings)


_KUBECONFIGS = tempfile.TemporaryDirectory(prefix="mlcost-tests-")  # removed when pytest exits


def _point_kubeconfig_at(kube: FakeKubeAPI) -> None:
    """KUBECONFIG at the fake for the run, as on a developer's machine: the operator's own
    kubernetes-client requests (its resyncs, handlers/kube_objects.py) find the API there, while
    kopf gets it from the login handler. ``_preserved_global_state`` puts the old value back."""
    path = kube.kubeconfig(Path(_KUBECONFIGS.name) / f"kubeconfig-{kube.url.rsplit(':', 1)[-1]}")
    os.environ["KUBECONFIG"] = str(path)


@dataclasses.dataclass
class _GlobalState:
    registry: kopf.OperatorRegistry
    root_handlers: list[logging.Handler]
    root_level: int
    aio_handlers: list[logging.Handler]
    aio_propagate: bool
    stdout: Any
    stderr: Any
    kubeconfig: str | None


@dataclasses.dataclass
class _Overlap:
    depth: int = 0  # runs now inside _preserved_global_state
    saved: _GlobalState | None = None  # what the outermost of them found


_OVERLAP = _Overlap()


@contextlib.contextmanager
def _preserved_global_state() -> Any:
    """kopf's CLI replaces the default registry and root logging, and click's runner swaps
    ``sys.stdout``/``sys.stderr``; put them back once the last of overlapping runs is over.

    Runs may overlap (two peered operators), and end in any order: each restores only what
    it replaced itself, so only the outermost state is the one to return to."""
    if _OVERLAP.depth == 0:
        root, aio = logging.getLogger(), logging.getLogger("asyncio")
        _OVERLAP.saved = _GlobalState(
            registry=kopf.get_default_registry(),
            root_handlers=root.handlers[:],
            root_level=root.level,
            aio_handlers=aio.handlers[:],
            aio_propagate=aio.propagate,
            stdout=sys.stdout,
            stderr=sys.stderr,
            kubeconfig=os.environ.get("KUBECONFIG"),
        )
    _OVERLAP.depth += 1
    try:
        yield
    finally:
        _OVERLAP.depth -= 1
        if _OVERLAP.depth == 0 and _OVERLAP.saved is not None:
            state, _OVERLAP.saved = _OVERLAP.saved, None
            root, aio = logging.getLogger(), logging.getLogger("asyncio")
            kopf.set_default_registry(state.registry)
            root.handlers[:], root.level = state.root_handlers, state.root_level
            aio.handlers[:], aio.propagate = state.aio_handlers, state.aio_propagate
            sys.stdout, sys.stderr = state.stdout, state.stderr
            if state.kubeconfig is None:
                os.environ.pop("KUBECONFIG", None)
            else:
                os.environ["KUBECONFIG"] = state.kubeconfig


def _failure(runner: KopfRunner, what: str) -> RuntimeError:
    details = ""
    if runner.future.done():
        if (exc := runner.future.exception()) is not None:
            details = f"\nkopf's thread failed: {exc!r}"
        else:
            result = runner.future.result()
            details = f"\nexit code {result.exit_code}, exception {result.exception!r}"
            details += f"\noutput:\n{result.output[-5000:]}"
    return RuntimeError(f"{what}{details}")


@contextlib.asynccontextmanager
async def run_operator(
    kube: FakeKubeAPI,
    module: str,
    *,
    namespace: str | None = None,
    configure: SettingsHook | None = None,
    watched: Collection[str] | None = None,
    extra_args: Sequence[str] = ("--verbose",),
    startup_timeout: float = 10.0,
    stop_timeout: float = 15.0,
    standalone: bool = True,
) -> AsyncIterator[OperatorRun]:
    """Run ``kopf run --standalone --all-namespaces -m MODULE`` against ``kube``.

    ``namespace``: serve only this namespace (``--namespace``) instead of all of them.
    ``standalone=False``: without ``--standalone``, so the module's own peering settings apply
    (declare kopf's peering CRDs first, e.g. ``declare_peering``); a passive operator never
    watches the resources it serves, so pass ``watched`` (e.g. the peering's plural).
    ``configure``: a test's own settings tweaks, applied after ``fast_settings``.
    ``watched``: plurals whose WATCH to await before returning (default: every resource of
    the fake that the module's handlers select).
    """
    with _preserved_global_state():
        _point_kubeconfig_at(kube)
        registry = kopf.OperatorRegistry()
        kopf.set_default_registry(registry)  # the module's decorators register here
        _forget(module)
        imported = importlib.import_module(module)
        _register_test_handlers(registry, kube.url, configure)
        expected = frozenset(watched) if watched is not None else served_plurals(registry, kube)
        if namespace:
            kube.ensure_namespace(namespace)  # kopf waits for a served namespace to exist
        scope = ["--namespace", namespace] if namespace else ["--all-namespaces"]
        settings = kopf.OperatorSettings()
        runner = KopfRunner(
            ["run", *(["--standalone"] if standalone else []), *scope, "-m", module, *extra_args],
            registry=registry,
            settings=settings,
            timeout=stop_timeout,
        )
        runner.__enter__()
        body_error: BaseException | None = None
        try:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + startup_timeout
            while not expected <= {w.plural for w in kube.watches()}:
                if runner.future.done():
                    raise _failure(runner, f"the operator {module} exited during startup")
                if loop.time() > deadline:
                    seen = sorted({w.plural or "" for w in kube.watches()})
                    raise _failure(
                        runner,
                        f"the operator {module} did not watch "
                        f"{sorted(expected)} within {startup_timeout}s "
                        f"(watched: {seen})",
                    )
                await asyncio.sleep(0.02)
            yield OperatorRun(
                kube=kube,
                module=imported,
                registry=registry,
                settings=settings,
                runner=runner,
                watched=expected,
            )
        except BaseException as e:
            body_error = e
            raise
        finally:
            try:
                # Stops kopf (a threading flag), joins its thread, re-raises an operator crash.
                await asyncio.to_thread(
                    runner.__exit__,
                    type(body_error) if body_error is not None else None,
                    body_error,
                    body_error.__traceback__ if body_error is not None else None,
                )
            finally:
                # kopf leaves the pool for sync handlers running; do not leak its threads.
                settings.execution.executor.shutdown(wait=True, cancel_futures=True)
