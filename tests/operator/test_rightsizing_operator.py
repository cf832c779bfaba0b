"""The real operator with EndpointRightsizing objects: recommend, roll out through the timer loop
without blocking, and pick up after a restart between creating a config and updating."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

from mlcost.aws.endpoints import EndpointsClient, change_hash, config_name
from mlcost.embedded.server import EmbeddedAws
from tests.conftest import client_of
from tests.kube.fake_api import FakeKubeAPI
from tests.kube.harness import RunOperator
from tests.operator.test_policy_operator import MODULE, condition
from tests.reconcile.test_rightsizing import CONFIG, ENDPOINT, OWNER, sagemaker, scorer

__all__ = ["sagemaker", "scorer"]  # fixtures

PLURAL = "endpointrightsizings"
NS, NAME = "team-fraud", "fraud-scorer"
RIGHTSIZING: dict[str, Any] = {
    "apiVersion": "mlcost.io/v1alpha1",
    "kind": "EndpointRightsizing",
    "metadata": {"name": NAME, "namespace": NS},
    "spec": {
        "endpointName": ENDPOINT,
        "mode": "Apply",
        "candidates": {"instanceTypes": ["ml.c5.xlarge", "ml.c5.2xlarge"]},
    },
}


def has_recommendation(obj: dict[str, Any] | None) -> bool:
    return bool(obj and obj.get("status", {}).get("recommendation"))


def rollout_phase(phase: str) -> Any:
    def check(obj: dict[str, Any] | None) -> bool:
        return bool(obj and (obj.get("status", {}).get("rollout") or {}).get("phase") == phase)

    return check


async def test_apply_rolls_out_through_the_operator_loop(
    kube: FakeKubeAPI, run_operator: RunOperator, aws: EmbeddedAws, scorer: None
) -> None:
    sagemaker = client_of(aws, "sagemaker")
    async with run_operator(MODULE):
        kube.create(copy.deepcopy(RIGHTSIZING))
        obj = await kube.wait_for(PLURAL, NS, NAME, rollout_phase("Succeeded"), timeout=20)
        await kube.wait_until(lambda: bool(kube.events(name=NAME, reason="RolloutSucceeded")), timeout=10)

    assert obj["status"]["recommendation"]["instanceType"] == "ml.c5.xlarge"
    assert obj["status"]["lastApplied"]["fromEndpointConfig"] == CONFIG
    new = obj["status"]["lastApplied"]["toEndpointConfig"]
    assert sagemaker.describe_endpoint(EndpointName=ENDPOINT)["EndpointConfigName"] == new
    assert condition(obj, "Ready")["status"] == "True"
    assert kube.events(name=NAME, reason="RolloutStarted")


async def test_restart_between_config_and_update_reuses_the_config(
    kube: FakeKubeAPI, run_operator: RunOperator, aws: EmbeddedAws, scorer: None
) -> None:
    sagemaker = client_of(aws, "sagemaker")
    closed = copy.deepcopy(RIGHTSIZING)
    other_day = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")[(datetime.now(UTC).weekday() + 3) % 7]
    closed["spec"]["apply"] = {"maintenanceWindow": f"{other_day} 02:00-04:00", "timezone": "UTC"}
    async with run_operator(MODULE):
        kube.create(closed)
        obj = await kube.wait_for(
            PLURAL, NS, NAME, lambda o: bool(o and o.get("status", {}).get("recommendation")), timeout=15
        )
    assert "maintenance window" in condition(obj, "Ready")["message"]

    # What a crash right after CreateEndpointConfig leaves behind: our config, never deployed.
    endpoints = EndpointsClient(sagemaker)
    source = endpoints.describe_config(CONFIG)
    assert source is not None
    changes = {"AllTraffic": ("ml.c5.xlarge", 1)}
    left_over = config_name(ENDPOINT, change_hash(CONFIG, changes))
    endpoints.create_config_copy(source, left_over, changes, OWNER)
    aws.reset_calls()

    kube.patch_spec(PLURAL, NS, NAME, {"apply": None})  # the window opens
    async with run_operator(MODULE):  # the restarted operator
        await kube.wait_for(PLURAL, NS, NAME, rollout_phase("Succeeded"), timeout=20)

    assert sagemaker.describe_endpoint(EndpointName=ENDPOINT)["EndpointConfigName"] == left_over
    assert aws.calls()[("sagemaker", "CreateEndpointConfig")] == 0  # reused, not duplicated
    names = sorted(c["EndpointConfigName"] for c in sagemaker.list_endpoint_configs()["EndpointConfigs"])
    assert names == sorted([CONFIG, left_over])
