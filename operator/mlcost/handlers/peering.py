"""Create the kopf peering object(s) that `mlcost run` joins, when they are missing.

kopf's peering needs its object to exist before any replica may act, and kopf never creates it.
Shipping it in deploy/ does not work on a fresh cluster: `kubectl apply -k deploy/` cannot create
a ClusterKopfPeering in the same apply as its CRD ("ensure CRDs are installed first"). So the
operator creates it at startup, before kopf starts, with the kubernetes client (a synchronous
call, once, before the event loop exists). Whatever stops it (no RBAC verb, no CRDs, no API) is
said in one WARNING with what to do; the operator then goes on and kopf stays passive, as it
would without this step.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from typing import Any

from mlcost.config import Config
from mlcost.handlers.kube_client import TIMEOUT, api_client, api_status
from mlcost.logs import summarise

GROUP, VERSION = "kopf.dev", "v1"
CLUSTER_KIND, CLUSTER_PLURAL = "ClusterKopfPeering", "clusterkopfpeerings"
NAMESPACED_KIND, NAMESPACED_PLURAL = "KopfPeering", "kopfpeerings"
CRDS = f"{CLUSTER_PLURAL}.{GROUP}, {NAMESPACED_PLURAL}.{GROUP}"
LABELS = {
    "app.kubernetes.io/name": "mlcost-operator",
    "app.kubernetes.io/managed-by": "mlcost-operator",
}
# On a fresh cluster the pods of `kubectl apply -k deploy/` may start before the API server serves
# the peering CRDs of the same apply (it takes a moment to establish them): wait this long for
# them before saying they are missing.
CRD_WAIT = 10.0
CRD_POLL = 1.0
# kopf also takes globs and negations ("team-*", "!kube-system") as namespaces: only a plain
# name (an RFC 1123 label) is a namespace that a peering object can be created in.
_NAMESPACE_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")

log = logging.getLogger("mlcost.peering")


@dataclass(frozen=True)
class _Problem:
    what: str  # why the object could not be created, for the warning
    todo: str  # what a person does about it
    everywhere: bool = False  # the same for every namespace: stop trying the others
    no_crd: bool = False  # the peering CRDs are not served (yet)


def ensure_peering(config: Config) -> list[str]:
    """Create the peering object(s) `mlcost run` joins with `config` when they do not exist.

    The ClusterKopfPeering named `config.peering` when watching all namespaces, else a
    KopfPeering of that name in each watched namespace. Returns what it created, e.g.
    ``["ClusterKopfPeering 'mlcost'"]``; logs one WARNING for all it could not create; never
    raises for a cluster that refuses (kopf's own start then reports what stays wrong).
    """
    if config.standalone:
        return []
    kind = NAMESPACED_KIND if config.namespaces else CLUSTER_KIND
    targets: list[str | None] = [None]
    patterns: list[str] = []
    if config.namespaces:
        targets = [ns for ns in config.namespaces if _NAMESPACE_NAME.match(ns)]
        patterns = [ns for ns in config.namespaces if not _NAMESPACE_NAME.match(ns)]
    created: list[str] = []
    failed: list[tuple[str | None, _Problem]] = []
    try:
        api = api_client()
    except Exception as exc:  # the kubernetes client's ConfigException, an unreadable file...
        failed.append((None, _no_credentials(exc)))
    else:
        try:
            for namespace in targets:
                outcome = _ensure_waiting_for_crds(api, config.peering, namespace)
                if isinstance(outcome, str):
                    created.append(outcome)
                elif outcome is not None:
                    failed.append((namespace, outcome))
                    if outcome.everywhere:
                        break
        finally:
            api.close()
    for where in created:
        log.info(f"Created the {where}, the peering the replicas of this operator meet in.")
    if failed or patterns:
        log.warning(_warning(f"{kind} {config.peering!r}", failed, patterns))
    return created


def _ensure_waiting_for_crds(api: Any, name: str, namespace: str | None) -> str | _Problem | None:
    outcome = _ensure_one(api, name, namespace)
    deadline = time.monotonic() + CRD_WAIT
    while isinstance(outcome, _Problem) and outcome.no_crd and time.monotonic() < deadline:
        time.sleep(CRD_POLL)
        outcome = _ensure_one(api, name, namespace)
    return outcome


def _ensure_one(api: Any, name: str, namespace: str | None) -> str | _Problem | None:
    """None if the object exists, its description if created, else the problem."""
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    objects = client.CustomObjectsApi(api)
    kind, plural = (NAMESPACED_KIND, NAMESPACED_PLURAL) if namespace else (CLUSTER_KIND, CLUSTER_PLURAL)
    where = f"{kind} {name!r}" + (f" in namespace {namespace}" if namespace else "")
    try:
        # A read first: an existing object needs no `create` verb (a narrower RBAC still works).
        if namespace:
            objects.get_namespaced_custom_object(
                GROUP, VERSION, namespace, plural, name, _request_timeout=TIMEOUT
            )
        else:
            objects.get_cluster_custom_object(GROUP, VERSION, plural, name, _request_timeout=TIMEOUT)
        return None
    except ApiException:
        pass  # missing, or not readable: the create below says which, with its status
    except Exception as exc:  # urllib3's connection errors and timeouts: no answer at all
        return _unreachable(api, exc)
    body: dict[str, Any] = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": kind,
        "metadata": {"name": name, "labels": dict(LABELS)},
    }
    try:
        if namespace:
            body["metadata"]["namespace"] = namespace
            objects.create_namespaced_custom_object(
                GROUP, VERSION, namespace, plural, body, _request_timeout=TIMEOUT
            )
        else:
            objects.create_cluster_custom_object(GROUP, VERSION, plural, body, _request_timeout=TIMEOUT)
    except ApiException as exc:
        return None if exc.status == 409 else _refused(exc, plural, namespace)
    except Exception as exc:
        return _unreachable(api, exc)
    return where


def _refused(exc: Any, plural: str, namespace: str | None) -> _Problem:
    text, details = api_status(exc)
    scope = "in each watched namespace" if namespace else "cluster-wide"
    causes = {str(c.get("type")) for c in details.get("causes") or [] if isinstance(c, dict)}
    if exc.status == 403 and "NamespaceTerminating" in causes:
        # The API server's namespace lifecycle admission: a 403 that no RBAC rule fixes.
        return _Problem("the namespace is being deleted", "leave it out of -n / MLCOST_NAMESPACES")
    if exc.status == 403:
        return _Problem(
            f"not allowed ({text})",
            f"grant the verb `create` on {plural} (group {GROUP}) {scope} to the operator's "
            "service account, as deploy/rbac.yaml does, or create the object yourself",
        )
    if exc.status == 404 and details.get("kind") == "namespaces":
        # Only a missing namespace says so in its details; a missing resource has none.
        return _Problem(
            "the namespace does not exist", "create it, or leave it out of -n / MLCOST_NAMESPACES"
        )
    if exc.status == 404:
        return _Problem(
            f"kopf's peering CRDs ({CRDS}) are not installed",
            "apply deploy/peering.yaml (`kubectl apply -k deploy/` includes it)",
            everywhere=True,
            no_crd=True,
        )
    if exc.status == 422:
        return _Problem(f"the name is refused ({text})", "set MLCOST_PEERING to a DNS name", everywhere=True)
    return _Problem(f"the API server answered {text}", "create the object yourself", everywhere=True)


def _unreachable(api: Any, exc: Exception) -> _Problem:
    host = getattr(getattr(api, "configuration", None), "host", "?")
    error = summarise(f"{type(exc).__name__}: {exc}", 300)
    return _Problem(
        f"the Kubernetes API at {host} did not answer ({error})",
        "check the API server and the network policy of the operator's namespace",
        everywhere=True,
    )


def _no_credentials(exc: Exception) -> _Problem:
    return _Problem(
        f"no Kubernetes credentials: neither a service account nor a kubeconfig ({summarise(str(exc), 300)})",
        "run it in a pod with a service account, or set KUBECONFIG",
        everywhere=True,
    )


def _warning(object_name: str, failed: list[tuple[str | None, _Problem]], patterns: list[str]) -> str:
    """One line for everything that failed: the same problem in several namespaces is said once."""
    by_problem: dict[_Problem, list[str]] = {}
    for namespace, problem in failed:
        by_problem.setdefault(problem, []).append(namespace or "")
    parts = []
    for problem, namespaces in by_problem.items():
        where = f"in {', '.join(namespaces)}: " if any(namespaces) else ""
        parts.append(f"{where}{problem.what}: {problem.todo}")
    if patterns:
        parts.append(
            f"{', '.join(repr(p) for p in patterns)} name no single namespace: create the {object_name} "
            "in each namespace they match"
        )
    return (
        f"Could not create the {object_name} that this operator joins: {'; '.join(parts)}. Until it "
        "exists the operator stays passive and reconciles nothing; once fixed, restart the operator "
        "and it creates the object (or run a single replica with --standalone)."
    )
