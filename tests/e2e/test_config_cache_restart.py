"""`mlcost run` keeps described endpoint configs in a ConfigMap: a restart describes none again."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from mlcost.embedded.server import EmbeddedAws
from tests.conftest import client_of
from tests.e2e.test_mlcost_run import PEERING, aws, operator_env, start, stop
from tests.kube.fake_api import FakeKubeAPI
from tests.kube.harness import declare_peering
from tests.operator.test_policy_operator import NAME, NS, PLURAL, POLICY, ready_for
from tests.reconcile.test_governance import endpoint

__all__ = ["aws"]  # fixture

OPERATOR_NAMESPACE = "mlcost-system"
ENDPOINTS = 3


def _policy() -> dict[str, Any]:
    policy = copy.deepcopy(POLICY)
    policy["spec"] = {
        "scope": {"tags": {"team": "fraud"}},
        "endpoints": {"allowedInstanceTypes": ["ml.c5.large"]},
    }
    return policy


def _calls(aws: EmbeddedAws, operation: str) -> int:
    return aws.calls()[("sagemaker", operation)]


async def test_a_restarted_operator_describes_no_endpoint_config_again(
    kube: FakeKubeAPI, aws: EmbeddedAws, tmp_path: Path
) -> None:
    declare_peering(kube, PEERING)
    sagemaker = client_of(aws, "sagemaker")
    for i in range(ENDPOINTS):
        endpoint(sagemaker, f"fraud-ep-{i}")
    local_cache = tmp_path / "local-cache"
    env = operator_env(
        kube,
        aws.endpoint_url,
        tmp_path,
        MLCOST_OPERATOR_NAMESPACE=OPERATOR_NAMESPACE,
        MLCOST_CACHE_DIR=str(local_cache),
    )
    aws.reset_calls()

    process = await start(env)
    try:
        await kube.wait_until(lambda: bool(kube.watches(PLURAL)), timeout=30)
        kube.create(_policy())
        await kube.wait_for(PLURAL, NS, NAME, ready_for(1), timeout=30)
        await kube.wait_until(lambda: bool(kube.list_objects("configmaps", OPERATOR_NAMESPACE)), timeout=10)
    finally:
        first_output = await stop(process)
    first_describes = _calls(aws, "DescribeEndpointConfig")
    aws.reset_calls()

    process = await start(env)
    try:
        # The restarted operator resumes the policy: it reads the inventory again.
        await kube.wait_until(lambda: _calls(aws, "Search") >= 2, timeout=30)
        await kube.wait_for(PLURAL, NS, NAME, ready_for(1), timeout=30)
    finally:
        second_output = await stop(process)

    assert process.returncode == 0, second_output[-3000:]
    assert first_describes == ENDPOINTS, first_output[-3000:]
    assert _calls(aws, "DescribeEndpointConfig") == 0, second_output[-3000:]
    (stored,) = kube.list_objects("configmaps", OPERATOR_NAMESPACE)
    assert stored["metadata"]["name"].startswith("mlcost-endpoint-configs-123456789012-us-east-1")
    assert set(stored["binaryData"]) == {"configs.json.gz"}
    obj = kube.get(PLURAL, NS, NAME)
    assert obj and obj["status"]["compliance"]["violations"] == ENDPOINTS  # the types, from the cache
    assert not local_cache.exists()  # in a cluster the ConfigMap, not a directory
