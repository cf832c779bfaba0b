"""The requests of the resync scheduler, made with the kubernetes client outside kopf: read an
object when its resync is due, merge-patch its status, post its Events, read the peering.

kopf makes these requests itself for its own handlers; a resync runs outside them (see
handlers/resync.py), so it makes the same ones, with the same bodies, over its own client.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from mlcost.constants import GROUP, VERSION
from mlcost.handlers.kube_client import TIMEOUT, api_client, api_status
from mlcost.handlers.peering import CLUSTER_PLURAL, NAMESPACED_PLURAL
from mlcost.handlers.peering import GROUP as PEERING_GROUP
from mlcost.handlers.peering import VERSION as PEERING_VERSION
from mlcost.logs import summarise
from mlcost.reconcile.results import Event

# The API server refuses longer Event messages; kopf cuts them the same way (middle out).
MAX_EVENT_MESSAGE = 1024
REPORTING_COMPONENT = "mlcost-operator"

log = logging.getLogger("mlcost.resync")


class KubeError(Exception):
    """A request the API server refused or could not be sent, in one line."""


class KubeObjects:
    """Synchronous calls (run them in a thread); the client is made on first use."""

    def __init__(self) -> None:
        self._api: Any = None

    def _call(self, what: str, call: Any) -> Any:
        """`call(api_client)`, its 404 as None, anything else as one KubeError."""
        from kubernetes.client.exceptions import ApiException

        try:
            if self._api is None:
                self._api = api_client()
            return call(self._api)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise KubeError(f"{what}: {api_status(exc)[0]}") from exc
        except Exception as exc:  # unreachable, no credentials, a proxy's page...
            raise KubeError(f"{what}: {summarise(str(exc), 300)}") from exc

    def get(self, plural: str, namespace: str, name: str) -> dict[str, Any] | None:
        """The object as the API server has it now; None when it is gone."""
        from kubernetes import client

        found = self._call(
            f"read {plural} {namespace}/{name}",
            lambda api: client.CustomObjectsApi(api).get_namespaced_custom_object(
                GROUP, VERSION, namespace, plural, name, _request_timeout=TIMEOUT
            ),
        )
        return dict(found) if found is not None else None

    def patch_status(self, plural: str, namespace: str, name: str, status: dict[str, Any]) -> bool:
        """Merge-patch the status subresource, as kopf does; False when the object is gone."""
        from kubernetes import client

        done = self._call(
            f"patch the status of {plural} {namespace}/{name}",
            lambda api: client.CustomObjectsApi(api).patch_namespaced_custom_object_status(
                GROUP, VERSION, namespace, plural, name, {"status": status}, _request_timeout=TIMEOUT
            ),
        )
        return done is not None

    def post_events(self, involved: dict[str, Any], events: list[Event]) -> None:
        """Post core/v1 Events about `involved` (apiVersion, kind, namespace, name, uid) the way
        kopf posts its own; a refused Event is logged, never raised (it must not undo a sweep)."""
        from kubernetes import client

        namespace = involved["namespace"]
        for event in events:
            moment = datetime.now(UTC)
            # eventTime is a MicroTime (exactly six fraction digits), the others metav1.Time.
            micro, now = moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), moment.strftime("%Y-%m-%dT%H:%M:%SZ")
            body = {
                "apiVersion": "v1",
                "kind": "Event",
                "metadata": {"namespace": namespace, "generateName": "mlcost-event-"},
                "type": event.type.value,
                "reason": event.reason,
                "message": _cut(event.message),
                "action": "Resync",
                "reportingComponent": REPORTING_COMPONENT,
                "reportingInstance": REPORTING_COMPONENT,
                "source": {"component": REPORTING_COMPONENT},
                "involvedObject": involved,
                "firstTimestamp": now,
                "lastTimestamp": now,
                "eventTime": micro,
                "count": 1,
            }
            try:
                self._call(
                    f"post the Event {event.reason}",
                    lambda api, body=body: client.CoreV1Api(api).create_namespaced_event(
                        namespace, body, _request_timeout=TIMEOUT
                    ),
                )
            except KubeError as exc:
                log.warning(f"{namespace}/{involved['name']}: {exc}; the Event is lost, the status has it")

    def peers(self, name: str, namespace: str | None) -> dict[str, Any] | None:
        """The status of the peering object kopf keeps (peer id -> priority, lifetime, lastseen);
        None when it does not exist."""
        from kubernetes import client

        if namespace is None:
            found = self._call(
                f"read the ClusterKopfPeering {name}",
                lambda api: client.CustomObjectsApi(api).get_cluster_custom_object(
                    PEERING_GROUP, PEERING_VERSION, CLUSTER_PLURAL, name, _request_timeout=TIMEOUT
                ),
            )
        else:
            found = self._call(
                f"read the KopfPeering {namespace}/{name}",
                lambda api: client.CustomObjectsApi(api).get_namespaced_custom_object(
                    PEERING_GROUP,
                    PEERING_VERSION,
                    namespace,
                    NAMESPACED_PLURAL,
                    name,
                    _request_timeout=TIMEOUT,
                ),
            )
        return dict(found.get("status") or {}) if found is not None else None


def _cut(message: str) -> str:
    if len(message) <= MAX_EVENT_MESSAGE:
        return message
    half = (MAX_EVENT_MESSAGE - 3) // 2
    return f"{message[:half]}...{message[-(MAX_EVENT_MESSAGE - 3 - half) :]}"
