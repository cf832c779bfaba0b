"""Fixtures: a fake Kubernetes API per test, and a factory that runs an operator module on it.

Usage in a test of the real operator::

    async def test_policy_becomes_ready(kube, run_operator):
        async with run_operator("mlcost.handlers") as op:
            kube.create(policy_manifest)
            await kube.wait_for("mlcostpolicies", "team-a", "default", is_ready)
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from typing import Any

import pytest

from tests.kube.fake_api import FakeKubeAPI
from tests.kube.harness import OperatorRun, RunOperator
from tests.kube.harness import run_operator as _run_operator


@pytest.fixture
async def kube() -> AsyncIterator[FakeKubeAPI]:
    """A fresh fake Kubernetes API (with the project's CRDs) on a free loopback port."""
    async with FakeKubeAPI() as api:
        yield api
        errors = api.server_errors()
    assert not errors, f"the fake API failed internally: {errors!r}"


@pytest.fixture
def run_operator(kube: FakeKubeAPI) -> RunOperator:
    """``async with run_operator("module.path", **options) as op:`` runs the real kopf operator
    (``kopf run --standalone --all-namespaces -m module.path``) against ``kube``; see
    ``tests.kube.harness.run_operator`` for the options."""

    def start(module: str, **options: Any) -> AbstractAsyncContextManager[OperatorRun]:
        return _run_operator(kube, module, **options)

    return start
