"""The operator's endpoint-config cache in ConfigMaps of its own namespace (a ConfigStore).

A restarted pod reads back what the previous one described (mlcost.aws.config_cache), so its
first sweep does not describe every endpoint config again. One ConfigMap per account, region and
AWS endpoint holds the gzipped document in `binaryData`, bounded below the API server's 1 MiB.
It is a cache: whatever the cluster refuses (no RBAC verb, no API server, a conflict) is logged
and the operator goes on, describing again after its next restart. Called from the worker
threads that read inventories, possibly for two accounts at once: one lock per ConfigMap.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import re
import threading
from collections.abc import Mapping
from typing import Any

from mlcost.aws.config_cache import CacheKey, EndpointConfig, UnusableCache, decode, encode
from mlcost.handlers.kube_client import TIMEOUT, api_client, api_status
from mlcost.logs import summarise

log = logging.getLogger("mlcost.config_cache")

DEFAULT_PREFIX = "mlcost-endpoint-configs"
DATA_KEY = "configs.json.gz"
COMPONENT = "endpoint-config-cache"
LABELS = {
    "app.kubernetes.io/name": "mlcost-operator",
    "app.kubernetes.io/managed-by": "mlcost-operator",
    "app.kubernetes.io/component": COMPONENT,
}
# A write that meets another writer (409) reads again and tries once more; a third write in one
# save is a tug of war with another replica: the cache is not worth more.
MAX_WRITES = 3
_NAME_MAX = 253  # a ConfigMap's name is a DNS subdomain (RFC 1123)
_NOT_IN_NAME = re.compile(r"[^a-z0-9-]+")


class ConfigMapStore:
    """Endpoint configs stored in ConfigMaps `<prefix>-<account>-<region>[-<endpoint hash>]`.

    `api` is a kubernetes ApiClient; without one, the store builds its own on first use, found as
    kopf finds its cluster (the pod's service account, else the kubeconfig). Never raises.
    """

    def __init__(self, namespace: str, *, api: Any | None = None, prefix: str = DEFAULT_PREFIX) -> None:
        self.namespace = namespace
        self.prefix = prefix
        self._api = api
        self._own_api = api is None
        self._lock = threading.Lock()  # the shared state below; never held during a request
        self._key_locks: dict[str, threading.Lock] = {}
        # Per ConfigMap name: the document last read or written, and the resourceVersion it had.
        # A save of the same bytes writes nothing: a steady operator makes no request at all.
        self._stored: dict[str, bytes | None] = {}
        self._versions: dict[str, str] = {}
        # The configs that document holds: equal configs are not even encoded again (gzip of
        # 50,000 configs takes seconds; comparing them, milliseconds).
        self._held: dict[str, dict[str, EndpointConfig]] = {}
        # (name, problem) already warned about: a problem is said once, until it goes away.
        self._warned: set[tuple[str, str]] = set()

    def name(self, key: CacheKey) -> str:
        """The ConfigMap's name: readable, and distinct for every account, region and endpoint."""
        readable = f"{self.prefix}-{key.account_id}-{key.region}".lower()
        name = _NOT_IN_NAME.sub("-", readable).strip("-")
        # An embedded or local AWS (endpoint_url) never shares the real account's ConfigMap, nor
        # do two keys that only differ in characters a name cannot hold.
        if key.endpoint_url or name != readable:
            digest = hashlib.sha256(
                "\0".join((key.account_id, key.region, key.endpoint_url or "")).encode()
            ).hexdigest()[:10]
            name = f"{name[: _NAME_MAX - 11].rstrip('-')}-{digest}"
        return name[:_NAME_MAX]

    def close(self) -> None:
        """Close the ApiClient the store built itself (one passed in belongs to its caller)."""
        with self._lock:
            api, self._api = (self._api, None) if self._own_api else (None, self._api)
        if api is not None:
            api.close()

    # ----- ConfigStore -------------------------------------------------------------------------

    def load(self, key: CacheKey) -> dict[str, EndpointConfig]:
        name = self.name(key)
        with self._key_lock(name):
            try:
                data = self._read(name)
            except _NoAnswer:
                return {}
            if data is None:
                return {}
            try:
                configs = decode(key, data)
            except UnusableCache as exc:
                self._warn(
                    name,
                    "unusable",
                    f"Ignored the {self._where(name)}: {exc}; it is rebuilt and replaced by the next save",
                )
                return {}
            self._clear(name, "unusable")
            self._held[name] = dict(configs)
            log.debug("read %d endpoint configs from the %s", len(configs), self._where(name))
            return configs

    def save(self, key: CacheKey, configs: Mapping[str, EndpointConfig]) -> None:
        name = self.name(key)
        with self._key_lock(name):
            if self._held.get(name) == configs:
                return  # what the ConfigMap already holds: no write
            data = encode(key, configs)
            try:
                if name not in self._stored:
                    self._read(name)  # a save before any load: the resourceVersion to replace
                if self._stored.get(name) != data:
                    self._write(name, data, len(configs))
            except _NoAnswer:
                return  # said in a warning; the next save tries again
            if self._stored.get(name) == data:
                self._held[name] = dict(configs)

    # ----- requests ----------------------------------------------------------------------------

    def _read(self, name: str) -> bytes | None:
        """The stored document's bytes, None when there is none or it is unusable (warned); raises
        _NoAnswer when the API refused or did not answer (warned). Remembers what it saw."""
        from kubernetes.client.exceptions import ApiException

        core = self._core()
        try:
            config_map = core.read_namespaced_config_map(name, self.namespace, _request_timeout=TIMEOUT)
        except ApiException as exc:
            if exc.status != 404:
                self._refused(name, exc, "get")
                raise _NoAnswer from None
            self._remember(name, None, None)
            self._clear(name, "unreachable", "refused:get")
            return None
        except Exception as exc:  # urllib3's connection errors and timeouts: no answer at all
            self._unreachable(name, exc)
            raise _NoAnswer from None
        self._clear(name, "unreachable", "refused:get")
        version = str(config_map.metadata.resource_version)
        raw = (config_map.binary_data or {}).get(DATA_KEY)
        if raw is None:
            self._remember(name, None, version)
            self._warn(
                name,
                "unusable",
                f"Ignored the {self._where(name)}: it has no binaryData "
                f"{DATA_KEY!r}; it is rebuilt and replaced by the next save",
            )
            return None
        try:
            data = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError, TypeError) as exc:
            self._remember(name, None, version)
            self._warn(
                name,
                "unusable",
                f"Ignored the {self._where(name)}: binaryData {DATA_KEY!r} is "
                f"not base64 ({exc}); it is rebuilt and replaced by the next save",
            )
            return None
        self._remember(name, data, version)
        return data

    def _write(self, name: str, data: bytes, count: int) -> None:
        from kubernetes.client.exceptions import ApiException

        core = self._core()
        for _ in range(MAX_WRITES):
            with self._lock:
                version = self._versions.get(name)
            body = self._body(name, data, version)
            verb = "create" if version is None else "update"
            try:
                if version is None:
                    written = core.create_namespaced_config_map(
                        self.namespace, body, _request_timeout=TIMEOUT
                    )
                else:
                    written = core.replace_namespaced_config_map(
                        name, self.namespace, body, _request_timeout=TIMEOUT
                    )
            except ApiException as exc:
                # 409: another replica created or changed it since it was read; 404 on a replace:
                # someone deleted it (clearing the cache). Read what is there now, write over it.
                if exc.status == 409 or (exc.status == 404 and verb == "update"):
                    self._read(name)
                    if self._stored.get(name) == data:
                        return  # the other writer stored the same document
                    continue
                self._refused(name, exc, verb)
                return
            except Exception as exc:
                self._unreachable(name, exc)
                return
            self._remember(name, data, str(written.metadata.resource_version))
            self._clear(name, "unreachable", f"refused:{verb}")
            log.debug("wrote %d endpoint configs (%d bytes) to the %s", count, len(data), self._where(name))
            return
        log.warning(
            f"Gave up writing the {self._where(name)}: another writer changed it {MAX_WRITES} times "
            "meanwhile (two operators in one namespace?); the next save tries again."
        )

    def _body(self, name: str, data: bytes, version: str | None) -> dict[str, Any]:
        metadata: dict[str, Any] = {"name": name, "namespace": self.namespace, "labels": dict(LABELS)}
        if version is not None:
            # The version read: a replace over a newer write answers 409 instead of losing it.
            metadata["resourceVersion"] = version
        return {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": metadata,
            # The API takes bytes in binaryData as base64 text.
            "binaryData": {DATA_KEY: base64.b64encode(data).decode("ascii")},
        }

    def _core(self) -> Any:
        from kubernetes import client

        with self._lock:
            if self._api is None:
                try:
                    self._api = api_client()
                except Exception as exc:  # the client's ConfigException, an unreadable file...
                    warned = ("", "credentials") in self._warned
                    self._warned.add(("", "credentials"))
                    if not warned:
                        log.warning(
                            "The endpoint-config cache is off: no Kubernetes credentials, neither a "
                            f"service account nor a kubeconfig ({summarise(str(exc), 300)}); every "
                            "restart describes the endpoint configs again."
                        )
                    raise _NoAnswer from None
            return client.CoreV1Api(self._api)

    # ----- what is said ------------------------------------------------------------------------

    def _where(self, name: str) -> str:
        return f"endpoint-config cache in ConfigMap {self.namespace}/{name}"

    def _refused(self, name: str, exc: Any, verb: str) -> None:
        text, details = api_status(exc)
        if exc.status == 403:
            todo = (
                f"grant the verb `{verb}` on configmaps in namespace {self.namespace} to the operator's "
                "service account, as deploy/rbac.yaml does"
            )
        elif exc.status == 404 and details.get("kind") == "namespaces":
            todo = f"create the namespace {self.namespace}, or run the operator in its own namespace"
        else:
            todo = "see the API server's answer"
        self._warn(
            name,
            f"refused:{verb}",
            f"Could not {verb} the {self._where(name)} ({text}): {todo}. The operator works without "
            "it, but each restart describes the endpoint configs again.",
        )

    def _unreachable(self, name: str, exc: Exception) -> None:
        host = getattr(getattr(self._api, "configuration", None), "host", "?")
        self._warn(
            name,
            "unreachable",
            f"Could not reach the Kubernetes API at {host} for the {self._where(name)} "
            f"({summarise(f'{type(exc).__name__}: {exc}', 300)}); the next save tries again.",
        )

    def _warn(self, name: str, problem: str, message: str) -> None:
        with self._lock:
            if (name, problem) in self._warned:
                return
            self._warned.add((name, problem))
        log.warning(message)

    def _clear(self, name: str, *problems: str) -> None:
        with self._lock:
            self._warned.difference_update((name, problem) for problem in problems)

    # ----- state -------------------------------------------------------------------------------

    def _key_lock(self, name: str) -> threading.Lock:
        with self._lock:
            return self._key_locks.setdefault(name, threading.Lock())

    def _remember(self, name: str, data: bytes | None, version: str | None) -> None:
        with self._lock:
            if self._stored.get(name) != data or data is None:
                self._held.pop(name, None)
            self._stored[name] = data
            if version is None:
                self._versions.pop(name, None)
            else:
                self._versions[name] = version


class _NoAnswer(Exception):
    """The API refused or did not answer (already warned): leave the cache as it is."""
