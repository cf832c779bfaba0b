"""What every handler shares: settings, AWS sessions, reconcilers, metrics, per-object locks."""

from __future__ import annotations

import asyncio
import errno
import socket
from dataclasses import dataclass, field

from mlcost.aws.config_cache import ConfigStore, FileConfigStore, default_cache_dir
from mlcost.aws.pricing import PricingClient
from mlcost.aws.session import AwsSessions
from mlcost.catalogue import (
    CatalogueFileError,
    load_catalogue,
    load_catalogue_file,
    load_default_catalogue,
    refresh_or_keep,
)
from mlcost.config import Config
from mlcost.domain.spend import SpendCache
from mlcost.handlers.config_map_store import ConfigMapStore
from mlcost.metrics import Metrics
from mlcost.reconcile.policy import PolicyReconciler
from mlcost.reconcile.report import ReportReconciler
from mlcost.reconcile.rightsizing import RightsizingReconciler


@dataclass
class Runtime:
    config: Config
    metrics: Metrics
    policies: PolicyReconciler
    rightsizings: RightsizingReconciler
    reports: ReportReconciler
    # How many reconciles and finalizations (of every kind together) run at once. Without a
    # bound, as many run as the default thread pool has threads (min(32, CPUs + 4), and a pod
    # sees the node's CPUs), each evaluating its policy over the shared inventory: an operator
    # started with hundreds of objects waiting peaked with the node's size and kept it. Bounded,
    # the others wait as coroutines in arrival order (asyncio.Semaphore is FIFO), so a backlog
    # delays resyncs but never starves them (bench/backlog.py). None: no bound.
    slots: asyncio.Semaphore | None = None
    _locks: dict[str, asyncio.Lock] = field(default_factory=dict)

    def lock(self, uid: str) -> asyncio.Lock:
        """One lock per object, so a timer and a change handler never reconcile it at once."""
        return self._locks.setdefault(uid, asyncio.Lock())

    def forget(self, uid: str) -> None:
        self._locks.pop(uid, None)


def build_runtime(config: Config, metrics: Metrics | None = None) -> Runtime:
    metrics = metrics or Metrics()
    sessions = AwsSessions(
        default_region=config.aws_region,
        endpoint_url=config.aws_endpoint_url,
        max_attempts=config.aws_max_attempts,
        recorder=metrics,
    )
    # One cache for every Cost Explorer question of every kind: one bound, one single-flight.
    spend_cache = SpendCache(config.cost_explorer_min_interval)
    policies = PolicyReconciler(
        sessions,
        spend_cache,
        catalogue=load_catalogue(config.price_catalogue),
        inventory_max_age=config.inventory_max_age,
        config_store=config_store(config),
        always_describe_configs=config.endpoint_configs == "always",
        describe_concurrency=config.describe_concurrency,
        describe_rate=config.describe_rate,
    )
    # One catalogue for both kinds: a price refresh reaches rightsizing too.
    rightsizings = RightsizingReconciler(sessions, lambda: policies.governance.catalogue)
    reports = ReportReconciler(sessions, spend_cache)
    bound = config.max_concurrent_reconciles
    return Runtime(
        config=config,
        metrics=metrics,
        policies=policies,
        rightsizings=rightsizings,
        reports=reports,
        slots=asyncio.Semaphore(bound) if bound else None,
    )


def config_store(config: Config) -> ConfigStore | None:
    """Where described endpoint configs outlive a restart: the operator's ConfigMap in a cluster
    (MLCOST_OPERATOR_NAMESPACE, set by deploy/), else the user's cache directory."""
    if not config.endpoint_config_cache:
        return None
    if config.operator_namespace:
        return ConfigMapStore(config.operator_namespace)
    return FileConfigStore(default_cache_dir())


class StartupError(Exception):
    """A startup step that cannot heal by retrying: the operator exits and says what to do."""


def _port_problem(exc: OSError, port: int, setting: str, what: str) -> StartupError:
    if exc.errno == errno.EADDRINUSE:
        return StartupError(
            f"port {port} ({what}) is in use by another process: stop it, or set {setting} "
            "to a free port (0 turns it off)"
        )
    return StartupError(f"cannot listen on port {port} ({what}): {exc.strerror or exc}: set {setting}")


def check_port_free(port: int, setting: str, what: str, address: str = "0.0.0.0") -> None:
    """Raise StartupError if `port` cannot be listened on, before kopf would find out late."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((address, port))
        except OSError as exc:
            raise _port_problem(exc, port, setting, what) from exc


def start_runtime(config: Config) -> Runtime:
    """The runtime with /metrics served; StartupError for what a restart with the same settings
    cannot fix (an unreadable price file, a port in use), so the process exits at once."""
    try:
        runtime = build_runtime(config)
    except CatalogueFileError as exc:
        raise StartupError(
            f"MLCOST_PRICE_CATALOGUE={config.price_catalogue}: {' '.join(exc.message.split())}; "
            "fix the file or unset "
            "MLCOST_PRICE_CATALOGUE to use the shipped prices"
        ) from exc
    if config.metrics_port:
        try:
            runtime.metrics.serve(config.metrics_port)
        except OSError as exc:
            raise _port_problem(exc, config.metrics_port, "MLCOST_METRICS_PORT", "/metrics") from exc
    return runtime


def refresh_prices(runtime: Runtime) -> str:
    """Replace the catalogue's prices with the Price List API's; keep them when AWS says no."""
    governance = runtime.policies.governance
    sessions = runtime.policies.sessions
    target = sessions.target(None, None)
    override = load_catalogue_file(runtime.config.price_catalogue) if runtime.config.price_catalogue else None
    outcome = refresh_or_keep(
        load_default_catalogue(),
        PricingClient(sessions.client("pricing", target)),
        [target.region],
        override=override,
    )
    governance.catalogue = outcome.catalogue
    return outcome.message
