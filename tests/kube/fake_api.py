"""A fake Kubernetes API server for running the real kopf operator in tests.

Built on kmock's ``KubernetesEmulator`` (kmock 0.8, by the author of kopf), which already
serves API discovery, CRUD, merge and JSON patches, finalizers and watch streams. The
emulator is a loose in-memory dict store, and kopf relies on more of a real API server than
that. ``StrictKubernetesEmulator`` below replaces the emulator's write path (create, patch,
put, delete) and its list/watch serving, and keeps kmock's discovery, routing, request log
and object history (``emulator.objects[...]``) for assertions. What it adds, and why:

* ``metadata.resourceVersion`` from one monotonic counter for all objects (like etcd), plus
  ``uid`` and ``creationTimestamp`` on create. kopf's finalizer JSON patches start with
  ``{"op": "test", "path": "/metadata/resourceVersion"}`` (optimistic concurrency), and kopf
  waits for the resourceVersion its patch returned to show up in the watch stream before it
  trusts newer events (``settings.persistence.consistency_timeout``): without versions that
  test is vacuous and the consistency wait meaningless.
* ``metadata.generation``: 1 on create, +1 whenever anything outside ``metadata`` and
  ``status`` changes (i.e. ``spec``), never on status, label, annotation or finalizer changes;
  +1 when deletion of an object with finalizers begins (this is what kube-apiserver does).
  Needed for ``status.observedGeneration`` and ``kubectl wait``-style readiness.
* A failed JSON-patch ``test`` answers **422 Invalid** (kmock: 500). kopf treats 422 as "a
  newer version exists, retry on the next event"; a 500 would be retried as a server error.
  A merge patch or PUT carrying a stale ``metadata.resourceVersion`` answers 409 Conflict,
  and a PUT of a custom resource without one answers 422, as on a real server.
* The ``status`` subresource is kept separate for resources that declare it (our CRDs): a
  write to ``.../status`` changes only ``status``; a write to the main resource keeps the old
  ``status``; ``status`` in a create body is dropped. kopf discovers ``<plural>/status`` and
  then patches status through it, exactly as against a real cluster.
* PUT (replace), which kmock does not route at all.
* No-op writes change nothing: no new resourceVersion, no watch event (like a real server).
* Deletion: DELETE of an object with finalizers sets ``deletionTimestamp``; once it is set
  and the finalizers are empty the object is removed (MODIFIED, then DELETED on the watch).
  New finalizers cannot be added to an object that is being deleted (422).
* Watches honour ``resourceVersion`` (replay of the changes after that version from an event
  log), ``timeoutSeconds``, ``sendInitialEvents`` (initial ADDED events + BOOKMARK), and are
  registered atomically with the initial snapshot, so no event between a LIST and the
  following WATCH is lost (kmock's stock watch re-sends everything and may drop events).
* Lists carry the current resourceVersion and a proper ``<Kind>List`` kind.
* Core namespace URLs: kmock 0.8 parses ``/api/v1/namespaces`` as the namespaced-URL prefix
  (the collection answers 500, ``.../namespaces/x`` loses its name), which breaks kopf in
  ``--namespace`` mode. ``_parse_path`` fixes exactly these URLs; it is installed into
  kmock's parser module at import (process-wide) and delegates every other URL to kmock.
* ``generateName`` on create (kopf posts Events with ``generateName``; kmock keys objects by
  name and would collide them), and Kubernetes-style error bodies (reason ``NotFound``,
  ``AlreadyExists``, ``Conflict``, ``Invalid``...).
* Resources come from CRD manifests: the project's CRDs are declared by default (the real
  files in ``crds/``, also served as CRD objects) and creating a CRD through the API declares
  its resource, as on a real server. Every CRD, the default ones included, first goes through
  the API server's own checks (``tests/kube/apiextensions.py``): one that a real server would
  refuse is refused here too, 422 Invalid with the server's message (e.g. ``...properties[
  metadata]: Forbidden: must not specify anything other than name and generateName...``).
* Structural schemas act as on a real server: on every create and write (patch or PUT, of the
  main resource and of ``/status``) the object is defaulted from the schema's ``default``s and
  pruned of every field the schema does not specify (honouring
  ``x-kubernetes-preserve-unknown-fields`` and ``x-kubernetes-embedded-resource``; unknown
  ``metadata`` fields are dropped as ObjectMeta decoding drops them). So a status field that an
  operator writes but the CRD lacks vanishes, exactly as on a cluster, and a test that reads it
  back fails (``FakeKubeAPI.pruned()`` lists what was dropped). ``?fieldValidation=Strict``
  (kubectl's default) refuses such a write with 422 instead. A CRD update is checked and its
  new schema applies from then on.
* ``v1/namespaces``, ``v1/events`` and ``apiextensions.k8s.io/v1/customresourcedefinitions``
  are declared because kopf waits forever for them otherwise; ``v1/configmaps`` for the
  operator's endpoint-config cache, refused as kube-apiserver refuses them (``admit_config_map``:
  binaryData must be base64, keys ``[-._a-zA-Z0-9]+``, no key in both data and binaryData, at
  most 1 MiB of values, immutable ones stay so), and request bodies up to its 3 MiB.

Deliberate leniencies (do not rely on them in operator code): no validation of custom
resources against their schema or CEL rules (the CRD tests in tests/unit do that), no admission, no
RBAC, no label/field selectors, no cascading deletion (owner references, namespaces), a
namespace is created on the fly when an object is first created in it, and a
strategic-merge patch is applied as a JSON merge patch.

``FakeKubeAPI`` runs the emulator behind a real HTTP server on 127.0.0.1 (a free port) in its
own thread and event loop, so that the operator (kopf in ``KopfRunner``'s thread) and the
test (pytest-asyncio's loop) can both block without starving the server. Its small Python
API for tests writes through HTTP (the same code path as the operator's requests) and reads
state directly from the emulator::

    async with FakeKubeAPI() as kube:
        kube.create({"apiVersion": "mlcost.io/v1alpha1", "kind": "MLCostPolicy",
                     "metadata": {"name": "team-a", "namespace": "ml"}, "spec": {}})
        obj = await kube.wait_for("mlcostpolicies", "ml", "team-a",
                                  lambda o: o is not None and "status" in o)
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import concurrent.futures
import copy
import dataclasses
import datetime
import json
import re
import secrets
import string
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import aiohttp.test_utils
import attrs
import jsonpatch
import jsonpointer
import kmock
import kmock._internal.parsing as kmock_parsing
import yaml
from kmock import Response as KmockResponse  # type: ignore[attr-defined]  # not in __all__

from tests.kube import apiextensions

JSON = dict[str, Any]
T = TypeVar("T")

GROUP = "mlcost.io"
VERSION = "v1alpha1"
CRD_RESOURCE = kmock.resource("apiextensions.k8s.io", "v1", "customresourcedefinitions")
NAMESPACES = kmock.resource("", "v1", "namespaces")
EVENTS = kmock.resource("", "v1", "events")
CONFIGMAPS = kmock.resource("", "v1", "configmaps")
ALL_VERBS = frozenset({"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"})
MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
CALL_TIMEOUT = 10.0  # seconds for one call into the server thread
# kube-apiserver reads request bodies up to 3 MiB (genericapiserver's MaxRequestBodyBytes);
# aiohttp's own default (1 MiB) would refuse a ConfigMap near its 1 MiB limit, as base64 text.
MAX_REQUEST_BODY = 3 * 1024 * 1024
# A ConfigMap's data and binaryData values total at most 1 MiB (core.MaxSecretSize).
CONFIG_MAP_MAX_BYTES = 1024 * 1024


@dataclasses.dataclass(frozen=True)
class ResourceSpec:
    """One served resource (group/version/plural) and what the fake needs to know about it."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    singular: str = ""
    shortnames: frozenset[str] = frozenset()
    subresources: frozenset[str] = frozenset()
    tracks_generation: bool = True  # custom resources have metadata.generation; events do not
    custom: bool = False  # defined by a CRD (PUT then requires metadata.resourceVersion)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def resource(self) -> kmock.resource:
        return kmock.resource(self.group, self.version, self.plural)

    def url(self, namespace: str | None = None, name: str | None = None, sub: str = "") -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        path = f"{base}/namespaces/{namespace}/{self.plural}" if namespace else f"{base}/{self.plural}"
        path = f"{path}/{name}" if name else path
        return f"{path}/{sub}" if sub else path


BUILTIN_RESOURCES: tuple[ResourceSpec, ...] = (
    ResourceSpec(
        "",
        "v1",
        "namespaces",
        "Namespace",
        namespaced=False,
        singular="namespace",
        shortnames=frozenset({"ns"}),
        subresources=frozenset({"status"}),
        tracks_generation=False,
    ),
    ResourceSpec(
        "",
        "v1",
        "events",
        "Event",
        namespaced=True,
        singular="event",
        shortnames=frozenset({"ev"}),
        tracks_generation=False,
    ),
    ResourceSpec(
        "",
        "v1",
        "configmaps",
        "ConfigMap",
        namespaced=True,
        singular="configmap",
        shortnames=frozenset({"cm"}),
        tracks_generation=False,
    ),
    ResourceSpec(
        "apiextensions.k8s.io",
        "v1",
        "customresourcedefinitions",
        "CustomResourceDefinition",
        namespaced=False,
        singular="customresourcedefinition",
        shortnames=frozenset({"crd", "crds"}),
        subresources=frozenset({"status"}),
    ),
)


def crd_manifest(
    *,
    group: str,
    version: str,
    kind: str,
    plural: str,
    shortnames: Iterable[str] = (),
    namespaced: bool = True,
    status_subresource: bool = True,
) -> JSON:
    """A minimal apiextensions.k8s.io/v1 CRD (schema: preserve unknown fields)."""
    served: JSON = {
        "name": version,
        "served": True,
        "storage": True,
        "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
    }
    if status_subresource:
        served["subresources"] = {"status": {}}
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced" if namespaced else "Cluster",
            "names": {
                "kind": kind,
                "plural": plural,
                "singular": kind.lower(),
                "shortNames": sorted(shortnames),
                "listKind": f"{kind}List",
            },
            "versions": [served],
        },
    }


CRDS_DIR = Path(__file__).resolve().parents[2] / "crds"


def project_crds() -> tuple[JSON, ...]:
    """The project's CRDs exactly as shipped (crds/*.yaml, the kustomization aside)."""
    crds: list[JSON] = []
    for path in sorted(CRDS_DIR.glob("*.yaml")):
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        if isinstance(document, dict) and document.get("kind") == "CustomResourceDefinition":
            crds.append(document)
    return tuple(crds)


PROJECT_CRDS: tuple[JSON, ...] = project_crds()


def specs_from_crd(crd: Mapping[str, Any]) -> list[ResourceSpec]:
    """The resources that a CRD manifest serves (one per served version)."""
    spec = crd["spec"]
    names = spec["names"]
    return [
        ResourceSpec(
            group=spec["group"],
            version=ver["name"],
            plural=names["plural"],
            kind=names["kind"],
            namespaced=spec.get("scope", "Namespaced") == "Namespaced",
            singular=names.get("singular") or names["kind"].lower(),
            shortnames=frozenset(names.get("shortNames") or ()),
            subresources=frozenset(ver.get("subresources") or ()),
            custom=True,
        )
        for ver in spec.get("versions", [])
        if ver.get("served", True)
    ]


class KubeAPIError(Exception):
    """A non-2xx answer of the fake API to a test's own request."""

    def __init__(self, status: int, body: Any) -> None:
        reason = body.get("reason") if isinstance(body, dict) else None
        message = body.get("message") if isinstance(body, dict) else body
        super().__init__(f"HTTP {status} {reason}: {message}")
        self.status = status
        self.body = body


@dataclasses.dataclass(frozen=True)
class RecordedRequest:
    """A light, thread-safe record of one request that reached the fake API."""

    method: str
    action: str | None  # LIST, WATCH, FETCH, CREATE, UPDATE, DELETE, or None
    group: str | None
    version: str | None
    plural: str | None
    namespace: str | None
    name: str | None
    subresource: str | None
    params: Mapping[str, str]
    path: str
    content_type: str
    body: str


@dataclasses.dataclass(eq=False)
class _Watcher:
    resource: kmock.resource
    namespace: str | None
    name: str | None
    queue: asyncio.Queue[JSON | None]

    def wants(self, resource: kmock.resource, namespace: str | None, name: str) -> bool:
        return (
            resource == self.resource
            and (self.namespace is None or self.namespace == namespace)
            and (self.name is None or self.name == name)
        )


def _parse_path(path: str) -> kmock_parsing.ParsedPath:
    """kmock's URL parser, fixed for core namespaces (kmock 0.8 reads ``/api/v1/namespaces``
    as a namespaced URL prefix: the collection crashes it, ``.../namespaces/x`` loses the name).
    """
    parts = path.strip("/").split("/")
    if parts[:3] == ["api", "v1", "namespaces"] and (
        len(parts) <= 4 or (len(parts) == 5 and parts[4] in ("status", "finalize"))
    ):
        return kmock_parsing.ParsedPath(
            group="",
            version="v1",
            plural="namespaces",
            name=parts[3] if len(parts) > 3 else None,
            subresource=parts[4] if len(parts) > 4 else None,
        )
    return _kmock_parse_path(path)


# Installed once, process-wide: kmock's request parser calls ``parsing.parse_path`` by module
# attribute; every other URL still goes to kmock's own function.
_kmock_parse_path = getattr(kmock_parsing.parse_path, "__wrapped__", kmock_parsing.parse_path)
_parse_path.__wrapped__ = _kmock_parse_path  # type: ignore[attr-defined]
kmock_parsing.parse_path = _parse_path


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _error(status: int, reason: str, message: str, **details: Any) -> kmock.KubernetesError:
    return kmock.KubernetesError(
        status=status, reason=reason, message=message, details=details or {"causes": []}
    )


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch: dicts merge recursively, null removes, the rest replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _essence(obj: Mapping[str, Any]) -> JSON:
    """What a real API server compares to decide on a new generation."""
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}


_CONFIG_MAP_KEY = re.compile(r"[-._a-zA-Z0-9]+")
_CONFIG_MAP_KEY_MESSAGE = (
    "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  "
    "or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"
)


def _config_map_key_errors(path: str, key: str) -> list[apiextensions.FieldError]:
    """apimachinery's IsConfigMapKey: at most 253 bytes, [-._a-zA-Z0-9]+, not '.', '..' or '..*'."""
    details = []
    if len(key.encode()) > 253:
        details.append("must be no more than 253 characters")
    if not _CONFIG_MAP_KEY.fullmatch(key):
        details.append(_CONFIG_MAP_KEY_MESSAGE)
    if key in (".", ".."):
        details.append(f"must not be '{key}'")
    elif key.startswith(".."):
        details.append("must not start with '..'")
    return [apiextensions.invalid(f"{path}[{key}]", key, detail) for detail in details]


def admit_config_map(obj: JSON, old: JSON | None) -> None:
    """Refuse a ConfigMap as kube-apiserver does (core validation's ValidateConfigMap and
    ValidateConfigMapUpdate). What JSON decoding refuses comes first, as 400 BadRequest; then the
    name (a DNS subdomain), the keys, a key in both data and binaryData, more than 1 MiB of values
    in total, and a change to an immutable ConfigMap, all in one 422 Invalid."""
    bags, size = _config_map_values(obj)
    meta = obj.get("metadata") or {}
    name = str(meta.get("name", ""))
    errors: list[apiextensions.FieldError] = []
    if len(name) > 253 or not apiextensions._DNS1123_SUBDOMAIN.match(name):
        errors.append(apiextensions.invalid("metadata.name", name, apiextensions.DNS1123_SUBDOMAIN_MESSAGE))
    for key in bags["data"]:
        errors += _config_map_key_errors("data", key)
        if key in bags["binaryData"]:
            errors.append(
                apiextensions.invalid(f"data[{key}]", key, "duplicate of key present in binaryData")
            )
    for key in bags["binaryData"]:
        errors += _config_map_key_errors("binaryData", key)
    if size > CONFIG_MAP_MAX_BYTES:
        # field.TooLong on the empty path, the whole object, in the wording of recent servers
        # (older ones say "must have at most 1048576 bytes").
        errors.append(
            apiextensions.FieldError("[]", "Too long", f"may not be more than {CONFIG_MAP_MAX_BYTES} bytes")
        )
    if old is not None and old.get("immutable") is True:
        if obj.get("immutable") is not True:
            errors.append(apiextensions.forbidden("immutable", "field is immutable when `immutable` is set"))
        errors += [
            apiextensions.forbidden(field, "field is immutable when `immutable` is set")
            for field in ("data", "binaryData")
            if (obj.get(field) or {}) != (old.get(field) or {})
        ]
    if errors:
        status = apiextensions.invalid_status("ConfigMap", name, errors)
        for cause in status["details"]["causes"]:
            if cause["message"].startswith("Too long"):
                cause["reason"] = "FieldValueTooLong"
        raise _error(422, "Invalid", status["message"], **status["details"])


# apimachinery's IsQualifiedName: an optional DNS-subdomain prefix and "/", then a name of at most
# 63 characters, alphanumeric at both ends, with '-', '_' or '.' between.
_QUALIFIED_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_QUALIFIED_NAME_MESSAGE = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with "
    "an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation "
    "is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
# metav1.MicroTime decodes with time.RFC3339Micro: exactly six fraction digits; metav1.Time with
# time.RFC3339, which takes a fraction of any length on parsing.
_MICRO_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}(Z|[+-]\d{2}:\d{2})")
_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")


def _list_key(obj: JSON) -> tuple[str, str]:
    meta = obj["metadata"]
    return (meta.get("namespace") or "", meta["name"])


def admit_event(obj: JSON) -> None:
    """Refuse a core/v1 Event as kube-apiserver does on create (pkg/apis/core/validation/events.go
    legacyValidateEvent, request version v1): timestamps that do not decode are 400 BadRequest; an
    Event with an eventTime needs reportingComponent (a qualified name), reportingInstance and
    action (at most 128 characters each), a reason (128) and a message of at most 1024; one
    without must be in its object's namespace."""
    cannot = 'Event in version "v1" cannot be handled as a Event: '
    if obj.get("eventTime") and not _MICRO_TIME.fullmatch(str(obj["eventTime"])):
        raise _error(400, "BadRequest", f'{cannot}parsing time "{obj["eventTime"]}" as RFC3339Micro')
    for field in ("firstTimestamp", "lastTimestamp"):
        if obj.get(field) and not _TIME.fullmatch(str(obj[field])):
            raise _error(400, "BadRequest", f'{cannot}parsing time "{obj[field]}" as RFC3339')
    errors = _event_namespace_errors(obj)
    if obj.get("eventTime"):
        errors += _new_event_errors(obj)
    if errors:
        name = str((obj.get("metadata") or {}).get("name", ""))
        status = apiextensions.invalid_status("Event", name, errors)
        raise _error(422, "Invalid", status["message"], **status["details"])


def _event_namespace_errors(obj: JSON) -> list[apiextensions.FieldError]:
    namespace = str((obj.get("metadata") or {}).get("namespace") or "")
    involved = str((obj.get("involvedObject") or {}).get("namespace") or "")
    if obj.get("eventTime"):
        wrong = not involved and namespace not in ("default", "kube-system")
    else:
        wrong = namespace != involved if involved else namespace not in ("", "default")
    detail = "does not match event.namespace"
    return [apiextensions.invalid("involvedObject.namespace", involved, detail)] if wrong else []


def _new_event_errors(obj: JSON) -> list[apiextensions.FieldError]:
    errors: list[apiextensions.FieldError] = []
    component = str(obj.get("reportingComponent") or "")
    name = component.rsplit("/", 1)[-1]
    if not component:
        errors.append(apiextensions.required("reportingComponent"))
    elif len(name) > 63 or not _QUALIFIED_NAME.fullmatch(name):
        errors.append(apiextensions.invalid("reportingComponent", component, _QUALIFIED_NAME_MESSAGE))
    for field, limit in (("reportingInstance", 128), ("action", 128), ("reason", 128)):
        value = str(obj.get(field) or "")
        if not value:
            errors.append(apiextensions.required(field))
        elif len(value) > limit:
            errors.append(apiextensions.invalid(field, "", f"can have at most {limit} characters"))
    if len(str(obj.get("message") or "")) > 1024:
        errors.append(apiextensions.invalid("message", "", "can have at most 1024 characters"))
    return errors


def _config_map_values(obj: JSON) -> tuple[dict[str, dict[str, Any]], int]:
    """data and binaryData, and the bytes of their values; 400 for what JSON decoding refuses: a
    value that is not a string, binaryData that is not base64 ([]byte in Go: encoding/json's
    base64.StdEncoding, padded, which skips CR and LF)."""
    cannot = 'ConfigMap in version "v1" cannot be handled as a ConfigMap: '
    bags: dict[str, dict[str, Any]] = {}
    for field in ("data", "binaryData"):
        bag = obj.get(field)
        if bag is not None and not isinstance(bag, dict):
            raise _error(400, "BadRequest", f"{cannot}{field} must be an object")
        bags[field] = bag or {}
        for key, value in bags[field].items():
            if not isinstance(value, str):
                raise _error(400, "BadRequest", f"{cannot}{field}[{key}] must be a string")
    size = sum(len(value.encode()) for value in bags["data"].values())
    for value in bags["binaryData"].values():
        try:
            size += len(base64.b64decode(value.replace("\r", "").replace("\n", ""), validate=True))
        except (binascii.Error, ValueError):
            raise _error(400, "BadRequest", f"{cannot}illegal base64 data in binaryData") from None
    return bags, size


@attrs.define(kw_only=True)
class StrictKubernetesEmulator(kmock.KubernetesEmulator):
    """kmock's emulator with the server-side semantics kopf relies on (see module docstring).

    All state changes are synchronous code in the server's event loop, hence atomic.
    """

    _specs: dict[kmock.resource, ResourceSpec] = attrs.field(factory=dict, init=False)
    _rv: int = attrs.field(default=0, init=False)
    _log: list[tuple[int, kmock.resource, JSON]] = attrs.field(factory=list, init=False)
    _watchers: list[_Watcher] = attrs.field(factory=list, init=False)
    _results: dict[int, JSON] = attrs.field(factory=dict, init=False)
    _records: list[RecordedRequest] = attrs.field(factory=list, init=False)
    # openAPIV3Schema of each custom resource whose CRD has a structural one (prunes and defaults)
    _schemas: dict[kmock.resource, Mapping[str, Any]] = attrs.field(factory=dict, init=False)
    _strict: bool = attrs.field(default=False, init=False)  # the current write asked fieldValidation=Strict
    # (resource plural, namespace, name, dropped field paths) of every write the schema pruned
    _pruned: list[tuple[str, str | None, str, tuple[str, ...]]] = attrs.field(factory=list, init=False)

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        self.fallback[kmock.method.PUT] << self._serve_put
        for spec in BUILTIN_RESOURCES:
            self.declare(spec)

    # ----- declarations --------------------------------------------------------------------

    def declare(self, spec: ResourceSpec) -> None:
        """Serve a resource: discovery (incl. ``plural/status``) and CRUD/watch."""
        self._specs[spec.resource] = spec
        self.resources[spec.resource] = kmock.ResourceInfo(
            namespaced=spec.namespaced,
            kind=spec.kind,
            singular=spec.singular or spec.kind.lower(),
            verbs=set(ALL_VERBS),
            shortnames=set(spec.shortnames),
            subresources=set(spec.subresources),
        )

    def add_crd(self, crd: Mapping[str, Any]) -> None:
        """Store a CRD object and declare its resources (as if created through the API)."""
        self._create(CRD_RESOURCE, None, copy.deepcopy(dict(crd)))

    @property
    def specs(self) -> list[ResourceSpec]:
        return list(self._specs.values())

    @property
    def records(self) -> list[RecordedRequest]:
        return list(self._records)

    def _spec(self, resource: kmock.resource | None) -> ResourceSpec:
        spec = self._specs.get(resource) if resource is not None else None
        if spec is None:
            raise _error(404, "NotFound", "the server could not find the requested resource")
        return spec

    # ----- reading (used by the test API too; call only in the server's loop) ---------------

    def snapshot(self, resource: kmock.resource, namespace: str | None, name: str) -> JSON | None:
        key = (resource, namespace, name)
        if key not in self.objects:
            return None
        obj = self.objects[key]
        return None if obj.deleted else copy.deepcopy(obj.raw)

    def snapshots(self, resource: kmock.resource, namespace: str | None = None) -> list[JSON]:
        return [
            copy.deepcopy(obj.raw)
            for (res, ns, _), obj in self.objects.items()
            if res == resource and (namespace is None or ns == namespace) and not obj.deleted
        ]

    # ----- request handling ----------------------------------------------------------------

    async def _handle(self, request: kmock.Request) -> aiohttp.web.StreamResponse:
        res = request.resource
        self._records.append(
            RecordedRequest(
                method=str(request.method.value),
                action=request.action.value if request.action else None,
                group=res.group if res else None,
                version=res.version if res else None,
                plural=res.plural if res else None,
                namespace=request.namespace,
                name=request.name,
                subresource=request.subresource,
                params=dict(request.params),
                path=request.url.path,
                content_type=request.headers.get("Content-Type", ""),
                body=request.text,
            )
        )
        try:
            if res is not None:
                result = self._mutate(request)
                if result is not None:
                    self._results[id(request)] = result
            # Skip KubernetesEmulator._handle (its own, looser state changes); route only.
            return await kmock.RawHandler._handle(self, request)
        finally:
            self._results.pop(id(request), None)

    def _mutate(self, request: kmock.Request) -> JSON | None:
        method = request.method
        # kubectl sends Strict; kopf and most clients send nothing, which is Warn on a real
        # server: unknown fields are pruned (with a warning header, which the fake omits).
        self._strict = request.params.get("fieldValidation") == "Strict"
        if method == kmock.method.POST and request.name is None:
            return self._create(request.resource, request.namespace, self._body(request, dict))
        if method in (kmock.method.PATCH, kmock.method.PUT, kmock.method.DELETE):
            if request.name is None:
                raise _error(405, "MethodNotAllowed", f"{method.value} on a collection")
            spec = self._spec(request.resource)
            if request.subresource not in (None, *spec.subresources):
                raise _error(404, "NotFound", f"no subresource {request.subresource!r}")
            if method == kmock.method.PATCH:
                return self._patch(request, spec)
            if method == kmock.method.PUT:
                return self._put(request, spec)
            return self._delete(request, spec)
        return None

    @staticmethod
    def _body(request: kmock.Request, kind: type[T]) -> T:
        try:
            data = json.loads(request.text)
        except ValueError as e:
            raise _error(400, "BadRequest", f"invalid JSON body: {e}") from None
        if not isinstance(data, kind):
            raise _error(400, "BadRequest", f"the body must be a JSON {kind.__name__}")
        return data

    # ----- writes --------------------------------------------------------------------------

    def _next_rv(self) -> str:
        self._rv += 1
        return str(self._rv)

    def _emit(self, resource: kmock.resource, type_: str, obj: JSON) -> None:
        meta = obj.get("metadata", {})
        event = {"type": type_, "object": copy.deepcopy(obj)}
        self._log.append((int(meta["resourceVersion"]), resource, event))
        for watcher in self._watchers:
            if watcher.wants(resource, meta.get("namespace"), meta.get("name", "")):
                watcher.queue.put_nowait(copy.deepcopy(event))

    def _store(self, resource: kmock.resource, obj: JSON) -> None:
        meta = obj["metadata"]
        key = (resource, meta.get("namespace"), meta["name"])
        if key in self.objects:
            self.objects[key].history.append(copy.deepcopy(obj))
        else:
            self.objects[key] = copy.deepcopy(obj)

    def _create(self, resource: kmock.resource | None, namespace: str | None, body: JSON) -> JSON:
        spec = self._spec(resource)
        obj = copy.deepcopy(body)
        meta = obj.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise _error(400, "BadRequest", "metadata must be an object")
        name, namespace = self._identify(spec, namespace, meta)
        key = (spec.resource, namespace, name)
        if key in self.objects and not self.objects[key].deleted:
            raise _error(
                409,
                "AlreadyExists",
                f'{spec.plural}.{spec.group} "{name}" already exists',
                name=name,
                group=spec.group,
                kind=spec.plural,
            )
        obj["apiVersion"] = spec.api_version
        obj["kind"] = spec.kind
        for field in ("deletionTimestamp", "deletionGracePeriodSeconds", "generation"):
            meta.pop(field, None)
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = _now()
        if spec.tracks_generation:
            meta["generation"] = 1
        if "status" in spec.subresources:
            obj.pop("status", None)
        if spec.resource == NAMESPACES:
            obj["status"] = {"phase": "Active"}
        if spec.resource == CRD_RESOURCE:
            self._admit_crd(obj)
        if spec.resource == CONFIGMAPS:
            admit_config_map(obj, None)
        if spec.resource == EVENTS:
            admit_event(obj)
        self._apply_schema(spec, obj)
        meta["resourceVersion"] = self._next_rv()
        self._store(spec.resource, obj)
        self._emit(spec.resource, "ADDED", obj)
        if spec.resource == CRD_RESOURCE:
            self._declare_crd(obj)
        return obj

    def _declare_crd(self, crd: JSON) -> None:
        """Serve the resources of a stored CRD, with its structural schemas."""
        for crd_spec in specs_from_crd(crd):
            self.declare(crd_spec)
            schema = apiextensions.structural_schema_of(crd, crd_spec.version)
            if schema is not None:
                self._schemas[crd_spec.resource] = copy.deepcopy(schema)
            else:
                self._schemas.pop(crd_spec.resource, None)

    @staticmethod
    def _admit_crd(crd: JSON) -> None:
        """Default, then refuse a CRD that a real API server refuses, with its 422 and its message."""
        apiextensions.default_crd(crd)
        errors = apiextensions.validate_crd(crd)
        if errors:
            name = str((crd.get("metadata") or {}).get("name", ""))
            status = apiextensions.invalid_status(apiextensions.CRD_KIND, name, errors)
            raise _error(422, "Invalid", status["message"], **status["details"])

    def _apply_schema(self, spec: ResourceSpec, obj: JSON) -> None:
        """Default, then prune, as the API server does with a structural schema on every write."""
        schema = self._schemas.get(spec.resource)
        if schema is None:
            return
        apiextensions.apply_defaults(obj, schema)
        dropped = apiextensions.prune(obj, schema)
        if dropped and self._strict:
            unknown = ", ".join(f'unknown field "{path}"' for path in dropped)
            raise _error(422, "Invalid", f"strict decoding error: {unknown}")
        if dropped:
            meta = obj.get("metadata") or {}
            self._pruned.append((spec.plural, meta.get("namespace"), meta.get("name", ""), tuple(dropped)))
        # Then the value validation against the schema (kube-openapi's validator), all in one 422.
        properties = schema.get("properties") or {}
        errors = [
            error
            for key, value in obj.items()
            if key not in ("apiVersion", "kind", "metadata") and key in properties
            for error in apiextensions.validate_value(value, properties[key], key)
        ]
        if errors:
            name = str((obj.get("metadata") or {}).get("name", ""))
            status = apiextensions.invalid_status(f"{spec.kind}.{spec.group}", name, errors)
            raise _error(422, "Invalid", status["message"], **status["details"])

    @property
    def pruned(self) -> list[tuple[str, str | None, str, tuple[str, ...]]]:
        return list(self._pruned)

    def _identify(
        self,
        spec: ResourceSpec,
        namespace: str | None,
        meta: JSON,
    ) -> tuple[str, str | None]:
        """Settle the name (``generateName``) and namespace of a new object in ``meta``."""
        if not meta.get("name") and meta.get("generateName"):
            suffix = "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(5))
            meta["name"] = f"{meta['generateName']}{suffix}"
        name = meta.get("name")
        if not name or not isinstance(name, str):
            raise _error(422, "Invalid", "metadata.name: Required value: name or generateName")
        if not spec.namespaced:
            meta.pop("namespace", None)
            return name, None
        if namespace and meta.get("namespace") and meta["namespace"] != namespace:
            raise _error(
                400,
                "BadRequest",
                "the namespace of the provided object does not match the namespace sent on the request",
            )
        namespace = namespace or meta.get("namespace") or "default"
        meta["namespace"] = namespace
        self.ensure_namespace(namespace)
        return name, namespace

    def ensure_namespace(self, namespace: str) -> None:
        if self.snapshot(NAMESPACES, None, namespace) is None:
            self._create(NAMESPACES, None, {"metadata": {"name": namespace}})

    def _current(self, request: kmock.Request, spec: ResourceSpec) -> JSON:
        namespace = request.namespace if spec.namespaced else None
        obj = self.snapshot(spec.resource, namespace, request.name or "")
        if obj is None:
            raise _error(
                404,
                "NotFound",
                f'{spec.plural}.{spec.group} "{request.name}" not found',
                name=request.name,
                group=spec.group,
                kind=spec.plural,
            )
        return obj

    @staticmethod
    def _conflict(spec: ResourceSpec, name: str) -> kmock.KubernetesError:
        return _error(
            409,
            "Conflict",
            f'Operation cannot be fulfilled on {spec.plural}.{spec.group} "{name}": '
            "the object has been modified; please apply your changes to the latest "
            "version and try again",
            name=name,
            group=spec.group,
            kind=spec.plural,
        )

    def _patch(self, request: kmock.Request, spec: ResourceSpec) -> JSON:
        old = self._current(request, spec)
        content_type = request.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if content_type == JSON_PATCH:
            ops = self._body(request, list)
            try:
                candidate = jsonpatch.apply_patch(old, ops, in_place=False)
            except jsonpatch.JsonPatchTestFailed as e:
                raise _error(
                    422,
                    "Invalid",
                    f"the server rejected our request due to an error in our request: {e}",
                    name=request.name,
                ) from None
            except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException) as e:
                raise _error(422, "Invalid", f"invalid JSON patch: {e}") from None
        elif content_type in (MERGE_PATCH, STRATEGIC_MERGE_PATCH, "application/json", ""):
            patch = self._body(request, dict)
            wanted_rv = (patch.get("metadata") or {}).get("resourceVersion")
            if wanted_rv is not None and wanted_rv != old["metadata"]["resourceVersion"]:
                raise self._conflict(spec, old["metadata"]["name"])
            candidate = merge_patch(old, patch)
        else:
            raise _error(415, "UnsupportedMediaType", f"unsupported patch type {content_type!r}")
        if not isinstance(candidate, dict):
            raise _error(422, "Invalid", "the patched object is not a JSON object")
        return self._update(spec, old, candidate, request.subresource)

    def _put(self, request: kmock.Request, spec: ResourceSpec) -> JSON:
        old = self._current(request, spec)
        candidate = self._body(request, dict)
        meta = candidate.get("metadata") or {}
        if meta.get("name", request.name) != request.name:
            raise _error(400, "BadRequest", "the name of the object does not match the URL")
        wanted_rv = meta.get("resourceVersion")
        if wanted_rv is None and spec.custom:
            raise _error(
                422,
                "Invalid",
                "metadata.resourceVersion: Invalid value: 0x0: must be specified for an update",
            )
        if wanted_rv is not None and wanted_rv != old["metadata"]["resourceVersion"]:
            raise self._conflict(spec, old["metadata"]["name"])
        return self._update(spec, old, candidate, request.subresource)

    @staticmethod
    def _confine(spec: ResourceSpec, old: JSON, candidate: JSON, sub: str | None) -> JSON:
        """What of ``candidate`` a write may change: status vs. the rest, system metadata."""
        if "status" in spec.subresources and sub == "status":
            new = copy.deepcopy(old)  # only the status may change through /status
            new["status"] = copy.deepcopy(candidate.get("status"))
        else:
            new = copy.deepcopy(candidate)
            if "status" in spec.subresources:  # the main resource cannot change the status
                new["status"] = copy.deepcopy(old.get("status"))
        if new.get("status") is None:
            new.pop("status", None)
        new["apiVersion"], new["kind"] = old["apiVersion"], old["kind"]
        if not isinstance(new.get("metadata"), dict):
            new["metadata"] = {}
        for field in (
            "name",
            "namespace",
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
            "resourceVersion",
        ):
            if field in old["metadata"]:
                new["metadata"][field] = old["metadata"][field]
            else:
                new["metadata"].pop(field, None)
        return new

    def _update(self, spec: ResourceSpec, old: JSON, candidate: JSON, sub: str | None) -> JSON:
        new = self._confine(spec, old, candidate, sub)
        self._apply_schema(spec, new)
        if spec.resource == CRD_RESOURCE and sub is None:
            self._admit_crd(new)  # an update is checked as a create is
        if spec.resource == CONFIGMAPS:
            admit_config_map(new, old)
        old_meta, meta = old["metadata"], new["metadata"]
        if old_meta.get("deletionTimestamp"):
            added = set(meta.get("finalizers") or ()) - set(old_meta.get("finalizers") or ())
            if added:
                raise _error(
                    422,
                    "Invalid",
                    "metadata.finalizers: Forbidden: no new finalizers "
                    f"can be added if the object is being deleted, found new: {added}",
                )
        if new == old:
            return old  # a no-op: no new version, no event
        if spec.tracks_generation and _essence(new) != _essence(old):
            meta["generation"] = int(old_meta.get("generation", 0)) + 1
        meta["resourceVersion"] = self._next_rv()
        self._store(spec.resource, new)
        self._emit(spec.resource, "MODIFIED", new)
        if spec.resource == CRD_RESOURCE:
            self._declare_crd(new)
        if meta.get("deletionTimestamp") and not meta.get("finalizers"):
            self._remove(spec, new)
        return new

    def _delete(self, request: kmock.Request, spec: ResourceSpec) -> JSON:
        old = self._current(request, spec)
        meta = old["metadata"]
        options = json.loads(request.text) if request.text.strip() else {}
        preconditions = (options.get("preconditions") or {}) if isinstance(options, dict) else {}
        for field in ("uid", "resourceVersion"):
            if preconditions.get(field) is not None and preconditions[field] != meta.get(field):
                raise self._conflict(spec, meta["name"])
        if meta.get("deletionTimestamp"):
            return old  # already being deleted
        if not meta.get("finalizers"):
            return self._remove(spec, old)
        new = copy.deepcopy(old)
        new["metadata"]["deletionTimestamp"] = _now()
        new["metadata"]["deletionGracePeriodSeconds"] = 0
        if spec.tracks_generation:
            new["metadata"]["generation"] = int(meta.get("generation", 0)) + 1
        new["metadata"]["resourceVersion"] = self._next_rv()
        self._store(spec.resource, new)
        self._emit(spec.resource, "MODIFIED", new)
        return new

    def _remove(self, spec: ResourceSpec, obj: JSON) -> JSON:
        final = copy.deepcopy(obj)
        final["metadata"]["resourceVersion"] = self._next_rv()
        self._store(spec.resource, final)
        meta = final["metadata"]
        self.objects[spec.resource, meta.get("namespace"), meta["name"]].delete()
        self._emit(spec.resource, "DELETED", final)
        return final

    # ----- serving (fallback reactions; user reactions on the same requests win) ------------

    def _result(self, request: kmock.Request) -> JSON:
        if id(request) not in self._results:  # e.g. a PUT to a non-Kubernetes URL
            raise kmock.KubernetesEndpointNotFoundError()
        return self._results[id(request)]

    async def _serve_create(self, request: kmock.Request) -> KmockResponse:
        return KmockResponse(status=201, payload=self._result(request))

    async def _serve_update(self, request: kmock.Request) -> JSON:
        return self._result(request)

    async def _serve_put(self, request: kmock.Request) -> JSON:
        return self._result(request)

    async def _serve_delete(self, request: kmock.Request) -> JSON:
        return self._result(request)

    async def _serve_fetch(self, request: kmock.Request) -> JSON:
        spec = self._spec(request.resource)
        return self._current(request, spec)

    async def _serve_list(self, request: kmock.Request) -> JSON:
        """A list, in pages when asked (``limit`` and ``continue``, as kube-apiserver pages: by
        namespace/name; a page with more after it has ``metadata.continue``, the token of the
        next one, and ``remainingItemCount``; the last page has neither). The real server serves
        every page from the first page's snapshot; this one from the current state, with the
        first page's resource version."""
        spec = self._spec(request.resource)
        namespace = request.namespace if spec.namespaced else None
        items = sorted(self.snapshots(spec.resource, namespace), key=_list_key)
        meta: JSON = {"resourceVersion": str(self._rv)}
        limit = int(request.params.get("limit") or 0)
        token = request.params.get("continue")
        if token:
            try:
                position = json.loads(base64.b64decode(token))
                meta["resourceVersion"], start = str(position["rv"]), tuple(position["start"])
            except (ValueError, KeyError, TypeError, binascii.Error):
                raise _error(400, "BadRequest", "continue key is not valid: invalid continue token") from None
            items = [o for o in items if _list_key(o) > start]
        if limit > 0 and len(items) > limit:
            position = {"rv": int(meta["resourceVersion"]), "start": list(_list_key(items[limit - 1]))}
            meta["continue"] = base64.b64encode(json.dumps(position).encode()).decode()
            meta["remainingItemCount"] = len(items) - limit
            items = items[:limit]
        return {"apiVersion": spec.api_version, "kind": f"{spec.kind}List", "metadata": meta, "items": items}

    async def _serve_watch(self, request: kmock.Request) -> AsyncIterator[Any]:
        spec = self._spec(request.resource)
        yield b""  # start streaming: send the headers now
        params = request.params
        since = params.get("resourceVersion", "")
        initial_events = params.get("sendInitialEvents") == "true"
        namespace = request.namespace if spec.namespaced else None
        watcher = _Watcher(spec.resource, namespace, request.name, asyncio.Queue())
        # The snapshot and the registration happen atomically (no await in between).
        backlog: list[JSON]
        if since.isdigit() and int(since) > 0 and not initial_events:
            backlog = [
                copy.deepcopy(event)
                for rv, res, event in self._log
                if rv > int(since)
                and watcher.wants(
                    res, event["object"]["metadata"].get("namespace"), event["object"]["metadata"]["name"]
                )
            ]
        else:
            backlog = [
                {"type": "ADDED", "object": obj}
                for obj in self.snapshots(spec.resource, namespace)
                if request.name is None or obj["metadata"]["name"] == request.name
            ]
            if initial_events:
                backlog.append(
                    {
                        "type": "BOOKMARK",
                        "object": {
                            "apiVersion": spec.api_version,
                            "kind": spec.kind,
                            "metadata": {
                                "resourceVersion": str(self._rv),
                                "annotations": {"k8s.io/initial-events-end": "true"},
                            },
                        },
                    }
                )
        self._watchers.append(watcher)
        try:
            for event in backlog:
                yield event
            timeout = float(params["timeoutSeconds"]) if "timeoutSeconds" in params else None
            async with asyncio.timeout(timeout):
                while (change := await watcher.queue.get()) is not None:
                    yield change
        except TimeoutError:
            return  # the server-side timeout: the stream ends normally
        finally:
            self._watchers.remove(watcher)

    def close_watches(self) -> None:
        """End all open watch streams (before the server stops)."""
        for watcher in self._watchers:
            watcher.queue.put_nowait(None)


def _plural_of(specs: Iterable[ResourceSpec], ref: str) -> ResourceSpec:
    """Resolve 'mlcostpolicies', 'mcp', 'MLCostPolicy' or 'mlcostpolicies.mlcost.io'."""
    name, _, group = ref.partition(".")
    matches = [
        spec
        for spec in specs
        if (not group or spec.group == group)
        and name.lower() in {spec.plural, spec.singular, spec.kind.lower(), *spec.shortnames}
    ]
    if len(matches) != 1:
        raise LookupError(f"resource {ref!r} matches {len(matches)} declared resources")
    return matches[0]


class FakeKubeAPI:
    """The strict emulator behind an HTTP server on 127.0.0.1, in its own thread and loop.

    Use as a (sync or async) context manager, or call ``start()``/``stop()``. Writes go
    through HTTP; reads come from the emulator. Methods are thread-safe, but must not be
    called from inside the server's own loop (e.g. from a kmock reaction callback).
    """

    def __init__(
        self, *, crds: Iterable[Mapping[str, Any]] = PROJECT_CRDS, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self._crds = [copy.deepcopy(dict(crd)) for crd in crds]
        self._host = host
        self._port = port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: aiohttp.test_utils.RawTestServer | None = None
        self._session: aiohttp.ClientSession | None = None
        self._emulator: StrictKubernetesEmulator | None = None
        self.url = ""

    # ----- lifecycle -------------------------------------------------------------------------

    def start(self) -> FakeKubeAPI:
        if self._thread is not None:
            raise RuntimeError("the fake API is already started")
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fake-kube-api", daemon=True)
        self._thread.start()
        try:
            self._call_async(self._astart())
        except BaseException:
            self.stop()
            raise
        return self

    async def _astart(self) -> None:
        emulator = StrictKubernetesEmulator()
        for crd in self._crds:
            try:
                emulator.add_crd(crd)
            except kmock.KubernetesError as e:  # a CRD that a real API server would refuse
                raise KubeAPIError(e.status, {"reason": e.reason, "message": e.message}) from None
        self._emulator = emulator
        await self._emulator.__aenter__()
        self._server = aiohttp.test_utils.RawTestServer(self._emulator, host=self._host, port=self._port)
        loop = asyncio.get_running_loop()

        def request_factory(message: Any, payload: Any, protocol: Any, writer: Any, task: Any) -> Any:
            # The API server's body limit, not aiohttp's (a bigger body answers 413, as there).
            return aiohttp.web.BaseRequest(
                message, payload, protocol, writer, task, loop, client_max_size=MAX_REQUEST_BODY
            )

        await self._server.start_server(request_factory=request_factory)
        self.url = str(self._server.make_url("")).rstrip("/")
        self._session = aiohttp.ClientSession(self.url)

    def stop(self) -> None:
        if self._loop is None or self._thread is None:
            return
        try:
            if self._loop.is_running():
                self._call_async(self._astop())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=CALL_TIMEOUT)
            alive = self._thread.is_alive()
            if not alive:
                self._loop.close()
            self._loop = None
            self._thread = None
            if alive:
                raise RuntimeError("the fake API's thread did not stop")

    async def _astop(self) -> None:
        if self._session is not None:
            await self._session.close()
        if self._emulator is not None:
            self._emulator.close_watches()
        if self._server is not None:
            await self._server.close()
        if self._emulator is not None:
            await self._emulator.__aexit__(None, None, None)

    def __enter__(self) -> FakeKubeAPI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def __aenter__(self) -> FakeKubeAPI:
        return await asyncio.to_thread(self.start)

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.to_thread(self.stop)

    # ----- plumbing --------------------------------------------------------------------------

    def _call_async(self, coro: Any) -> Any:
        if self._loop is None:
            raise RuntimeError("the fake API is not started")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=CALL_TIMEOUT)

    def call(self, fn: Callable[[StrictKubernetesEmulator], T]) -> T:
        """Run ``fn(emulator)`` in the server's loop (atomically w.r.t. requests)."""
        if self._loop is None or self._emulator is None:
            raise RuntimeError("the fake API is not started")
        emulator = self._emulator
        future: concurrent.futures.Future[T] = concurrent.futures.Future()

        def run() -> None:
            try:
                future.set_result(fn(emulator))
            except BaseException as e:
                future.set_exception(e)

        self._loop.call_soon_threadsafe(run)
        return future.result(timeout=CALL_TIMEOUT)

    @property
    def emulator(self) -> StrictKubernetesEmulator:
        """The kmock emulator, e.g. for kmock reactions (fault injection) before the operator
        runs: ``kube.emulator['patch', kmock.resource(...)] << 500``. Mind the threads."""
        if self._emulator is None:
            raise RuntimeError("the fake API is not started")
        return self._emulator

    def resource(self, ref: str) -> ResourceSpec:
        """A declared resource by plural, singular, kind or short name (optionally .group)."""
        return self.call(lambda emu: _plural_of(emu.specs, ref))

    def request(
        self, method: str, path: str, body: Any = None, *, content_type: str = "application/json"
    ) -> tuple[int, Any]:
        """A raw HTTP request to the fake API; returns (status, parsed JSON body)."""

        async def go() -> tuple[int, Any]:
            assert self._session is not None
            data = None if body is None else json.dumps(body)
            headers = {"Content-Type": content_type} if body is not None else {}
            async with self._session.request(method, path, data=data, headers=headers) as rsp:
                text = await rsp.text()
                try:
                    return rsp.status, json.loads(text) if text else None
                except ValueError:
                    return rsp.status, text

        result: tuple[int, Any] = self._call_async(go())
        return result

    def _checked(
        self, method: str, path: str, body: Any = None, *, content_type: str = "application/json"
    ) -> JSON:
        status, data = self.request(method, path, body, content_type=content_type)
        if not 200 <= status < 300:
            raise KubeAPIError(status, data)
        return dict(data)

    def _spec_of(self, obj: Mapping[str, Any]) -> ResourceSpec:
        api_version: str = obj["apiVersion"]
        group, _, version = api_version.rpartition("/")
        kind: str = obj["kind"]
        specs = self.call(lambda emu: emu.specs)
        for spec in specs:
            if (spec.group, spec.version, spec.kind) == (group, version, kind):
                return spec
        raise LookupError(f"no declared resource for {api_version} {kind}")

    # ----- the test API: writes (through HTTP) ------------------------------------------------

    def create(self, obj: Mapping[str, Any]) -> JSON:
        """POST an object (its apiVersion/kind pick the resource); returns the stored object."""
        spec = self._spec_of(obj)
        namespace = (obj.get("metadata") or {}).get("namespace") or "default"
        path = spec.url(namespace if spec.namespaced else None)
        return self._checked("POST", path, dict(obj))

    def ensure_namespace(self, name: str) -> None:
        """Create the namespace unless it exists (objects created in it do so implicitly)."""
        self.call(lambda emu: emu.ensure_namespace(name))

    def patch(
        self,
        plural: str,
        namespace: str | None,
        name: str,
        patch: Any,
        *,
        subresource: str = "",
        content_type: str = MERGE_PATCH,
    ) -> JSON:
        """PATCH (merge patch by default; a list with ``content_type=JSON_PATCH``)."""
        spec = self.resource(plural)
        path = spec.url(namespace if spec.namespaced else None, name, subresource)
        return self._checked("PATCH", path, patch, content_type=content_type)

    def patch_spec(self, plural: str, namespace: str | None, name: str, changes: Mapping[str, Any]) -> JSON:
        """Merge-patch ``spec`` (as ``kubectl patch --type=merge -p '{"spec": ...}'``)."""
        return self.patch(plural, namespace, name, {"spec": dict(changes)})

    def patch_status(self, plural: str, namespace: str | None, name: str, changes: Mapping[str, Any]) -> JSON:
        """Merge-patch ``status`` through the status subresource."""
        return self.patch(plural, namespace, name, {"status": dict(changes)}, subresource="status")

    def replace(self, obj: Mapping[str, Any], *, subresource: str = "") -> JSON:
        """PUT the whole object (include ``metadata.resourceVersion`` from a ``get``)."""
        spec = self._spec_of(obj)
        meta = obj["metadata"]
        path = spec.url(meta.get("namespace") if spec.namespaced else None, meta["name"], subresource)
        return self._checked("PUT", path, dict(obj))

    def delete(self, plural: str, namespace: str | None, name: str) -> JSON:
        """DELETE; with finalizers the object stays (with deletionTimestamp) until released."""
        spec = self.resource(plural)
        return self._checked("DELETE", spec.url(namespace if spec.namespaced else None, name))

    # ----- the test API: reads (directly from the emulator) -----------------------------------

    def get(self, plural: str, namespace: str | None, name: str) -> JSON | None:
        """The current object, or None if it does not exist."""
        spec = self.resource(plural)
        ns = namespace if spec.namespaced else None
        return self.call(lambda emu: emu.snapshot(spec.resource, ns, name))

    def list_objects(self, plural: str, namespace: str | None = None) -> list[JSON]:
        """All current objects of a resource (in one namespace or in all)."""
        spec = self.resource(plural)
        return self.call(lambda emu: emu.snapshots(spec.resource, namespace))

    def history(self, plural: str, namespace: str | None, name: str) -> list[JSON | None]:
        """Every stored version of an object (None marks a deletion), oldest first."""
        spec = self.resource(plural)
        key = (spec.resource, namespace if spec.namespaced else None, name)
        return self.call(
            lambda emu: [
                None if version is None else copy.deepcopy(dict(version.raw))
                for version in (emu.objects[key].history if key in emu.objects else [])
            ]
        )

    def events(
        self, *, name: str | None = None, reason: str | None = None, namespace: str | None = None
    ) -> list[JSON]:
        """Posted v1 Events (oldest first), optionally only those about an object name or with
        a reason. Each is the full Event: ``reason``, ``message``, ``type``,
        ``involvedObject`` (kind, name, namespace, uid...), timestamps, source."""
        events = self.call(lambda emu: emu.snapshots(EVENTS, namespace))
        events.sort(key=lambda e: int(e["metadata"]["resourceVersion"]))
        return [
            e
            for e in events
            if (name is None or e.get("involvedObject", {}).get("name") == name)
            and (reason is None or e.get("reason") == reason)
        ]

    def pruned(self) -> list[tuple[str, str | None, str, tuple[str, ...]]]:
        """Every write whose unknown fields the schema pruned: (plural, namespace, name, paths).

        On a real cluster these fields vanish silently; a test can assert that the operator
        wrote none (``assert kube.pruned() == []``).
        """
        return self.call(lambda emu: emu.pruned)

    def requests(self) -> list[RecordedRequest]:
        """Every request that reached the fake, in arrival order."""
        return self.call(lambda emu: emu.records)

    def kubeconfig(self, path: Path) -> Path:
        """Write a kubeconfig at `path` whose current context is this fake API (a bearer token,
        which the fake does not check), as a developer's machine would have one."""
        path.write_text(
            "apiVersion: v1\nkind: Config\n"
            f'clusters: [{{name: fake, cluster: {{server: "{self.url}"}}}}]\n'
            "users: [{name: tester, user: {token: test-token}}]\n"
            "contexts: [{name: fake, context: {cluster: fake, user: tester}}]\n"
            "current-context: fake\n"
        )
        return path

    def server_errors(self) -> list[Exception]:
        """Errors inside the fake itself (5xx, unsupported requests), not 4xx answers."""

        def pick(emu: StrictKubernetesEmulator) -> list[Exception]:
            return [e for e in emu.errors if not (isinstance(e, kmock.KubernetesError) and e.status < 500)]

        return self.call(pick)

    def watches(self, plural: str | None = None) -> list[RecordedRequest]:
        """The WATCH requests that reached the fake (optionally of one resource)."""
        return [r for r in self.requests() if r.action == "WATCH" and (plural is None or r.plural == plural)]

    # ----- waiting ----------------------------------------------------------------------------

    async def wait_for(
        self,
        plural: str,
        namespace: str | None,
        name: str,
        predicate: Callable[[JSON | None], bool] = lambda obj: obj is not None,
        *,
        timeout: float = 5.0,
        interval: float = 0.02,
    ) -> JSON | None:
        """Poll an object until ``predicate(obj_or_None)`` holds; return that state.

        Raises TimeoutError (with the last seen state) after ``timeout`` seconds.
        ``predicate=lambda o: o is None`` waits for the object to disappear.
        """
        last: list[JSON | None] = [None]

        def check() -> bool:
            last[0] = self.get(plural, namespace, name)
            return predicate(last[0])

        try:
            await self.wait_until(check, timeout=timeout, interval=interval)
        except TimeoutError:
            raise TimeoutError(
                f"{plural} {namespace}/{name} did not match within {timeout}s; last seen: "
                f"{json.dumps(last[0], indent=1, sort_keys=True)}"
            ) from None
        return last[0]

    @staticmethod
    async def wait_until(condition: Callable[[], T], *, timeout: float = 5.0, interval: float = 0.02) -> T:
        """Poll ``condition()`` until it returns a truthy value; return that value."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            result = condition()
            if result:
                return result
            if asyncio.get_running_loop().time() >= deadline:
                raise TimeoutError(f"condition not met within {timeout}s")
            await asyncio.sleep(interval)
