"""Fixtures: a fake Kubernetes API per test, and a factory that runs an operator module on it.

Usage in a test of the real operator::

    async def test_policy_becomes_ready(kube, run_operator):
        async with run_operator("mlcost.handlers") as op:
            kube.create(policy_manifest)
            await kube.wait_for("mlcostpolicies", "team-a", "default", is_ready)
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractAsyncContextManager
from typing import Any

import pytest

from mlcost.embedded.server import EmbeddedAws
from tests.kube.fake_api import FakeKubeAPI
from tests.kube.harness import OperatorRun, RunOperator
from tests.kube.harness import run_operator as _run_operator


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "writes_unknown_fields: the test writes fields the schema lacks on purpose (pruning)"
    )


@pytest.fixture
async def kube(request: pytest.FixtureRequest) -> AsyncIterator[FakeKubeAPI]:
    """A fresh fake Kubernetes API (with the project's CRDs) on a free loopback port."""
    on_purpose = request.node.get_closest_marker("writes_unknown_fields") is not None
    async with FakeKubeAPI() as api:
        yield api
        errors = api.server_errors()
        pruned = api.pruned()
    assert not errors, f"the fake API failed internally: {errors!r}"
    # A real API server drops what its schema lacks, silently: a field we write must be in the CRD.
    assert on_purpose or not pruned, f"the API server would prune fields the CRDs lack: {pruned!r}"


@pytest.fixture
def run_operator(kube: FakeKubeAPI) -> RunOperator:
    """``async with run_operator("module.path", **options) as op:`` runs the real kopf operator
    (``kopf run --standalone --all-namespaces -m module.path``) against ``kube``; see
    ``tests.kube.harness.run_operator`` for the options."""

    def start(module: str, **options: Any) -> AbstractAsyncContextManager[OperatorRun]:
        return _run_operator(kube, module, **options)

    return start


@pytest.fixture
def aws(embedded_aws: EmbeddedAws, monkeypatch: pytest.MonkeyPatch) -> Iterator[EmbeddedAws]:
    """The operator's settings point it at the embedded AWS; its checks run every 0.2 s."""
    embedded_aws.reset()
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
        "MLCOST_AWS_ENDPOINT_URL": embedded_aws.endpoint_url,
        "MLCOST_METRICS_PORT": "0",
        "MLCOST_TICK": "200ms",
        "MLCOST_RETRY_INTERVAL": "1s",
        "MLCOST_AWS_MAX_ATTEMPTS": "2",
    }.items():
        monkeypatch.setenv(key, value)
    yield embedded_aws
