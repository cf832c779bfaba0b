"""The synchronous kubernetes client, for the few calls the operator makes outside kopf (its peering
object at startup, its endpoint-config ConfigMaps): found as kopf finds its cluster, with
timeouts and no retries."""

from __future__ import annotations

import json
import os
from typing import Any

from mlcost.logs import summarise

# (connect, read) seconds per request, no retry: a pod on an unreachable API server says so
# within seconds instead of hanging in its startup (kopf retries by itself afterwards), and
# urllib3 logs no WARNING per retry besides ours.
TIMEOUT = (5.0, 10.0)


def api_client() -> Any:
    """A kubernetes ApiClient found as kopf's own login finds it: the pod's service account in a
    cluster, else the kubeconfig (KUBECONFIG, or ~/.kube/config) and its current context."""
    from kubernetes import client
    from kubernetes import config as kubeconfig

    configuration = client.Configuration()
    try:
        kubeconfig.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    except kubeconfig.ConfigException:
        # KUBECONFIG as it is now: the client's own default was read when it was imported.
        kubeconfig.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=os.environ.get("KUBECONFIG") or None, client_configuration=configuration
        )
    configuration.retries = False
    return client.ApiClient(configuration)


def api_status(exc: Any) -> tuple[str, dict[str, Any]]:
    """'403 Forbidden: <the API server's message>' and the Status's details."""
    message, details = "", {}
    try:
        status = json.loads(exc.body or "{}")
        message, details = str(status.get("message") or ""), dict(status.get("details") or {})
    except (TypeError, ValueError, AttributeError):  # not a Status: a proxy's page, say
        message = str(exc.body or "")
    text = f"{exc.status} {exc.reason}" + (f": {summarise(message, 300)}" if message else "")
    return text, details
